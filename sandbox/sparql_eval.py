"""Evaluates parsed SPARQL over a Graph, with the Wikidata label and MWAPI services, and writes
the results as SPARQL JSON, XML, CSV or TSV."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sandbox.matching import content_words, fold, words
from sandbox.rdf import (
    RDFS_LABEL,
    SCHEMA_DESCRIPTION,
    SKOS_ALT_LABEL,
    WD,
    XSD,
    BNode,
    Graph,
    Iri,
    Literal,
    Term,
)
from sandbox.sparql_parser import (
    Aggregate,
    Bind,
    Element,
    Expr,
    ExprBinary,
    ExprCall,
    ExprConst,
    ExprExists,
    ExprIn,
    ExprUnary,
    ExprVar,
    Filter,
    Group,
    MinusPattern,
    Node,
    OptionalPattern,
    Path,
    PathAlternative,
    PathInverse,
    PathLink,
    PathRepeat,
    PathSequence,
    Query,
    ServicePattern,
    SubSelect,
    TriplePattern,
    UnionPattern,
    Values,
    Var,
)

Solution = dict[str, Term]
WIKIBASE = "http://wikiba.se/ontology#"
BD = "http://www.bigdata.com/rdf#"
MWAPI = "https://www.mediawiki.org/ontology#API/"
HINT = "http://www.bigdata.com/queryHints#"
_NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long")}
MAX_ROWS = 100_000  # a runaway cross product is cut here rather than exhausting memory


class EvalError(Exception):
    """An expression error: in FILTER it rejects the row, in BIND it leaves the variable unbound."""


class QueryTooLarge(Exception):
    """The query produced more intermediate rows than the sandbox evaluates."""


def _merge(left: Solution, right: Solution) -> Solution | None:
    merged = dict(left)
    for name, value in right.items():
        have = merged.get(name)
        if have is None:
            merged[name] = value
        elif have != value:
            return None
    return merged


def _bool(value: bool) -> Literal:
    return Literal("true" if value else "false", datatype=XSD + "boolean")


def _number(value: Decimal | float | int) -> Literal:
    if isinstance(value, int):
        return Literal(str(value), datatype=XSD + "integer")
    if isinstance(value, float):
        return Literal(repr(value), datatype=XSD + "double")
    return Literal(str(value), datatype=XSD + "decimal")


def _as_number(term: Term) -> Decimal:
    if isinstance(term, Literal) and (term.datatype in _NUMERIC or term.datatype is None):
        try:
            return Decimal(term.value)
        except InvalidOperation:
            pass
    raise EvalError("not a number")


def _as_string(term: Term) -> str:
    if isinstance(term, Literal):
        return term.value
    raise EvalError("not a literal")


def _ebv(term: Term) -> bool:
    """SPARQL's effective boolean value."""
    if not isinstance(term, Literal):
        raise EvalError("no boolean value for an IRI")
    if term.datatype == XSD + "boolean":
        return term.value == "true"
    if term.datatype in _NUMERIC:
        return _as_number(term) != 0
    if term.datatype is None or term.datatype == XSD + "string":
        return term.value != ""
    raise EvalError("no boolean value")


def _compare(op: str, left: Term, right: Term) -> bool:
    if op in {"=", "!="}:
        try:
            same = _as_number(left) == _as_number(right)
        except EvalError:
            same = left == right or (
                isinstance(left, Literal)
                and isinstance(right, Literal)
                and left.value == right.value
                and left.lang == right.lang
                and {left.datatype, right.datatype} <= {None, XSD + "string"}
            )
        return same if op == "=" else not same
    try:
        a: Any = _as_number(left)
        b: Any = _as_number(right)
    except EvalError:
        a, b = _as_string(left), _as_string(right)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    return bool(a <= b) if op == "<=" else bool(a >= b)


def _string_like(value: str, model: Term) -> Literal:
    """A string result keeps the language tag of its first argument, as SPARQL specifies."""
    return Literal(value, lang=model.lang) if isinstance(model, Literal) else Literal(value)


_DATE = re.compile(r"^(-?\d{1,})-(\d{2})-(\d{2})")


