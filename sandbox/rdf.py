"""RDF terms and an indexed in-memory triple store, the data model behind the SPARQL endpoint."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_ALT_LABEL = "http://www.w3.org/2004/02/skos/core#altLabel"
SCHEMA_DESCRIPTION = "http://schema.org/description"
WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"


@dataclass(frozen=True)
class Iri:
    value: str


@dataclass(frozen=True)
class Literal:
    value: str
    lang: str | None = None
    datatype: str | None = None


@dataclass(frozen=True)
class BNode:
    value: str


Term = Iri | Literal | BNode


def plain(value: str) -> Literal:
    return Literal(value)


def lang_string(value: str, lang: str = "en") -> Literal:
    return Literal(value, lang=lang)


def typed(value: str, datatype: str) -> Literal:
    return Literal(value, datatype=XSD + datatype if ":" not in datatype else datatype)


def entity(qid: str) -> Iri:
    return Iri(WD + qid)


def prop(pid: str) -> Iri:
    return Iri(WDT + pid)


class Graph:
    """Triples indexed by subject+predicate and by predicate+object."""

    def __init__(self) -> None:
        self._sp: dict[Term, dict[Term, list[Term]]] = defaultdict(lambda: defaultdict(list))
        self._po: dict[Term, dict[Term, list[Term]]] = defaultdict(lambda: defaultdict(list))
        self._p: dict[Term, list[tuple[Term, Term]]] = defaultdict(list)
        self._seen: set[tuple[Term, Term, Term]] = set()
        self.nodes: set[Term] = set()

    def add(self, s: Term, p: Term, o: Term) -> None:
        if (s, p, o) in self._seen:
            return
        self._seen.add((s, p, o))
        self._sp[s][p].append(o)
        self._po[p][o].append(s)
        self._p[p].append((s, o))
        self.nodes.update((s, o))

    def __len__(self) -> int:
        return len(self._seen)

    def objects(self, s: Term, p: Term) -> list[Term]:
        by_p = self._sp.get(s)
        return list(by_p.get(p, ())) if by_p else []

    def subjects(self, p: Term, o: Term) -> list[Term]:
        by_o = self._po.get(p)
        return list(by_o.get(o, ())) if by_o else []

    def pairs(self, p: Term) -> list[tuple[Term, Term]]:
        return list(self._p.get(p, ()))

    def predicates_of(self, s: Term) -> Iterator[tuple[Term, list[Term]]]:
        yield from (self._sp.get(s) or {}).items()

    def all_triples(self) -> Iterable[tuple[Term, Term, Term]]:
        return iter(self._seen)

    def label(self, node: Term, langs: Iterable[str] = ("en",)) -> Literal | None:
        for lang in langs:
            for value in self.objects(node, Iri(RDFS_LABEL)):
                if isinstance(value, Literal) and value.lang == lang:
                    return value
        return None
