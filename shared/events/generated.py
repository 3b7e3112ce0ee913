"""Event models generated from schemas/ by shared/events/codegen.py: do not edit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AvroRecord(BaseModel):
    """Frozen, strict about unknown fields: a model is exactly its Avro record."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(AvroRecord):
    """A top-level event: one schema folder, one topic, an envelope first."""


class Envelope(AvroRecord):
    """Metadata every event carries (docs/architecture.md §2)."""

    event_id: str
    """UUID; deterministic (UUIDv5 of causation id + item) where the input is."""
    occurred_at: datetime
    """When the fact happened (UTC)."""
    correlation_id: str
    """The month run this event belongs to, e.g. month:2019-03."""
    causation_id: str | None = None
    """event_id of the event this one was made from; null for a root event."""
    producer: str
    """Service (or CLI command) that produced the event."""
    schema_version: int
    """Version of this event's schema the producer wrote."""


class GeneratedBook(AvroRecord):
    """A book an LLM said appeared in the month, after cross-provider dedup."""

    book_id: str
    """Stable id: hash of the normalised title and first author."""
    title: str
    subtitle: str | None = None
    authors: list[str] = Field(default_factory=list)
    publisher: str | None = None
    publication_year: int | None = None
    publication_month: int | None = None
    format: str | None = None
    """hardcover, paperback, ebook, audiobook... as the LLM said."""
    description: str | None = None
    genres: list[str] = Field(default_factory=list)
    isbn: str | None = None
    """ISBN the LLM suggested; unverified."""
    source_providers: list[str] = Field(default_factory=list)
    """Which LLM providers proposed this book."""


class LLMCall(AvroRecord):
    """One LLM provider's part in generating a month."""

    provider: str
    model: str
    calls: int
    books_returned: int
    duration_ms: int
    error: str | None = None
    """Why the provider failed; null when it answered."""


class BooksGenerated(Event):
    """The LLMs answered for a month; books are deduplicated across providers."""

    envelope: Envelope
    year: int
    month: int
    prompt_variant: str
    attempt: int = 1
    books: list[GeneratedBook]
    provider_calls: list[LLMCall]


class DeadLetter(Event):
    """An input a consumer could not decode or apply, kept with the reason."""

    envelope: Envelope
    consumer: str
    """Name of the consumer that gave up on the message."""
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None = None
    payload: bytes
    """The original value bytes, untouched."""
    headers: dict[str, bytes] = Field(default_factory=dict)
    error_type: str
    reason: str


class ResolutionAttempt(AvroRecord):
    """One provider tried while resolving a book's ISBN."""

    provider: str
    status: str
    """matched | no_match | rejected | skipped_quota | unavailable | error"""
    candidate_isbn: str | None = None
    score: float | None = None
    """Title/author agreement, 0..1."""
    detail: str | None = None
    duration_ms: int


class ISBNResolved(Event):
    """The outcome of resolving one generated book: resolved, unresolved or already known."""

    envelope: Envelope
    year: int
    month: int
    book: GeneratedBook
    month_book_count: int
    """How many books the month's BooksGenerated held."""
    outcome: str
    """resolved | unresolved | already_known"""
    isbn13: str | None = None
    """The resolved ISBN-13, or the known edition's ISBN."""
    provider: str | None = None
    """Provider whose candidate was accepted."""
    confidence: float | None = None
    """Title/author agreement of the accepted candidate, 0..1."""
    attempts: list[ResolutionAttempt]
    work_key: str | None = None
    """already_known: the existing work; unresolved: the synthetic work's key."""