class Evaluator:
    def __init__(self, graph: Graph, query: Query) -> None:
        self.graph = graph
        self.query = query
        self.label_vars = [
            name for name in query.variables if name.endswith(("Label", "Description", "AltLabel"))
        ]

    # -- entry --
    def select(self) -> tuple[list[str], list[Solution]]:
        return self._run_select(self.query)

    def ask(self) -> bool:
        return bool(self._eval_group(self.query.where, [{}]))

    def _run_select(self, query: Query) -> tuple[list[str], list[Solution]]:
        where = query.where
        if query.values is not None:
            where = Group((query.values, *where.elements))
        rows = self._eval_group(where, [{}])
        grouped = bool(query.group_by) or any(
            p.expr is not None and _has_aggregate(p.expr) for p in query.projection or []
        )
        if grouped:
            rows = self._group(query, rows)
        elif query.projection is not None:
            for projection in query.projection:
                if projection.expr is not None:
                    for row in rows:
                        self._bind(row, projection.var, projection.expr)
        if query.order_by:
            for expr, descending in reversed(query.order_by):
                rows.sort(key=self._sorter(expr), reverse=descending)
        if query.projection is None:
            names = [n for n in query.variables if not n.startswith("_:")]
        else:
            names = [p.var for p in query.projection]
        projected = [{n: row[n] for n in names if n in row} for row in rows]
        if query.distinct:
            unique: dict[tuple[tuple[str, Term], ...], Solution] = {}
            for row in projected:
                unique.setdefault(tuple(sorted(row.items(), key=lambda kv: kv[0])), row)
            projected = list(unique.values())
        end = None if query.limit is None else query.offset + query.limit
        return names, projected[query.offset : end]

    def _sorter(self, expr: Expr) -> Callable[[Solution], tuple[int, Any]]:
        return lambda row: self._sort_key(expr, row)

    def _sort_key(self, expr: Expr, row: Solution) -> tuple[int, Any]:
        try:
            term = self._expr(expr, row)
        except EvalError:
            return (0, "")
        try:
            return (1, float(_as_number(term)))
        except EvalError:
            return (2, term.value)

    # -- groups and elements --
    def _eval_group(self, group: Group, inputs: list[Solution]) -> list[Solution]:
        solutions = inputs
        filters: list[Filter] = []
        label_services: list[ServicePattern] = []
        elements = sorted(group.elements, key=lambda el: 0 if isinstance(el, Values) else 1)
        for element in elements:
            if isinstance(element, Filter):
                filters.append(element)
            elif isinstance(element, ServicePattern) and element.iri.value == WIKIBASE + "label":
                label_services.append(element)  # WDQS runs the label service last
            else:
                solutions = self._element(element, solutions)
            if len(solutions) > MAX_ROWS:
                raise QueryTooLarge
        for service in label_services:
            solutions = self._labels(service, solutions)
        for flt in filters:
            solutions = [row for row in solutions if self._test(flt.expr, row)]
        return solutions

    def _element(self, element: Element, solutions: list[Solution]) -> list[Solution]:
        if isinstance(element, TriplePattern):
            return [out for row in solutions for out in self._match(element, row)]
        if isinstance(element, Group):
            return self._eval_group(element, solutions)
        if isinstance(element, OptionalPattern):
            result: list[Solution] = []
            for row in solutions:
                extended = self._eval_group(element.group, [row])
                result.extend(extended or [row])
            return result
        if isinstance(element, UnionPattern):
            return [
                out
                for row in solutions
                for branch in element.branches
                for out in self._eval_group(branch, [row])
            ]
        if isinstance(element, MinusPattern):
            return [row for row in solutions if not self._minus_hits(element.group, row)]
        if isinstance(element, Bind):
            for row in solutions:
                self._bind(row, element.var, element.expr)
            return solutions
        if isinstance(element, Values):
            return self._join_values(element, solutions)
        if isinstance(element, ServicePattern):
            return self._service(element, solutions)
        if isinstance(element, SubSelect):
            _, rows = self._run_select(element.query)
            return [m for row in solutions for sub in rows if (m := _merge(row, sub)) is not None]
        raise EvalError(f"unsupported element {type(element).__name__}")

    def _minus_hits(self, group: Group, row: Solution) -> bool:
        # MINUS removes a row only when an answer shares a variable with it and agrees there.
        for answer in self._eval_group(group, [{}]):
            shared = set(answer) & set(row)
            if shared and all(answer[n] == row[n] for n in shared):
                return True
        return False

    def _join_values(self, values: Values, solutions: list[Solution]) -> list[Solution]:
        result = []
        for row in solutions:
            for data in values.rows:
                binding = {n: v for n, v in zip(values.vars, data, strict=True) if v is not None}
                merged = _merge(row, binding)
                if merged is not None:
                    result.append(merged)
        return result

    def _bind(self, row: Solution, name: str, expr: Expr) -> None:
        with contextlib.suppress(EvalError):  # an error leaves the variable unbound
            row[name] = self._expr(expr, row)

    def _test(self, expr: Expr, row: Solution) -> bool:
        try:
            return _ebv(self._expr(expr, row))
        except EvalError:
            return False

    # -- triple patterns and paths --
    def _resolve(self, node: Node, row: Solution) -> Term | None:
        if isinstance(node, Var):
            return row.get(node.name)
        return node

    def _match(self, pattern: TriplePattern, row: Solution) -> Iterator[Solution]:
        subject = self._resolve(pattern.subject, row)
        obj = self._resolve(pattern.object, row)
        if isinstance(pattern.subject, Iri) and pattern.subject.value.startswith(HINT):
            yield row  # query hints change nothing here
            return
        if isinstance(pattern.predicate, Var):
            yield from self._match_var_predicate(pattern, row, subject, obj)
            return
        for s, o in self._path(pattern.predicate, subject, obj):
            out = dict(row)
            if isinstance(pattern.subject, Var):
                out[pattern.subject.name] = s
            if isinstance(pattern.object, Var):
                if pattern.object.name in out and out[pattern.object.name] != o:
                    continue  # ?x p ?x
                out[pattern.object.name] = o
            yield out

    def _match_var_predicate(
        self, pattern: TriplePattern, row: Solution, subject: Term | None, obj: Term | None
    ) -> Iterator[Solution]:
        assert isinstance(pattern.predicate, Var)
        candidates: Iterable[Term] = [subject] if subject is not None else list(self.graph.nodes)
        for s in candidates:
            for p, objects in self.graph.predicates_of(s):
                for o in objects:
                    if obj is not None and o != obj:
                        continue
                    binding: Solution = {pattern.predicate.name: p}
                    if isinstance(pattern.subject, Var):
                        binding[pattern.subject.name] = s
                    if isinstance(pattern.object, Var):
                        binding[pattern.object.name] = o
                    merged = _merge(row, binding)
                    if merged is not None:
                        yield merged

    def _path(self, path: Path, s: Term | None, o: Term | None) -> Iterator[tuple[Term, Term]]:
        if isinstance(path, PathLink):
            if s is not None:
                yield from ((s, x) for x in self.graph.objects(s, path.iri) if o is None or x == o)
            elif o is not None:
                yield from ((x, o) for x in self.graph.subjects(path.iri, o))
            else:
                yield from self.graph.pairs(path.iri)
        elif isinstance(path, PathInverse):
            yield from ((a, b) for b, a in self._path(path.path, o, s))
        elif isinstance(path, PathAlternative):
            for option in path.options:
                yield from self._path(option, s, o)
        elif isinstance(path, PathSequence):
            yield from self._sequence(path.steps, s, o)
        else:
            yield from self._repeat(path, s, o)

    def _sequence(
        self, steps: tuple[Path, ...], s: Term | None, o: Term | None
    ) -> Iterator[tuple[Term, Term]]:
        if len(steps) == 1:
            yield from self._path(steps[0], s, o)
            return
        if s is None and o is not None:
            # Walk backwards from the bound end so that wdt:P31/wdt:P279* wd:Q5 stays cheap.
            for middle, end in self._path(steps[-1], None, o):
                for start, _ in self._sequence(steps[:-1], None, middle):
                    yield start, end
            return
        seen: set[tuple[Term, Term]] = set()
        for start, middle in self._path(steps[0], s, None):
            for _, end in self._sequence(steps[1:], middle, o):
                if (start, end) not in seen:
                    seen.add((start, end))
                    yield start, end

    def _repeat(
        self, path: PathRepeat, s: Term | None, o: Term | None
    ) -> Iterator[tuple[Term, Term]]:
        zero = path.modifier in {"*", "?"}
        if s is None and o is None:
            starts: Iterable[Term] = list(self.graph.nodes)
        elif s is not None:
            starts = [s]
        else:
            inverse = PathRepeat(PathInverse(path.path), path.modifier)
            yield from ((b, a) for a, b in self._repeat(inverse, o, None))
            return
        for start in starts:
            reached: list[Term] = [start] if zero else []
            frontier = [start]
            visited = {start}
            depth = 0
            while frontier and not (path.modifier == "?" and depth >= 1):
                depth += 1
                following: list[Term] = []
                for node in frontier:
                    for _, nxt in self._path(path.path, node, None):
                        if nxt not in visited or (not zero and nxt == start and nxt not in reached):
                            visited.add(nxt)
                            reached.append(nxt)
                            following.append(nxt)
                frontier = following
            for end in dict.fromkeys(reached):
                if o is None or end == o:
                    yield start, end

    # -- services --
    def _service(self, service: ServicePattern, solutions: list[Solution]) -> list[Solution]:
        if service.iri.value == WIKIBASE + "mwapi":
            answers = self._mwapi(service.group)
            return [m for row in solutions for a in answers if (m := _merge(row, a)) is not None]
        if service.silent:
            return solutions  # an unreachable SILENT service contributes nothing
        return self._eval_group(service.group, solutions)

    def _service_params(self, group: Group) -> tuple[dict[str, str], list[TriplePattern]]:
        params: dict[str, str] = {}
        others: list[TriplePattern] = []
        for element in group.elements:
            if not isinstance(element, TriplePattern):
                continue
            if (
                isinstance(element.subject, Iri)
                and element.subject.value == BD + "serviceParam"
                and isinstance(element.predicate, PathLink)
                and isinstance(element.object, Literal)
            ):
                params[element.predicate.iri.value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]] = (
                    element.object.value
                )
            else:
                others.append(element)
        return params, others

    def _labels(self, service: ServicePattern, solutions: list[Solution]) -> list[Solution]:
        params, manual = self._service_params(service.group)
        languages = [
            lang.strip()
            for lang in params.get("language", "en").replace("[AUTO_LANGUAGE]", "en").split(",")
            if lang.strip()
        ] or ["en"]
        for row in solutions:
            if manual:
                for pattern in manual:
                    if not (isinstance(pattern.subject, Var) and isinstance(pattern.object, Var)):
                        continue
                    node = row.get(pattern.subject.name)
                    if isinstance(node, Iri) and isinstance(pattern.predicate, PathLink):
                        value = self._label_value(node, pattern.predicate.iri.value, languages)
                        if value is not None:
                            row.setdefault(pattern.object.name, value)
                continue
            for name in self.label_vars:
                suffix = next(s for s in ("AltLabel", "Description", "Label") if name.endswith(s))
                node = row.get(name[: -len(suffix)])
                if name in row or not isinstance(node, Iri):
                    continue
                predicate = {
                    "Label": RDFS_LABEL,
                    "Description": SCHEMA_DESCRIPTION,
                    "AltLabel": SKOS_ALT_LABEL,
                }[suffix]
                value = self._label_value(node, predicate, languages)
                if value is not None:
                    row[name] = value
        return solutions

    def _label_value(self, node: Iri, predicate: str, languages: list[str]) -> Literal | None:
        found = [
            v
            for v in self.graph.objects(node, Iri(predicate))
            if isinstance(v, Literal) and v.lang in languages
        ]
        if predicate == SKOS_ALT_LABEL:
            return Literal(", ".join(v.value for v in found), lang=languages[0]) if found else None
        if found:
            order = {lang: i for i, lang in enumerate(languages)}
            return min(found, key=lambda v: order.get(v.lang or "", 99))
        if predicate == RDFS_LABEL and node.value.startswith(WD):
            return Literal(node.value[len(WD) :])  # WDQS falls back to the bare QID
        return None

    def _mwapi(self, group: Group) -> list[Solution]:
        """EntitySearch (label/alias prefix) and Search (words, haswbstatement:) over entities."""
        params, outputs = self._service_params(group)
        api = params.get("api", "EntitySearch")
        text = params.get("search") or params.get("srsearch") or ""
        try:
            limit = int(params.get("limit", "50"))
        except ValueError:
            limit = 50
        matches = self._search_entities(api, text)[:limit]
        answers: list[Solution] = []
        for ordinal, node in enumerate(matches):
            answer: Solution = {}
            for pattern in outputs:
                if not isinstance(pattern.subject, Var):
                    continue
                if not isinstance(pattern.predicate, PathLink):
                    continue
                kind = pattern.predicate.iri.value
                if kind == WIKIBASE + "apiOutputItem":
                    answer[pattern.subject.name] = node
                elif kind == WIKIBASE + "apiOutput":
                    answer[pattern.subject.name] = Literal(node.value[len(WD) :])
                elif kind == WIKIBASE + "apiOrdinal":
                    answer[pattern.subject.name] = _number(ordinal)
            answers.append(answer)
        return answers

    def _search_entities(self, api: str, text: str) -> list[Iri]:
        statements = re.findall(r"haswbstatement:(P\d+)=(\S+)", text)
        free = re.sub(r"haswbstatement:\S+", " ", text).strip()
        scored: list[tuple[int, int, str, Iri]] = []
        for node in self.graph.nodes:
            if not isinstance(node, Iri) or not node.value.startswith(WD):
                continue
            if statements and not all(self._has_statement(node, p, v) for p, v in statements):
                continue
            names = [
                v.value
                for pred in (RDFS_LABEL, SKOS_ALT_LABEL)
                for v in self.graph.objects(node, Iri(pred))
                if isinstance(v, Literal)
            ]
            if not free:
                if statements:
                    scored.append((0, 0, node.value, node))
                continue
            wanted = fold(free)
            if api == "EntitySearch":
                hits = [n for n in names if fold(n).startswith(wanted)]
            else:
                query_words = content_words(free)
                hits = [n for n in names if set(query_words) <= set(words(n))]
            if hits:
                exact = 0 if any(fold(n) == wanted for n in hits) else 1
                scored.append((exact, min(len(n) for n in hits), node.value, node))
        scored.sort(key=lambda item: item[:3])
        return [item[3] for item in scored]

    def _has_statement(self, node: Iri, pid: str, value: str) -> bool:
        for obj in self.graph.objects(node, Iri("http://www.wikidata.org/prop/direct/" + pid)):
            if isinstance(obj, Iri) and obj.value == WD + value:
                return True
            if isinstance(obj, Literal) and obj.value == value:
                return True
        return False

    # -- grouping --
    def _group(self, query: Query, rows: list[Solution]) -> list[Solution]:
        groups: dict[tuple[Term | None, ...], list[Solution]] = {}
        for row in rows:
            key_values: list[Term | None] = []
            for spec in query.group_by:
                if spec.expr is None:
                    key_values.append(row.get(spec.var))
                else:
                    try:
                        key_values.append(self._expr(spec.expr, row))
                    except EvalError:
                        key_values.append(None)
            groups.setdefault(tuple(key_values), []).append(row)
        if not query.group_by and not groups:
            groups[()] = []  # an aggregate over no rows still yields one row (COUNT = 0)
        result: list[Solution] = []
        for key, members in groups.items():
            out: Solution = {}
            for spec, value in zip(query.group_by, key, strict=True):
                if value is not None:
                    out[spec.var] = value
            for projection in query.projection or []:
                if projection.expr is None:
                    if projection.var not in out and members and projection.var in members[0]:
                        out[projection.var] = members[0][projection.var]
                    continue
                with contextlib.suppress(EvalError):
                    out[projection.var] = self._expr(projection.expr, out, members)
            if all(self._test_group(h, out, members) for h in query.having):
                result.append(out)
        return result

    def _test_group(self, expr: Expr, row: Solution, members: list[Solution]) -> bool:
        try:
            return _ebv(self._expr(expr, row, members))
        except EvalError:
            return False

    def _aggregate(self, agg: Aggregate, members: list[Solution]) -> Term:
        if agg.arg is None:
            return _number(len(members))
        values: list[Term] = []
        for row in members:
            try:
                values.append(self._expr(agg.arg, row))
            except EvalError:
                continue
        if agg.distinct:
            values = list(dict.fromkeys(values))
        if agg.name == "COUNT":
            return _number(len(values))
        if agg.name == "SAMPLE":
            if not values:
                raise EvalError("empty sample")
            return values[0]
        if agg.name == "GROUP_CONCAT":
            return Literal(agg.separator.join(_as_string(v) for v in values))
        if agg.name in {"MIN", "MAX"}:
            if not values:
                raise EvalError("empty group")
            pick = min if agg.name == "MIN" else max
            return pick(values, key=lambda v: self._sort_key(ExprConst(v), {}))
        numbers = [_as_number(v) for v in values]
        if agg.name == "SUM":
            return _number(sum(numbers, Decimal(0)))
        if not numbers:
            return _number(0)
        return _number(sum(numbers, Decimal(0)) / len(numbers))

    # -- expressions --
    def _expr(self, expr: Expr, row: Solution, members: list[Solution] | None = None) -> Term:
        if isinstance(expr, ExprVar):
            if expr.name not in row:
                raise EvalError(f"?{expr.name} is unbound")
            return row[expr.name]
        if isinstance(expr, ExprConst):
            return expr.term
        if isinstance(expr, Aggregate):
            if members is None:
                raise EvalError("aggregate outside GROUP BY")
            return self._aggregate(expr, members)
        if isinstance(expr, ExprUnary):
            value = self._expr(expr.operand, row, members)
            if expr.op == "!":
                return _bool(not _ebv(value))
            return _number(-_as_number(value))
        if isinstance(expr, ExprBinary):
            return self._binary(expr, row, members)
        if isinstance(expr, ExprIn):
            value = self._expr(expr.operand, row, members)
            found = any(
                _compare("=", value, self._expr(option, row, members)) for option in expr.options
            )
            return _bool(found != expr.negated)
        if isinstance(expr, ExprExists):
            exists = bool(self._eval_group(expr.group, [dict(row)]))
            return _bool(exists != expr.negated)
        return self._call(expr, row, members)

    def _binary(self, expr: ExprBinary, row: Solution, members: list[Solution] | None) -> Term:
        if expr.op in {"||", "&&"}:
            try:
                left: bool | None = _ebv(self._expr(expr.left, row, members))
            except EvalError:
                left = None
            if expr.op == "||" and left is True:
                return _bool(True)
            if expr.op == "&&" and left is False:
                return _bool(False)
            right = _ebv(self._expr(expr.right, row, members))
            if left is None:
                if (expr.op == "||" and right) or (expr.op == "&&" and not right):
                    return _bool(right)
                raise EvalError("error in logical operand")
            return _bool(left or right if expr.op == "||" else left and right)
        a = self._expr(expr.left, row, members)
        b = self._expr(expr.right, row, members)
        if expr.op in {"=", "!=", "<", ">", "<=", ">="}:
            return _bool(_compare(expr.op, a, b))
        x, y = _as_number(a), _as_number(b)
        if expr.op == "+":
            return _number(x + y)
        if expr.op == "-":
            return _number(x - y)
        if expr.op == "*":
            return _number(x * y)
        if y == 0:
            raise EvalError("division by zero")
        return _number(x / y)

    def _call(self, expr: Expr, row: Solution, members: list[Solution] | None) -> Term:
        assert isinstance(expr, ExprCall)
        name = expr.name
        if name == "BOUND":
            arg = expr.args[0] if expr.args else None
            return _bool(isinstance(arg, ExprVar) and arg.name in row)
        if name == "COALESCE":
            for arg in expr.args:
                try:
                    return self._expr(arg, row, members)
                except EvalError:
                    continue
            raise EvalError("COALESCE found nothing bound")
        if name == "IF":
            condition = _ebv(self._expr(expr.args[0], row, members))
            return self._expr(expr.args[1] if condition else expr.args[2], row, members)
        args = [self._expr(arg, row, members) for arg in expr.args]
        function = _FUNCTIONS.get(name)
        if function is None:
            if name.startswith(XSD):
                return _cast(name, args[0])
            raise EvalError(f"unsupported function {name}")
        return function(args)


