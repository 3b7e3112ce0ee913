"""Generator decisions: prompt, answer schema, item parsing, dedup, and the month's outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.events import (
    BooksGenerated,
    GeneratedBook,
    LLMCall,
    MonthGenerationFailed,
    MonthScheduled,
    derived_envelope,
)
from shared.months import PROMPT_VARIANTS
from shared.providers.errors import MalformedResponse
from shared.providers.llm import BOOK_LIST_SCHEMA, parse_llm_book, to_gemini_schema
from shared.providers.models import LLMBook
from shared.similarity import AUTHORS_AGREE, author_agreement, title_similarity
from shared.text import (
    book_id_for,
    full_title,
    normalise_author,
    normalise_title,
    stable_key,
    tidy_authors,
    title_without_subtitle,
)

__all__ = [
    "BOOK_LIST_SCHEMA",
    "DEFAULT_PROVIDER_PRIORITY",
    "GEMINI_BOOK_LIST_SCHEMA",
    "SYSTEM_INSTRUCTION",
    "TITLE_DEDUP_THRESHOLD",
    "Answer",
    "CandidateBook",
    "build_prompt",
    "dedup_books",
    "generation_outcome",
    "in_requested_month",
    "parse_llm_books",
    "same_book",
]

CandidateBook = LLMBook
"""One provider's suggestion, already coerced by the provider layer (ISBN checksum-checked)."""

GEMINI_BOOK_LIST_SCHEMA: dict[str, Any] = to_gemini_schema(BOOK_LIST_SCHEMA)
"""BOOK_LIST_SCHEMA (JSON Schema, OpenAI/xAI strict `json_schema` form: every property required,
absence as null, additionalProperties false) in Gemini's `responseSchema` dialect (providers.md
section 6: OpenAPI subset, upper-case types, `nullable`, no additionalProperties). The clients
convert on their own; this is the same conversion, exposed for tests and inspection."""

TITLE_DEDUP_THRESHOLD = 0.6
"""The seed's 60 % title similarity; safe to keep because authors must agree as well."""
_UNKNOWN_AUTHOR_TITLE = 0.9
"""With no author on one side only a near-identical title merges: the seed's title-only rule
merged different books, and authorless suggestions are where that risk is highest."""
DEFAULT_PROVIDER_PRIORITY = ("gemini", "xai", "openai_compat")
"""Whose values win when merged books disagree; unlisted providers follow, by name."""

SYSTEM_INSTRUCTION = (
    "You are a careful bibliographer. You list only books that really exist, with their "
    "real authors and publishers. When unsure of a fact (especially an ISBN) give null "
    "rather than a guess; fewer real books are better than any invented one."
)
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")  # fmt: skip
_FIELDS = (
    "Give for each book: title (main title only), subtitle, authors (full names, one per "
    "entry), publisher, publication_year, publication_month (1-12), format, a one or two "
    "sentence description, genres, and the ISBN-13 only if you are certain of it."
)


def _month_label(year: int, month: int) -> tuple[str, str]:
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is outside 1..12")
    return f"{_MONTH_NAMES[month - 1]} {year}", f"{year:04d}-{month:02d}"


def build_prompt(year: int, month: int, variant: str, batch_size: int) -> str:
    """The user prompt for one month: the month in words and as YYYY-MM, so neither the model
    nor a reader of the logs can mistake it; `variant` as in shared.months."""
    words, iso = _month_label(year, month)
    if variant == "baseline":
        ask = (
            f"List {batch_size} notable books first published in {words} ({iso}). "
            f"Only books whose first publication was in {words}."
        )
    elif variant == "contemporary-notable":
        ask = (
            f"List {batch_size} books published in {words} ({iso}) that were recognised at "
            "the time by verifiable sources: prize longlists, shortlists or winners, national "
            "bestseller lists (such as The New York Times list), or reviews in major "
            "publications. Give the format of the edition published that month "
            "(hardcover, paperback, ebook or audiobook)."
        )
    else:
        raise ValueError(f"prompt variant {variant!r} is unknown (use one of: {PROMPT_VARIANTS})")
    return f"{ask} {_FIELDS} Answer as JSON: an object with a `books` array."


