"""Lookup tables over the catalogue that every provider view shares: editions by ISBN, books by
provider id, authors by name, and which provider knows which edition."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox import ids
from sandbox.catalogue import AuthorDetail, Catalogue, CatalogueBook
from sandbox.hashing import chance
from sandbox.isbns import compact, to_isbn13

# How much of the catalogue each provider knows by default (overridable with the coverage knob).
DEFAULT_COVERAGE: dict[str, float] = {
    "isbndb": 0.90,
    "google_books": 0.80,
    "openlibrary": 0.75,
    "archive": 0.40,
    "wikidata": 0.60,
}


@dataclass(frozen=True)
class EditionView:
    """One edition of a catalogue book: the primary one or one of its other_editions."""

    book: CatalogueBook
    isbn13: str
    format: str
    publisher: str
    publication_date: str

    @property
    def primary(self) -> bool:
        return self.isbn13 == self.book.isbn13


@dataclass(frozen=True)
class PartialDate:
    year: int
    month: int | None
    day: int | None


def parse_date(value: str) -> PartialDate:
    """'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' as in the catalogue."""
    parts = [int(part) for part in value.split("-") if part.isdigit()]
    year = parts[0] if parts else 1900
    month = parts[1] if len(parts) > 1 else None
    day = parts[2] if len(parts) > 2 else None
    return PartialDate(year, month, day)


def editions_of(book: CatalogueBook) -> list[EditionView]:
    primary = EditionView(book, book.isbn13, book.format, book.publisher, book.publication_date)
    others = [
        EditionView(
            book, edition.isbn13, edition.format, edition.publisher, edition.publication_date
        )
        for edition in book.other_editions
    ]
    return [primary, *others]


def author_detail(book: CatalogueBook, name: str) -> AuthorDetail | None:
    wanted = name.casefold()
    return next((d for d in book.author_details if d.name.casefold() == wanted), None)


def knows(provider: str, edition: EditionView, coverage: float) -> bool:
    """Whether a provider has this edition: a stable coin per (provider, book), and for secondary
    editions a second coin, since providers know fewer reprints than first editions."""
    if not chance(coverage, "coverage", provider, edition.book.id):
        return False
    return edition.primary or chance(coverage, "coverage", provider, edition.isbn13)


@dataclass
class CatalogueIndex:
    catalogue: Catalogue
    editions: dict[str, EditionView] = field(default_factory=dict)
    books: dict[str, CatalogueBook] = field(default_factory=dict)
    google_volumes: dict[str, EditionView] = field(default_factory=dict)
    ol_works: dict[str, CatalogueBook] = field(default_factory=dict)
    ol_editions: dict[str, EditionView] = field(default_factory=dict)
    ol_authors: dict[str, tuple[str, AuthorDetail | None, list[CatalogueBook]]] = field(
        default_factory=dict
    )
    archive_items: dict[str, CatalogueBook] = field(default_factory=dict)
    archive_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, catalogue: Catalogue) -> CatalogueIndex:
        index = cls(catalogue)
        for book in catalogue.books:
            index.books[book.id] = book
            index.ol_works[ids.ol_work_id(book)] = book
            for edition in editions_of(book):
                index.editions.setdefault(edition.isbn13, edition)
                index.google_volumes[ids.google_volume_id(book, edition.isbn13)] = edition
                index.ol_editions[ids.ol_edition_id(book, edition.isbn13)] = edition
            for name in book.authors:
                detail = author_detail(book, name)
                key = ids.ol_author_id(name, detail)
                entry = index.ol_authors.setdefault(key, (name, detail, []))
                entry[2].append(book)
            identifier = ids.archive_id(book)
            # Two books can slug to the same scan name; archive.org suffixes such items with _1.
            suffix = 0
            while identifier in index.archive_items:
                suffix += 1
                identifier = f"{ids.archive_id(book)}_{suffix}"
            index.archive_items[identifier] = book
            index.archive_ids[book.id] = identifier
        return index

    def edition(self, isbn: str) -> EditionView | None:
        """The edition for an ISBN-10 or ISBN-13 in any spelling, or None."""
        isbn13 = to_isbn13(compact(isbn))
        return self.editions.get(isbn13) if isbn13 else None

    def all_editions(self) -> Iterable[EditionView]:
        return self.editions.values()