def _has_aggregate(expr: Expr) -> bool:
    if isinstance(expr, Aggregate):
        return True
    if isinstance(expr, ExprBinary):
        return _has_aggregate(expr.left) or _has_aggregate(expr.right)
    if isinstance(expr, ExprUnary):
        return _has_aggregate(expr.operand)
    if isinstance(expr, ExprCall):
        return any(_has_aggregate(arg) for arg in expr.args)
    return False


def _cast(datatype: str, term: Term) -> Literal:
    value = term.value if isinstance(term, Literal | Iri) else ""
    if datatype in {XSD + "integer", XSD + "int", XSD + "long"}:
        try:
            return _number(int(Decimal(value)))
        except InvalidOperation:
            raise EvalError("not an integer") from None
    if datatype == XSD + "string":
        return Literal(value)
    return Literal(value, datatype=datatype)


def _regex_flags(args: list[Term]) -> int:
    flags = _as_string(args[2]) if len(args) > 2 else ""
    return re.IGNORECASE if "i" in flags else 0


def _date_part(term: Term, index: int) -> Literal:
    match = _DATE.match(_as_string(term))
    if match is None:
        raise EvalError("not a date")
    return _number(int(match.group(index)))


def _strafter(args: list[Term]) -> Literal:
    text, needle = _as_string(args[0]), _as_string(args[1])
    position = text.find(needle)
    return _string_like(text[position + len(needle) :] if position >= 0 else "", args[0])


