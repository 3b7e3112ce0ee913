"""Normalised, provider-neutral records the provider clients return (plain frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Covers:
    """Cover image URLs by size. ISBNdb `original` URLs expire after about two hours."""

    large: str | None = None
    medium: str | None = None
    small: str | None = None
    original: str | None = None

    def is_empty(self) -> bool:
        return not (self.large or self.medium or self.small or self.original)


@dataclass(frozen=True, slots=True)
class ExternalIds:
    """Identifiers of the same book in other catalogues, as bare IDs (no URL prefixes)."""

    openlibrary_edition: str | None = None  # OL...M
    openlibrary_work: str | None = None  # OL...W
    google_volume: str | None = None
    amazon_asin: str | None = None
    goodreads_edition: str | None = None
    goodreads_work: str | None = None
    wikidata: str | None = None  # Q...
    archive: str | None = None  # Internet Archive identifier (ocaid)


@dataclass(frozen=True, slots=True)
class BookRecord:
    """One edition as a provider describes it. Absent facts are None or empty, never guessed.

    `publication_date` is the text as published ("2004", "2004-09", "Sept 2004"...),
    `language` is ISO 639-1 when known, `related_isbns` maps ISBN-13 to format ("" if unknown).
    """

    provider: str
    isbn13: str | None
    isbn10: str | None = None
    title: str | None = None
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    publication_date: str | None = None
    page_count: int | None = None
    language: str | None = None
    format: str | None = None
    description: str | None = None
    subjects: tuple[str, ...] = ()
    covers: Covers = field(default_factory=Covers)
    external_ids: ExternalIds = field(default_factory=ExternalIds)
    related_isbns: Mapping[str, str] = field(default_factory=dict)
    dewey: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkRecord:
    """An abstract work (Open Library `/works/OL...W`), which carries the description."""

    provider: str
    work_id: str
    title: str | None = None
    subtitle: str | None = None
    author_ids: tuple[str, ...] = ()
    description: str | None = None
    subjects: tuple[str, ...] = ()
    first_publish_date: str | None = None
    covers: Covers = field(default_factory=Covers)


@dataclass(frozen=True, slots=True)
class AuthorRecord:
    """A person as a provider describes them; `remote_ids` maps e.g. wikidata/viaf/isni to IDs."""

    provider: str
    author_id: str
    name: str
    personal_name: str | None = None
    alternate_names: tuple[str, ...] = ()
    birth_date: str | None = None
    death_date: str | None = None
    bio: str | None = None
    photo: str | None = None
    remote_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WikidataFacts:
    """What Wikidata knows of a book, read from the work (P629) of the edition, or the item.

    `isbn13` is the ISBN asked for (None for title searches); labels are English.
    """

    isbn13: str | None
    item: str  # Q-id of the item carrying the ISBN (or found by title)
    work: str  # Q-id of the work (the item itself when it has no P629)
    title: str | None = None
    authors: tuple[str, ...] = ()
    publication_date: str | None = None
    genres: tuple[str, ...] = ()
    main_subjects: tuple[str, ...] = ()
    openlibrary_id: str | None = None
    goodreads_work_id: str | None = None
    isbns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LLMBook:
    """A notable book an LLM suggested. Unverified: the ISBN is kept only if its checksum holds."""

    title: str
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    publication_year: int | None = None
    publication_month: int | None = None
    format: str | None = None
    description: str | None = None
    genres: tuple[str, ...] = ()
    isbn: str | None = None