def parse_llm_books(items: Sequence[object]) -> tuple[list[LLMBook], list[str]]:
    """(books, why each dropped item was dropped): one malformed item costs only itself."""
    books: list[LLMBook] = []
    dropped: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            dropped.append(f"item {index}: a {type(item).__name__}, not an object")
            continue
        try:
            books.append(parse_llm_book(item))
        except MalformedResponse as exc:
            dropped.append(f"item {index}: {str(exc).removeprefix('llm: ')}")
    return books, dropped


def in_requested_month(book: GeneratedBook | LLMBook, year: int, month: int) -> bool:
    """False only when the book states another year or month; unknown dates are not evidence
    against it. The generator keeps such books (the resolver and projector decide)."""
    if book.publication_year is not None and book.publication_year != year:
        return False
    return book.publication_month is None or book.publication_month == month


def same_book(a: LLMBook, b: LLMBook) -> bool:
    """Titles at least TITLE_DEDUP_THRESHOLD alike and authors agreeing ("Becoming" by two
    different authors stays two books); without authors, only a near-identical title."""
    similarity = title_similarity(full_title(a.title, a.subtitle), full_title(b.title, b.subtitle))
    if similarity < TITLE_DEDUP_THRESHOLD:
        return False
    if a.authors and b.authors:
        return author_agreement(a.authors, b.authors) >= AUTHORS_AGREE
    return similarity >= _UNKNOWN_AUTHOR_TITLE


_Member = tuple[int, str, LLMBook]  # (provider rank, provider, book)


def _provider_rank(provider: str, priority: Sequence[str]) -> int:
    return priority.index(provider) if provider in priority else len(priority)


def _richness(book: LLMBook) -> int:
    values = (book.subtitle, book.authors, book.publisher, book.publication_year, book.format,
              book.description, book.genres, book.isbn)  # fmt: skip
    return sum(1 for value in values if value)


def _book_order(book: LLMBook) -> tuple[Any, ...]:
    """A total order on every field, so equal-ranked suggestions never tie on input order."""
    return (book.title, book.subtitle or "", book.authors, book.publisher or "",
            book.publication_year or 0, book.publication_month or 0, book.format or "",
            book.description or "", book.genres, book.isbn or "")  # fmt: skip


def _member_order(member: _Member) -> tuple[Any, ...]:
    """Suggestions naming an author first (the merged book takes its identity from the first),
    then provider priority, the richest suggestion, the longest title, then everything else."""
    rank, provider, book = member
    title_length = len(full_title(book.title, book.subtitle))
    return (not book.authors, rank, provider, -_richness(book), -title_length, _book_order(book))


def _tidy(book: LLMBook) -> LLMBook:
    subtitle = book.subtitle.strip() if book.subtitle else None
    return replace(book, title=book.title.strip(), subtitle=subtitle or None,
                   authors=tuple(tidy_authors(book.authors)))  # fmt: skip