class EditionFacts(AvroRecord):
    """What one provider says about an edition (ISBN)."""

    provider: str
    quality: int
    """Edition quality score (0..100) of these facts."""
    title: str | None = None
    subtitle: str | None = None
    publisher: str | None = None
    publication_date: str | None = None
    """As published: 2019, 2019-03 or 2019-03-05."""
    page_count: int | None = None
    format: str | None = None
    binding: str | None = None
    language: str | None = None
    """ISO 639-1."""
    cover_url_large: str | None = None
    cover_url_medium: str | None = None
    cover_url_small: str | None = None
    cover_url_original: str | None = None
    openlibrary_edition_id: str | None = None
    amazon_asins: list[str] = Field(default_factory=list)
    google_books_volume_ids: list[str] = Field(default_factory=list)
    goodreads_edition_ids: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    dewey_decimal: list[str] = Field(default_factory=list)
    related_isbns: dict[str, str] = Field(default_factory=dict)
    """Other editions: ISBN-13 -> format."""
    alternate_isbns: list[str] = Field(default_factory=list)
    """Other forms of this ISBN (e.g. the ISBN-10)."""
    response_time_ms: int = 0
    """How long the provider took to answer."""


class WorkFacts(AvroRecord):
    """What one provider says about the work an edition belongs to."""

    provider: str
    quality: int
    """Work quality score (0..100) of these facts."""
    title: str | None = None
    subtitle: str | None = None
    description: str | None = None
    original_language: str | None = None
    first_publication_year: int | None = None
    subject_tags: list[str] = Field(default_factory=list)
    cover_url_large: str | None = None
    cover_url_medium: str | None = None
    cover_url_small: str | None = None
    openlibrary_work_id: str | None = None
    goodreads_work_ids: list[str] = Field(default_factory=list)
    amazon_asins: list[str] = Field(default_factory=list)
    google_books_volume_ids: list[str] = Field(default_factory=list)
    response_time_ms: int = 0
    """How long the provider took to answer."""


class AuthorFacts(AvroRecord):
    """What one provider says about one author of the work."""

    provider: str
    author_key: str
    """Deterministic key from the normalised name."""
    name: str
    normalized_name: str
    author_order: int
    gender: str | None = None
    nationality: str | None = None
    birth_year: int | None = None
    death_year: int | None = None
    bio: str | None = None
    author_photo_url: str | None = None
    openlibrary_author_id: str | None = None
    goodreads_author_ids: list[str] = Field(default_factory=list)
    wikidata_id: str | None = None


class WorkMatch(AvroRecord):
    """The enricher's decision of which work the edition belongs to."""

    work_key: str
    confidence: float
    """0..1"""
    source: str
    """isbn | title_author | new"""


class MetadataFetched(Event):
    """Full metadata for one ISBN, per provider, with the work decision."""

    envelope: Envelope
    year: int | None = None
    month: int | None = None
    book_id: str | None = None
    isbn13: str
    editions: list[EditionFacts]
    works: list[WorkFacts]
    authors: list[AuthorFacts]
    work_match: WorkMatch
    fetch_ms: int
    """Time spent fetching this ISBN's batch."""


class MonthGenerationFailed(Event):
    """Every LLM provider failed for a month's attempt."""

    envelope: Envelope
    year: int
    month: int
    attempt: int
    reason: str
    provider_calls: list[LLMCall]


class MonthScheduled(Event):
    """A month was claimed for backfill and should be generated."""

    envelope: Envelope
    year: int
    month: int
    prompt_variant: str
    """baseline | contemporary-notable"""
    batch_size: int
    """How many books to ask each LLM for."""
    attempt: int = 1
    """1 for the first try, then one more per retry."""


EVENT_RECORDS = (
    BooksGenerated,
    DeadLetter,
    ISBNResolved,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
)
__all__ = [
    "AuthorFacts",
    "BooksGenerated",
    "DeadLetter",
    "EditionFacts",
    "Envelope",
    "GeneratedBook",
    "ISBNResolved",
    "LLMCall",
    "MetadataFetched",
    "MonthGenerationFailed",
    "MonthScheduled",
    "ResolutionAttempt",
    "WorkFacts",
    "WorkMatch",
]
