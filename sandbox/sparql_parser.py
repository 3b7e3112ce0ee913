"""Tokenizer and recursive-descent parser for the SPARQL 1.1 subset the sandbox evaluates:
SELECT/ASK, triples with ; and , and property paths, OPTIONAL, UNION, MINUS, FILTER (EXISTS),
BIND, VALUES, SERVICE, sub-selects, GROUP BY/HAVING with aggregates, ORDER BY, LIMIT/OFFSET."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox.rdf import RDF_TYPE, XSD, Iri, Literal, Term

DEFAULT_PREFIXES: dict[str, str] = {
    "wd": "http://www.wikidata.org/entity/",
    "wdt": "http://www.wikidata.org/prop/direct/",
    "wdtn": "http://www.wikidata.org/prop/direct-normalized/",
    "p": "http://www.wikidata.org/prop/",
    "ps": "http://www.wikidata.org/prop/statement/",
    "pq": "http://www.wikidata.org/prop/qualifier/",
    "wds": "http://www.wikidata.org/entity/statement/",
    "wikibase": "http://wikiba.se/ontology#",
    "bd": "http://www.bigdata.com/rdf#",
    "mwapi": "https://www.mediawiki.org/ontology#API/",
    "hint": "http://www.bigdata.com/queryHints#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": XSD,
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "http://schema.org/",
    "dct": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
}


class SparqlSyntaxError(ValueError):
    """The query is not in the understood subset; the message says where."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}.")
        self.line = line
        self.column = column