def _clusters(members: Sequence[_Member]) -> list[list[_Member]]:
    """Connected components of same_book: the result depends on the set, not the order."""
    parent = list(range(len(members)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            if root(i) != root(j) and same_book(members[i][2], members[j][2]):
                parent[max(root(i), root(j))] = min(root(i), root(j))
    groups: dict[int, list[_Member]] = {}
    for i, member in enumerate(members):
        groups.setdefault(root(i), []).append(member)
    return list(groups.values())


def _first(values: Sequence[str | None]) -> str | None:
    """Provider order first; among one provider's duplicates the longer (richer) value."""
    return next((v for v in values if v), None)


def _merge(cluster: Sequence[_Member], priority: Sequence[str]) -> GeneratedBook:
    """Identity (title, subtitle, authors) and the date come whole from one suggestion, so a
    merged book is always one a provider actually made; other fields fill from the rest."""
    books = [book for _, _, book in cluster]
    lead = books[0]
    dated = next((b for b in books if b.publication_year is not None), lead)

    def pick(field: str) -> str | None:
        by_length = sorted(cluster, key=lambda m: (m[0], m[1], -len(getattr(m[2], field) or "")))
        return _first([getattr(m[2], field) for m in by_length])

    genres: dict[str, str] = {}
    for book in books:
        for genre in book.genres:
            genres.setdefault(genre.strip().casefold(), genre.strip())
    providers = sorted({p for _, p, _ in cluster}, key=lambda p: (_provider_rank(p, priority), p))
    return GeneratedBook(
        book_id=book_id_for(lead.title, lead.authors[0] if lead.authors else ""),
        title=lead.title,
        subtitle=lead.subtitle,
        authors=list(lead.authors),
        publisher=pick("publisher"),
        publication_year=dated.publication_year,
        publication_month=dated.publication_month,
        format=pick("format"),
        description=pick("description"),
        genres=[genres[key] for key in sorted(genres) if key],
        isbn=pick("isbn"),
        source_providers=providers,
    )


def _unique_ids(books: list[GeneratedBook]) -> list[GeneratedBook]:
    """Books that stayed apart but share an id (same main title and author, different
    subtitles: "Thrawn: Alliances" / "Thrawn: Treason") all get the full title in their id."""
    counts: dict[str, int] = {}
    for book in books:
        counts[book.book_id] = counts.get(book.book_id, 0) + 1
    out: list[GeneratedBook] = []
    for book in books:
        if counts[book.book_id] > 1:
            first_author = normalise_author(book.authors[0]) if book.authors else ""
            main = normalise_title(title_without_subtitle(book.title))
            whole = normalise_title(full_title(book.title, book.subtitle))
            book = book.model_copy(update={"book_id": stable_key("bk", main, first_author, whole)})
        out.append(book)
    return out


def dedup_books(
    per_provider: Mapping[str, Sequence[LLMBook]],
    provider_priority: Sequence[str] = DEFAULT_PROVIDER_PRIORITY,
) -> list[GeneratedBook]:
    """All providers' suggestions -> one GeneratedBook per distinct book, sorted by book_id.

    Deterministic and order-free (the same set of suggestions in any order gives the same
    list), and idempotent (dedup of its own output changes nothing but source_providers).
    """
    members = sorted(
        (
            (_provider_rank(provider, provider_priority), provider, _tidy(book))
            for provider, books in per_provider.items()
            for book in books
            if book.title.strip()
        ),
        key=_member_order,
    )
    merged = [_merge(cluster, provider_priority) for cluster in _clusters(members)]
    return sorted(_unique_ids(merged), key=lambda b: (b.book_id, b.title))


@dataclass(frozen=True)
class Answer:
    """One provider's reply (or failure) for one month."""

    provider: str
    model: str
    books: tuple[LLMBook, ...] | None  # None: the provider failed
    error: str | None
    duration_ms: int


def generation_outcome(
    scheduled: MonthScheduled, answers: Sequence[Answer], now: datetime
) -> BooksGenerated | MonthGenerationFailed:
    """Books of every provider that answered, deduplicated; a failure only if none answered."""
    calls = [
        LLMCall(
            provider=a.provider,
            model=a.model,
            calls=1,
            books_returned=len(a.books) if a.books is not None else 0,
            duration_ms=a.duration_ms,
            error=a.error,
        )
        for a in answers
    ]
    answered = {a.provider: list(a.books) for a in answers if a.books is not None}
    if not answered:
        reasons = "; ".join(f"{a.provider}: {a.error}" for a in answers) or "no LLM configured"
        return MonthGenerationFailed(
            envelope=derived_envelope(
                MonthGenerationFailed,
                scheduled.envelope,
                producer="generator",
                item="failed",
                occurred_at=now,
            ),
            year=scheduled.year,
            month=scheduled.month,
            attempt=scheduled.attempt,
            reason=f"every LLM failed ({reasons})",
            provider_calls=calls,
        )
    return BooksGenerated(
        envelope=derived_envelope(
            BooksGenerated, scheduled.envelope, producer="generator", item="books", occurred_at=now
        ),
        year=scheduled.year,
        month=scheduled.month,
        prompt_variant=scheduled.prompt_variant,
        attempt=scheduled.attempt,
        books=dedup_books(answered),
        provider_calls=calls,
    )
