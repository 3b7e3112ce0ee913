"""The bundled catalogue the sandbox serves: real books (books.json) and invented ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "AuthorDetail",
    "Catalogue",
    "CatalogueBook",
    "Edition",
    "InventedBook",
    "load_catalogue",
    "parse_catalogue",
]

BOOKS_FILE = "books.json"
INVENTED_FILE = "invented.json"


@dataclass(frozen=True, slots=True)
class Edition:
    """Another edition of a catalogue book (paperback, ebook, audiobook, other market)."""

    isbn13: str
    format: str
    publisher: str
    publication_date: str  # 'YYYY-MM-DD' or 'YYYY-MM'


@dataclass(frozen=True, slots=True)
class AuthorDetail:
    name: str
    birth_year: int | None
    death_year: int | None
    nationality: str | None
    gender: str | None
    wikidata_id: str | None
    openlibrary_author_id: str | None
    bio: str | None


@dataclass(frozen=True, slots=True)
class CatalogueBook:
    """A real book; `isbn13`, `format`, `publisher` and `publication_date` describe its first
    (primary) edition. External ids are None where the real one is not known."""

    id: str
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    publisher: str
    publication_date: str  # 'YYYY-MM-DD' or 'YYYY-MM'
    pages: int | None
    language: str  # ISO 639-1
    isbn13: str
    format: str
    other_editions: tuple[Edition, ...]
    subjects: tuple[str, ...]
    genres: tuple[str, ...]
    description: str
    openlibrary_work_id: str | None
    openlibrary_edition_id: str | None
    google_books_id: str | None
    wikidata_id: str | None
    archive_id: str | None
    author_details: tuple[AuthorDetail, ...]

    @property
    def publication_year(self) -> int:
        return int(self.publication_date[:4])

    @property
    def publication_month(self) -> int | None:
        return int(self.publication_date[5:7]) if len(self.publication_date) >= 7 else None

    @property
    def isbn13s(self) -> tuple[str, ...]:
        """The primary ISBN-13 followed by those of the other editions."""
        return (self.isbn13, *(edition.isbn13 for edition in self.other_editions))


@dataclass(frozen=True, slots=True)
class InventedBook:
    """A plausible book that does not exist: what an LLM hallucination looks like."""

    id: str
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    publisher: str
    publication_year: int
    publication_month: int
    format: str
    description: str
    genres: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Catalogue:
    books: tuple[CatalogueBook, ...]
    invented: tuple[InventedBook, ...]
    by_isbn13: dict[str, CatalogueBook] = field(repr=False)
    by_id: dict[str, CatalogueBook] = field(repr=False)
    _books_by_month: dict[tuple[int, int], tuple[CatalogueBook, ...]] = field(repr=False)
    _invented_by_month: dict[tuple[int, int], tuple[InventedBook, ...]] = field(repr=False)

    @classmethod
    def of(cls, books: tuple[CatalogueBook, ...], invented: tuple[InventedBook, ...]) -> Catalogue:
        by_isbn13: dict[str, CatalogueBook] = {}
        for book in books:
            for isbn13 in book.isbn13s:
                if isbn13 in by_isbn13:
                    raise ValueError(
                        f"ISBN {isbn13} appears twice ({by_isbn13[isbn13].id}, {book.id})"
                    )
                by_isbn13[isbn13] = book
        by_id: dict[str, CatalogueBook] = {}
        for book in books:
            if book.id in by_id:
                raise ValueError(f"catalogue id {book.id} appears twice")
            by_id[book.id] = book
        books_by_month: dict[tuple[int, int], list[CatalogueBook]] = {}
        for book in books:
            if book.publication_month is not None:
                key = (book.publication_year, book.publication_month)
                books_by_month.setdefault(key, []).append(book)
        invented_by_month: dict[tuple[int, int], list[InventedBook]] = {}
        for inv in invented:
            key = (inv.publication_year, inv.publication_month)
            invented_by_month.setdefault(key, []).append(inv)
        return cls(
            books=books,
            invented=invented,
            by_isbn13=by_isbn13,
            by_id=by_id,
            _books_by_month={k: tuple(v) for k, v in books_by_month.items()},
            _invented_by_month={k: tuple(v) for k, v in invented_by_month.items()},
        )

    def books_in_month(self, year: int, month: int) -> tuple[CatalogueBook, ...]:
        """Books whose first edition came out in that month, in catalogue order."""
        return self._books_by_month.get((year, month), ())

    def invented_in_month(self, year: int, month: int) -> tuple[InventedBook, ...]:
        return self._invented_by_month.get((year, month), ())


# --- parsing -------------------------------------------------------------------------------------


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} must be a non-empty string, got {value!r}")
    return value


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string or null, got {value!r}")
    return value or None


def _int(raw: Mapping[str, Any], key: str) -> int:
    value = raw[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key!r} must be an integer, got {value!r}")
    return value


def _opt_int(raw: Mapping[str, Any], key: str) -> int | None:
    return None if raw.get(key) is None else _int(raw, key)


def _strs(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _records(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"{key!r} must be a list of objects")
    return value


def _edition(raw: Mapping[str, Any]) -> Edition:
    return Edition(
        isbn13=_str(raw, "isbn13"),
        format=_str(raw, "format"),
        publisher=_str(raw, "publisher"),
        publication_date=_str(raw, "publication_date"),
    )


def _author(raw: Mapping[str, Any]) -> AuthorDetail:
    return AuthorDetail(
        name=_str(raw, "name"),
        birth_year=_opt_int(raw, "birth_year"),
        death_year=_opt_int(raw, "death_year"),
        nationality=_opt_str(raw, "nationality"),
        gender=_opt_str(raw, "gender"),
        wikidata_id=_opt_str(raw, "wikidata_id"),
        openlibrary_author_id=_opt_str(raw, "openlibrary_author_id"),
        bio=_opt_str(raw, "bio"),
    )


def _book(raw: Mapping[str, Any]) -> CatalogueBook:
    try:
        return CatalogueBook(
            id=_str(raw, "id"),
            title=_str(raw, "title"),
            subtitle=_opt_str(raw, "subtitle"),
            authors=_strs(raw, "authors"),
            publisher=_str(raw, "publisher"),
            publication_date=_str(raw, "publication_date"),
            pages=_opt_int(raw, "pages"),
            language=_str(raw, "language"),
            isbn13=_str(raw, "isbn13"),
            format=_str(raw, "format"),
            other_editions=tuple(_edition(e) for e in _records(raw, "other_editions")),
            subjects=_strs(raw, "subjects"),
            genres=_strs(raw, "genres"),
            description=_str(raw, "description"),
            openlibrary_work_id=_opt_str(raw, "openlibrary_work_id"),
            openlibrary_edition_id=_opt_str(raw, "openlibrary_edition_id"),
            google_books_id=_opt_str(raw, "google_books_id"),
            wikidata_id=_opt_str(raw, "wikidata_id"),
            archive_id=_opt_str(raw, "archive_id"),
            author_details=tuple(_author(a) for a in _records(raw, "author_details")),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad catalogue book {raw.get('id')!r}: {exc}") from exc


def _invented(raw: Mapping[str, Any]) -> InventedBook:
    try:
        return InventedBook(
            id=_str(raw, "id"),
            title=_str(raw, "title"),
            subtitle=_opt_str(raw, "subtitle"),
            authors=_strs(raw, "authors"),
            publisher=_str(raw, "publisher"),
            publication_year=_int(raw, "publication_year"),
            publication_month=_int(raw, "publication_month"),
            format=_str(raw, "format"),
            description=_str(raw, "description"),
            genres=_strs(raw, "genres"),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad invented book {raw.get('id')!r}: {exc}") from exc


def _array(text: str, name: str) -> list[Mapping[str, Any]]:
    data = json.loads(text)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError(f"{name} must hold a JSON array of objects")
    return data


def parse_catalogue(books_json: str, invented_json: str) -> Catalogue:
    """Build a Catalogue from the text of books.json and invented.json."""
    books = tuple(_book(raw) for raw in _array(books_json, BOOKS_FILE))
    invented = tuple(_invented(raw) for raw in _array(invented_json, INVENTED_FILE))
    return Catalogue.of(books, invented)


@cache
def load_catalogue() -> Catalogue:
    """The bundled catalogue, read once per process."""
    package = resources.files(__name__)
    return parse_catalogue(
        package.joinpath(BOOKS_FILE).read_text(encoding="utf-8"),
        package.joinpath(INVENTED_FILE).read_text(encoding="utf-8"),
    )