# --- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<lstring>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*''')
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<var>[?$][A-Za-z0-9_\u00C0-\uFFFF]+)
  | (?P<pname>(?:[A-Za-z][\w\-.]*)?:(?:[\w\-:%]*(?:[\w\-.:%]*[\w\-:%])?)?)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\^\^|&&|\|\||!=|<=|>=|[{}()\[\].,;*|/^+?!=<>\-])
    """,
    re.VERBOSE,
)
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int
    column: int


def _unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU":
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", replace, body)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    line, line_start = 1, 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        column = position - line_start + 1
        if match is None:
            raise SparqlSyntaxError(f'Lexical error: unexpected "{text[position]}"', line, column)
        kind = match.lastgroup or ""
        value = match.group()
        if kind != "ws":
            tokens.append(Token(kind, value, line, column))
        newlines = value.count("\n")
        if newlines:
            line += newlines
            line_start = position + value.rindex("\n") + 1
        position = match.end()
    return tokens


# --- syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    name: str


Node = Var | Iri | Literal


@dataclass(frozen=True)
class PathLink:
    iri: Iri


@dataclass(frozen=True)
class PathInverse:
    path: Path


@dataclass(frozen=True)
class PathSequence:
    steps: tuple[Path, ...]


@dataclass(frozen=True)
class PathAlternative:
    options: tuple[Path, ...]


@dataclass(frozen=True)
class PathRepeat:
    path: Path
    modifier: str  # '*', '+' or '?'


Path = PathLink | PathInverse | PathSequence | PathAlternative | PathRepeat


@dataclass(frozen=True)
class TriplePattern:
    subject: Node
    predicate: Var | Path
    object: Node


@dataclass(frozen=True)
class ExprVar:
    name: str


@dataclass(frozen=True)
class ExprConst:
    term: Term


@dataclass(frozen=True)
class ExprCall:
    name: str  # upper-cased builtin name, or a full IRI for casts like xsd:integer
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class ExprBinary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class ExprUnary:
    op: str
    operand: Expr


@dataclass(frozen=True)
class ExprIn:
    operand: Expr
    options: tuple[Expr, ...]
    negated: bool


@dataclass(frozen=True)
class ExprExists:
    group: Group
    negated: bool


@dataclass(frozen=True)
class Aggregate:
    name: str
    arg: Expr | None  # None for COUNT(*)
    distinct: bool
    separator: str = " "


Expr = ExprVar | ExprConst | ExprCall | ExprBinary | ExprUnary | ExprIn | ExprExists | Aggregate


@dataclass(frozen=True)
class Filter:
    expr: Expr


@dataclass(frozen=True)
class Bind:
    expr: Expr
    var: str


@dataclass(frozen=True)
class Values:
    vars: tuple[str, ...]
    rows: tuple[tuple[Term | None, ...], ...]


@dataclass(frozen=True)
class OptionalPattern:
    group: Group


@dataclass(frozen=True)
class MinusPattern:
    group: Group


@dataclass(frozen=True)
class UnionPattern:
    branches: tuple[Group, ...]


@dataclass(frozen=True)
class ServicePattern:
    iri: Iri
    group: Group
    silent: bool


@dataclass(frozen=True)
class SubSelect:
    query: Query


@dataclass(frozen=True)
class Group:
    elements: tuple[Element, ...]


Element = (
    TriplePattern | Filter | Bind | Values | OptionalPattern | MinusPattern | UnionPattern
    | ServicePattern | SubSelect | Group
)  # fmt: skip


@dataclass(frozen=True)
class Projection:
    var: str
    expr: Expr | None  # None: the variable itself


@dataclass
class Query:
    form: str  # SELECT or ASK
    projection: list[Projection] | None  # None for SELECT *
    distinct: bool
    where: Group
    group_by: list[Projection] = field(default_factory=list)
    having: list[Expr] = field(default_factory=list)
    order_by: list[tuple[Expr, bool]] = field(default_factory=list)  # (expr, descending)
    limit: int | None = None
    offset: int = 0
    values: Values | None = None
    variables: list[str] = field(default_factory=list)  # every ?var in source order


_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}
_BUILTINS = {
    "STR", "LANG", "LANGMATCHES", "DATATYPE", "BOUND", "IRI", "URI", "BNODE", "RAND", "ABS",
    "CEIL", "FLOOR", "ROUND", "CONCAT", "STRLEN", "UCASE", "LCASE", "ENCODE_FOR_URI",
    "CONTAINS", "STRSTARTS", "STRENDS", "STRBEFORE", "STRAFTER", "YEAR", "MONTH", "DAY",
    "HOURS", "MINUTES", "SECONDS", "TIMEZONE", "TZ", "NOW", "UUID", "STRUUID", "MD5", "SHA1",
    "SHA256", "SHA384", "SHA512", "COALESCE", "IF", "STRLANG", "STRDT", "SAMETERM", "ISIRI",
    "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "REGEX", "SUBSTR", "REPLACE",
}  # fmt: skip


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.prefixes = dict(DEFAULT_PREFIXES)
        self.variables: list[str] = []
        self._blank = 0

    # -- token helpers --
    def _peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _error(self, message: str) -> SparqlSyntaxError:
        token = self._peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else Token("eof", "", 1, 1)
            return SparqlSyntaxError(f"{message}: unexpected end of query", last.line, last.column)
        return SparqlSyntaxError(f'{message}: encountered "{token.text}"', token.line, token.column)

    def _is(self, *texts: str) -> bool:
        token = self._peek()
        if token is None:
            return False
        if token.kind == "name":
            return token.text.upper() in texts
        return token.kind == "punct" and token.text in texts

    def _accept(self, *texts: str) -> bool:
        if self._is(*texts):
            self.pos += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            raise self._error(f'Expected "{text}"')

    def _next(self) -> Token:
        token = self._peek()
        if token is None:
            raise self._error("Incomplete query")
        self.pos += 1
        return token

    # -- query --
    def parse(self) -> Query:
        self._prologue()
        if self._accept("ASK"):
            self._accept("WHERE")
            where = self._group()
            query = Query("ASK", None, False, where)
        elif self._is("SELECT"):
            query = self._select()
        elif self._is("CONSTRUCT", "DESCRIBE"):
            raise self._error("Only SELECT and ASK queries are supported by the sandbox")
        else:
            raise self._error("Expected SELECT or ASK")
        if self._accept("VALUES"):
            query.values = self._values_block()
        if self._peek() is not None:
            raise self._error("Unexpected text after the query")
        query.variables = list(dict.fromkeys(self.variables))
        return query

    def _prologue(self) -> None:
        while True:
            if self._accept("PREFIX"):
                token = self._next()
                if token.kind != "pname" or not token.text.endswith(":"):
                    raise self._error("Expected a prefix name like wd:")
                iri = self._next()
                if iri.kind != "iri":
                    raise self._error("Expected an IRI in <...>")
                self.prefixes[token.text[:-1]] = iri.text[1:-1]
            elif self._accept("BASE"):
                self._next()
            else:
                return

    def _select(self) -> Query:
        self._expect("SELECT")
        distinct = self._accept("DISTINCT")
        self._accept("REDUCED")
        projection: list[Projection] | None = []
        if self._accept("*"):
            projection = None
        else:
            assert projection is not None
            while True:
                token = self._peek()
                if token is not None and token.kind == "var":
                    projection.append(Projection(self._var(), None))
                elif self._is("("):
                    self._expect("(")
                    expr = self._expression()
                    self._expect("AS")
                    projection.append(Projection(self._var(), expr))
                    self._expect(")")
                else:
                    break
            if not projection:
                raise self._error("Expected variables or * after SELECT")
        self._accept("WHERE")
        where = self._group()
        query = Query("SELECT", projection, distinct, where)
        self._modifiers(query)
        return query

    def _modifiers(self, query: Query) -> None:
        if self._accept("GROUP"):
            self._expect("BY")
            while True:
                token = self._peek()
                if token is not None and token.kind == "var":
                    query.group_by.append(Projection(self._var(), None))
                elif self._accept("("):
                    expr = self._expression()
                    name = self._var() if self._accept("AS") else f"_group{len(query.group_by)}"
                    self._expect(")")
                    query.group_by.append(Projection(name, expr))
                else:
                    break
        if self._accept("HAVING"):
            while self._is("("):
                self._expect("(")
                query.having.append(self._expression())
                self._expect(")")
        if self._accept("ORDER"):
            self._expect("BY")
            while True:
                if self._is("ASC", "DESC"):
                    descending = self._next().text.upper() == "DESC"
                    self._expect("(")
                    query.order_by.append((self._expression(), descending))
                    self._expect(")")
                elif (token := self._peek()) is not None and token.kind == "var":
                    query.order_by.append((ExprVar(self._var()), False))
                elif self._is("("):
                    self._expect("(")
                    query.order_by.append((self._expression(), False))
                    self._expect(")")
                else:
                    break
        while self._is("LIMIT", "OFFSET"):
            keyword = self._next().text.upper()
            token = self._next()
            if token.kind != "number":
                raise self._error(f"Expected a number after {keyword}")
            if keyword == "LIMIT":
                query.limit = int(float(token.text))
            else:
                query.offset = int(float(token.text))

    # -- patterns --
    def _group(self) -> Group:
        self._expect("{")
        if self._is("SELECT"):
            sub = self._select()
            self._expect("}")
            return Group((SubSelect(sub),))
        elements: list[Element] = []
        while not self._accept("}"):
            if self._peek() is None:
                raise self._error('Expected "}"')
            if self._accept("."):
                continue
            if self._accept("OPTIONAL"):
                elements.append(OptionalPattern(self._group()))
            elif self._accept("MINUS"):
                elements.append(MinusPattern(self._group()))
            elif self._accept("FILTER"):
                elements.append(Filter(self._constraint()))
            elif self._accept("BIND"):
                self._expect("(")
                expr = self._expression()
                self._expect("AS")
                var = self._var()
                self._expect(")")
                elements.append(Bind(expr, var))
            elif self._accept("VALUES"):
                elements.append(self._values_block())
            elif self._accept("SERVICE"):
                silent = self._accept("SILENT")
                iri = self._iri_node()
                elements.append(ServicePattern(iri, self._group(), silent))
            elif self._is("{"):
                branches = [self._group()]
                while self._accept("UNION"):
                    branches.append(self._group())
                elements.append(UnionPattern(tuple(branches)) if len(branches) > 1 else branches[0])
            else:
                elements.extend(self._triples_block())
        return Group(tuple(elements))

    def _values_block(self) -> Values:
        names: list[str] = []
        single = False
        token = self._peek()
        if token is not None and token.kind == "var":
            names.append(self._var())
            single = True
        else:
            self._expect("(")
            while (token := self._peek()) is not None and token.kind == "var":
                names.append(self._var())
            self._expect(")")
        self._expect("{")
        rows: list[tuple[Term | None, ...]] = []
        while not self._accept("}"):
            if single:
                rows.append((self._data_value(),))
            else:
                self._expect("(")
                row = []
                while not self._accept(")"):
                    row.append(self._data_value())
                if len(row) != len(names):
                    raise self._error("A VALUES row has the wrong number of values")
                rows.append(tuple(row))
        return Values(tuple(names), tuple(rows))

    def _data_value(self) -> Term | None:
        if self._accept("UNDEF"):
            return None
        node = self._term_node()
        if isinstance(node, Var):
            raise self._error("Variables are not allowed in VALUES data")
        return node

    def _triples_block(self) -> list[TriplePattern]:
        patterns: list[TriplePattern] = []
        subject = self._subject(patterns)
        if self._is(".", "}") and patterns:
            return patterns  # a bare [ ... ] blank node property list
        self._property_list(subject, patterns)
        return patterns

    def _subject(self, patterns: list[TriplePattern]) -> Node:
        if self._accept("["):
            node = self._blank_var()
            if not self._accept("]"):
                self._property_list(node, patterns)
                self._expect("]")
            return node
        return self._term_node()

    def _blank_var(self) -> Var:
        self._blank += 1
        return Var(f"_:b{self._blank}")

    def _property_list(self, subject: Node, patterns: list[TriplePattern]) -> None:
        while True:
            predicate = self._verb()
            while True:
                obj = self._subject(patterns) if self._is("[") else self._term_node()
                patterns.append(TriplePattern(subject, predicate, obj))
                if not self._accept(","):
                    break
            if not self._accept(";"):
                return
            while self._accept(";"):
                pass
            if self._is(".", "}", "]"):
                return

    def _verb(self) -> Var | Path:
        token = self._peek()
        if token is not None and token.kind == "var":
            return Var(self._var())
        return self._path()

    def _path(self) -> Path:
        options = [self._path_sequence()]
        while self._accept("|"):
            options.append(self._path_sequence())
        return options[0] if len(options) == 1 else PathAlternative(tuple(options))

    def _path_sequence(self) -> Path:
        steps = [self._path_element()]
        while self._accept("/"):
            steps.append(self._path_element())
        return steps[0] if len(steps) == 1 else PathSequence(tuple(steps))

    def _path_element(self) -> Path:
        inverse = self._accept("^")
        if self._accept("("):
            path = self._path()
            self._expect(")")
        elif self._is("A") and (token := self._peek()) is not None and token.text == "a":
            self.pos += 1
            path = PathLink(Iri(RDF_TYPE))
        else:
            path = PathLink(self._iri_node())
        token = self._peek()
        if token is not None and token.kind == "punct" and token.text in "*+?":
            self.pos += 1
            path = PathRepeat(path, token.text)
        return PathInverse(path) if inverse else path

    def _var(self) -> str:
        token = self._next()
        if token.kind != "var":
            self.pos -= 1
            raise self._error("Expected a variable")
        name = token.text[1:]
        self.variables.append(name)
        return name

    def _iri_node(self) -> Iri:
        token = self._next()
        if token.kind == "iri":
            return Iri(token.text[1:-1])
        if token.kind == "pname":
            prefix, _, local = token.text.partition(":")
            if prefix not in self.prefixes:
                self.pos -= 1
                raise self._error(f'Unknown prefix "{prefix}:"')
            return Iri(self.prefixes[prefix] + local)
        self.pos -= 1
        raise self._error("Expected an IRI")

    def _term_node(self) -> Node:
        token = self._peek()
        if token is None:
            raise self._error("Expected a term")
        if token.kind == "var":
            return Var(self._var())
        if token.kind in {"iri", "pname"}:
            return self._iri_node()
        if token.kind in {"string", "lstring"}:
            return self._literal()
        if token.kind == "number" or (token.kind == "punct" and token.text in "+-"):
            return self._number()
        if token.kind == "name" and token.text.lower() in {"true", "false"}:
            self.pos += 1
            return Literal(token.text.lower(), datatype=XSD + "boolean")
        raise self._error("Expected a variable, IRI or literal")

    def _literal(self) -> Literal:
        token = self._next()
        quote = 3 if token.kind == "lstring" else 1
        value = _unescape(token.text[quote:-quote])
        following = self._peek()
        if following is not None and following.kind == "langtag":
            self.pos += 1
            return Literal(value, lang=following.text[1:].lower())
        if self._accept("^^"):
            return Literal(value, datatype=self._iri_node().value)
        return Literal(value)

    def _number(self) -> Literal:
        sign = ""
        if self._is("+", "-"):
            sign = self._next().text
        token = self._next()
        if token.kind != "number":
            raise self._error("Expected a number")
        text = sign + token.text
        if "e" in text.lower():
            return Literal(text, datatype=XSD + "double")
        return Literal(text, datatype=XSD + ("decimal" if "." in text else "integer"))

    # -- expressions --
    def _constraint(self) -> Expr:
        if self._is("("):
            self._expect("(")
            expr = self._expression()
            self._expect(")")
            return expr
        return self._primary()

    def _expression(self) -> Expr:
        left = self._and()
        while self._accept("||"):
            left = ExprBinary("||", left, self._and())
        return left

    def _and(self) -> Expr:
        left = self._relational()
        while self._accept("&&"):
            left = ExprBinary("&&", left, self._relational())
        return left

    def _relational(self) -> Expr:
        left = self._additive()
        token = self._peek()
        comparisons = {"=", "!=", "<", ">", "<=", ">="}
        if token is not None and token.kind == "punct" and token.text in comparisons:
            self.pos += 1
            return ExprBinary(token.text, left, self._additive())
        negated = False
        if self._is("NOT") and (after := self._peek(1)) is not None and after.text.upper() == "IN":
            self.pos += 1
            negated = True
        if self._accept("IN"):
            self._expect("(")
            options: list[Expr] = []
            while not self._accept(")"):
                options.append(self._expression())
                self._accept(",")
            return ExprIn(left, tuple(options), negated)
        return left

    def _additive(self) -> Expr:
        left = self._multiplicative()
        while self._is("+", "-"):
            op = self._next().text
            left = ExprBinary(op, left, self._multiplicative())
        return left

    def _multiplicative(self) -> Expr:
        left = self._unary()
        while self._is("*", "/"):
            op = self._next().text
            left = ExprBinary(op, left, self._unary())
        return left

    def _unary(self) -> Expr:
        if self._accept("!"):
            return ExprUnary("!", self._unary())
        if self._accept("-"):
            return ExprUnary("-", self._unary())
        self._accept("+")
        return self._primary()

    def _primary(self) -> Expr:
        token = self._peek()
        if token is None:
            raise self._error("Expected an expression")
        if self._accept("("):
            expr = self._expression()
            self._expect(")")
            return expr
        if token.kind == "var":
            return ExprVar(self._var())
        if token.kind == "name":
            upper = token.text.upper()
            if upper == "NOT" or upper == "EXISTS":
                self.pos += 1
                negated = upper == "NOT"
                if negated:
                    self._expect("EXISTS")
                return ExprExists(self._group(), negated)
            if upper in _AGGREGATES:
                self.pos += 1
                return self._aggregate(upper)
            if upper in _BUILTINS:
                self.pos += 1
                return ExprCall(upper, self._arguments())
            if upper in {"TRUE", "FALSE"}:
                self.pos += 1
                return ExprConst(Literal(token.text.lower(), datatype=XSD + "boolean"))
            raise self._error("Unknown function")
        if token.kind in {"iri", "pname"}:
            iri = self._iri_node()
            if self._is("("):
                return ExprCall(iri.value, self._arguments())
            return ExprConst(iri)
        node = self._term_node()
        assert not isinstance(node, Var)
        return ExprConst(node)

    def _arguments(self) -> tuple[Expr, ...]:
        self._expect("(")
        self._accept("DISTINCT")
        args: list[Expr] = []
        while not self._accept(")"):
            args.append(self._expression())
            if not self._accept(","):
                self._expect(")")
                break
        return tuple(args)

    def _aggregate(self, name: str) -> Aggregate:
        self._expect("(")
        distinct = self._accept("DISTINCT")
        arg = None if name == "COUNT" and self._accept("*") else self._expression()
        separator = " "
        if self._accept(";"):
            self._expect("SEPARATOR")
            self._expect("=")
            separator = self._literal().value
        self._expect(")")
        return Aggregate(name, arg, distinct, separator)


def parse_query(text: str) -> Query:
    return Parser(text).parse()