def _strbefore(args: list[Term]) -> Literal:
    text, needle = _as_string(args[0]), _as_string(args[1])
    position = text.find(needle)
    return _string_like(text[:position] if position >= 0 else "", args[0])


def _substr(args: list[Term]) -> Literal:
    text = _as_string(args[0])
    start = int(_as_number(args[1])) - 1
    end = start + int(_as_number(args[2])) if len(args) > 2 else None
    return _string_like(text[max(start, 0) : end], args[0])


def _replace(args: list[Term]) -> str:
    flags = _regex_flags([args[0], args[1], args[3]] if len(args) > 3 else args[:2])
    # SPARQL writes group references as $1; Python's re wants \\1.
    replacement = re.sub(r"\$(\d)", r"\\\1", _as_string(args[2]))
    return re.sub(_as_string(args[1]), replacement, _as_string(args[0]), flags=flags)


def _digest(algorithm: str) -> Callable[[list[Term]], Term]:
    return lambda a: Literal(hashlib.new(algorithm, _as_string(a[0]).encode()).hexdigest())


def _round(function: Callable[[Decimal], Any]) -> Callable[[list[Term]], Term]:
    return lambda a: _number(Decimal(function(_as_number(a[0]))))


_FUNCTIONS: dict[str, Callable[[list[Term]], Term]] = {
    "STR": lambda a: Literal(a[0].value),
    "LANG": lambda a: Literal(a[0].lang or "" if isinstance(a[0], Literal) else ""),
    "LANGMATCHES": lambda a: _bool(
        (_as_string(a[1]) == "*" and _as_string(a[0]) != "")
        or _as_string(a[0]).lower().split("-")[0] == _as_string(a[1]).lower()
    ),
    "DATATYPE": lambda a: Iri(
        (a[0].datatype or XSD + "string") if isinstance(a[0], Literal) else ""
    ),
    "IRI": lambda a: Iri(a[0].value),
    "URI": lambda a: Iri(a[0].value),
    "STRLEN": lambda a: _number(len(_as_string(a[0]))),
    "UCASE": lambda a: _string_like(_as_string(a[0]).upper(), a[0]),
    "LCASE": lambda a: _string_like(_as_string(a[0]).lower(), a[0]),
    "CONTAINS": lambda a: _bool(_as_string(a[1]) in _as_string(a[0])),
    "STRSTARTS": lambda a: _bool(_as_string(a[0]).startswith(_as_string(a[1]))),
    "STRENDS": lambda a: _bool(_as_string(a[0]).endswith(_as_string(a[1]))),
    "STRBEFORE": _strbefore,
    "STRAFTER": _strafter,
    "CONCAT": lambda a: Literal("".join(_as_string(t) for t in a)),
    "SUBSTR": _substr,
    "REGEX": lambda a: _bool(
        re.search(_as_string(a[1]), _as_string(a[0]), _regex_flags(a)) is not None
    ),
    "REPLACE": lambda a: _string_like(_replace(a), a[0]),
    "ENCODE_FOR_URI": lambda a: Literal(
        "".join(c if c.isalnum() or c in "-_.~" else f"%{ord(c):02X}" for c in _as_string(a[0]))
    ),
    "YEAR": lambda a: _date_part(a[0], 1),
    "MONTH": lambda a: _date_part(a[0], 2),
    "DAY": lambda a: _date_part(a[0], 3),
    "ISIRI": lambda a: _bool(isinstance(a[0], Iri)),
    "ISURI": lambda a: _bool(isinstance(a[0], Iri)),
    "ISBLANK": lambda a: _bool(isinstance(a[0], BNode)),
    "ISLITERAL": lambda a: _bool(isinstance(a[0], Literal)),
    "ISNUMERIC": lambda a: _bool(isinstance(a[0], Literal) and a[0].datatype in _NUMERIC),
    "SAMETERM": lambda a: _bool(a[0] == a[1]),
    "STRLANG": lambda a: Literal(_as_string(a[0]), lang=_as_string(a[1]).lower()),
    "STRDT": lambda a: Literal(_as_string(a[0]), datatype=a[1].value),
    "ABS": lambda a: _number(abs(_as_number(a[0]))),
    "CEIL": _round(math.ceil),
    "FLOOR": _round(math.floor),
    "ROUND": _round(round),
    "MD5": _digest("md5"),
    "SHA1": _digest("sha1"),
    "SHA256": _digest("sha256"),
    "SHA384": _digest("sha384"),
    "SHA512": _digest("sha512"),
}


