"""The Wikidata-shaped graph of the catalogue: work items with genres and subjects, edition items
with hyphenated ISBNs (P212/P957) pointing to their work (P629), authors, publishers."""

from __future__ import annotations

from sandbox import ids
from sandbox.catalogue import CatalogueBook
from sandbox.catalogue_index import CatalogueIndex, author_detail, editions_of, knows, parse_date
from sandbox.hashing import chance, stable_int
from sandbox.isbns import hyphenate, to_isbn10
from sandbox.rdf import (
    RDFS_LABEL,
    SCHEMA_DESCRIPTION,
    SKOS_ALT_LABEL,
    Graph,
    Iri,
    Literal,
    entity,
    lang_string,
    plain,
    prop,
    typed,
)
from sandbox.variants import spread_initials, squash_initials

PROVIDER = "wikidata"
LITERARY_WORK, WRITTEN_WORK, BOOK, EDITION, HUMAN = (
    "Q7725634", "Q47461344", "Q571", "Q3331189", "Q5",
)  # fmt: skip
ENGLISH = "Q1860"
_GENDERS = {"male": "Q6581097", "female": "Q6581072", "non-binary": "Q48270"}
_LANGUAGES = {
    "en": ENGLISH, "fr": "Q150", "de": "Q188", "es": "Q1321", "it": "Q652", "ja": "Q5287",
    "pt": "Q5146", "ru": "Q7737", "zh": "Q7850", "nl": "Q7411", "sv": "Q9027",
}  # fmt: skip


def _label(graph: Graph, node: Iri, text: str, description: str | None = None) -> None:
    graph.add(node, Iri(RDFS_LABEL), lang_string(text))
    if description:
        graph.add(node, Iri(SCHEMA_DESCRIPTION), lang_string(description))


def _date(value: str) -> Literal:
    date = parse_date(value)
    # Wikidata stores day- or month-precision dates with 00 for the unknown parts.
    return typed(f"{date.year:04d}-{date.month or 1:02d}-{date.day or 1:02d}T00:00:00Z", "dateTime")


def _class_items(graph: Graph) -> None:
    for qid, label in (
        (LITERARY_WORK, "literary work"),
        (WRITTEN_WORK, "written work"),
        (BOOK, "book"),
        (EDITION, "version, edition or translation"),
        (HUMAN, "human"),
        (ENGLISH, "English"),
    ):
        _label(graph, entity(qid), label)
    graph.add(entity(LITERARY_WORK), prop("P279"), entity(WRITTEN_WORK))
    graph.add(entity(BOOK), prop("P279"), entity(WRITTEN_WORK))


def _named_item(graph: Graph, kind: str, name: str, label: str | None = None) -> Iri:
    node = entity(ids.qid(kind, name))
    _label(graph, node, label or name)
    return node


def _add_work(graph: Graph, book: CatalogueBook, index: CatalogueIndex, coverage: float) -> None:
    work = entity(ids.work_qid(book))
    year = parse_date(book.publication_date).year
    first_author = book.authors[0] if book.authors else "an unknown author"
    _label(graph, work, book.title, f"{year} book by {first_author}")
    graph.add(work, prop("P31"), entity(LITERARY_WORK))
    graph.add(work, prop("P1476"), lang_string(book.title, book.language))
    if book.subtitle:
        graph.add(work, prop("P1680"), lang_string(book.subtitle, book.language))
    graph.add(work, prop("P577"), _date(book.publication_date))
    graph.add(work, prop("P407"), entity(_LANGUAGES.get(book.language, ENGLISH)))
    graph.add(work, prop("P648"), plain(ids.ol_work_id(book)))
    graph.add(work, prop("P8383"), plain(str(stable_int("grwork", book.id) % 90_000_000)))
    graph.add(work, prop("P675"), plain(ids.google_volume_id(book, book.isbn13)))
    if chance(0.4, "coverage", "archive", book.id):
        graph.add(work, prop("P724"), plain(index.archive_ids[book.id]))
    for genre in book.genres:
        # Wikidata labels of genres are lower case ("science fiction").
        graph.add(work, prop("P136"), _named_item(graph, "genre", genre, genre.lower()))
    for subject in book.subjects:
        graph.add(work, prop("P921"), _named_item(graph, "subject", subject))
    for name in book.authors:
        detail = author_detail(book, name)
        author = entity(ids.author_qid(name, detail))
        graph.add(work, prop("P50"), author)
        _label(graph, author, name, "writer")
        for alias in {squash_initials(name), spread_initials(name)} - {name}:
            graph.add(author, Iri(SKOS_ALT_LABEL), lang_string(alias))
        graph.add(author, prop("P31"), entity(HUMAN))
        graph.add(author, prop("P648"), plain(ids.ol_author_id(name, detail)))
        if detail is None:
            continue
        if detail.birth_year is not None:
            graph.add(
                author, prop("P569"), typed(f"{detail.birth_year:04d}-01-01T00:00:00Z", "dateTime")
            )
        if detail.death_year is not None:
            graph.add(
                author, prop("P570"), typed(f"{detail.death_year:04d}-01-01T00:00:00Z", "dateTime")
            )
        if detail.gender and detail.gender.lower() in _GENDERS:
            graph.add(author, prop("P21"), entity(_GENDERS[detail.gender.lower()]))
        if detail.nationality:
            graph.add(author, prop("P27"), _named_item(graph, "country", detail.nationality))

    # ISBNs sit mostly on edition items (P629 -> work); a minority of works carry them directly.
    on_work = chance(0.25, PROVIDER, "isbn-on-work", book.id)
    for edition in editions_of(book):
        if not knows(PROVIDER, edition, coverage):
            continue
        target = (
            work if on_work and edition.primary else entity(ids.edition_qid(book, edition.isbn13))
        )
        if target != work:
            _label(
                graph, target, book.title, f"{parse_date(edition.publication_date).year} edition"
            )
            graph.add(target, prop("P31"), entity(EDITION))
            graph.add(target, prop("P629"), work)
            graph.add(work, prop("P747"), target)
            graph.add(target, prop("P1476"), lang_string(book.title, book.language))
            graph.add(target, prop("P577"), _date(edition.publication_date))
            graph.add(target, prop("P648"), plain(ids.ol_edition_id(book, edition.isbn13)))
            if edition.primary and book.pages is not None:
                graph.add(target, prop("P1104"), typed(str(book.pages), "decimal"))
            graph.add(target, prop("P123"), _named_item(graph, "publisher", edition.publisher))
        graph.add(target, prop("P212"), plain(hyphenate(edition.isbn13)))
        isbn10 = to_isbn10(edition.isbn13)
        if isbn10:
            graph.add(target, prop("P957"), plain(hyphenate(isbn10)))


def build_graph(index: CatalogueIndex, coverage: float) -> Graph:
    graph = Graph()
    _class_items(graph)
    for book in index.catalogue.books:
        if knows(PROVIDER, index.editions[book.isbn13], coverage):
            _add_work(graph, book, index, coverage)
    return graph