# --- result formats ----------------------------------------------------------------------------


def term_json(term: Term) -> dict[str, str]:
    if isinstance(term, Iri):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.lang:
        out["xml:lang"] = term.lang
    elif term.datatype:
        out["datatype"] = term.datatype
    return out


def results_json(names: list[str], rows: list[Solution]) -> dict[str, Any]:
    return {
        "head": {"vars": names},
        "results": {"bindings": [{n: term_json(v) for n, v in row.items()} for row in rows]},
    }


def results_xml(names: list[str], rows: list[Solution]) -> str:
    out = [
        '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>\n'
    ]
    out.extend(f"  <variable name={quoteattr(n)}/>\n" for n in names)
    out.append("</head>\n<results>\n")
    for row in rows:
        out.append("  <result>\n")
        for name, term in row.items():
            if isinstance(term, Iri):
                value = f"<uri>{escape(term.value)}</uri>"
            elif isinstance(term, BNode):
                value = f"<bnode>{escape(term.value)}</bnode>"
            elif term.lang:
                value = f"<literal xml:lang={quoteattr(term.lang)}>{escape(term.value)}</literal>"
            elif term.datatype:
                datatype = quoteattr(term.datatype)
                value = f"<literal datatype={datatype}>{escape(term.value)}</literal>"
            else:
                value = f"<literal>{escape(term.value)}</literal>"
            out.append(f"    <binding name={quoteattr(name)}>{value}</binding>\n")
        out.append("  </result>\n")
    out.append("</results>\n</sparql>\n")
    return "".join(out)


def results_delimited(names: list[str], rows: list[Solution], tab: bool) -> str:
    buffer = io.StringIO()
    if tab:
        buffer.write("\t".join(f"?{n}" for n in names) + "\n")
        for row in rows:
            cells = []
            for n in names:
                term = row.get(n)
                if term is None:
                    cells.append("")
                elif isinstance(term, Iri):
                    cells.append(f"<{term.value}>")
                else:
                    cells.append('"' + term.value.replace('"', '\\"') + '"')
            buffer.write("\t".join(cells) + "\n")
        return buffer.getvalue()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row[n].value if n in row else "" for n in names])
    return buffer.getvalue()
