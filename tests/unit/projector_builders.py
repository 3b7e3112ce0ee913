"""Event builders for the projector's unit tests and tests/integration/test_projector_store.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.projector.logic.events import Positioned
from services.projector.logic.fold import State, fold
from services.projector.logic.months import MonthRules
from shared.events import (
    AuthorFacts,
    BooksGenerated,
    Codec,
    EditionFacts,
    GeneratedBook,
    ISBNResolved,
    LLMCall,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
    ResolutionAttempt,
    WorkFacts,
    WorkMatch,
    make_envelope,
)
from shared.events.generated import Event

T0 = datetime(2019, 4, 1, 9, 0, tzinfo=UTC)
CODEC = Codec()
ISBN_A, ISBN_B, ISBN_C = "9780571334650", "9780571334667", "9780143127741"
NAMESPACE = uuid.UUID("0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a11")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope_of(
    model: type[Event], label: str, minutes: float, year: int = 2019, month: int = 3
) -> Any:
    return make_envelope(
        model,
        producer="tests",
        correlation_id=f"month:{year}-{month:02d}",
        event_id=str(uuid.uuid5(NAMESPACE, label)),
        occurred_at=at(minutes),
    )


def content_id(event: Event) -> Any:
    """The event with an id derived from its content: as in production, one id, one content."""
    label = event.model_dump_json(exclude={"envelope": {"event_id"}})
    envelope = event.envelope.model_copy(update={"event_id": str(uuid.uuid5(NAMESPACE, label))})
    return event.model_copy(update={"envelope": envelope})


def book(
    book_id: str,
    title: str = "Normal People",
    authors: Sequence[str] = ("Sally Rooney",),
    providers: Sequence[str] = ("gemini", "xai"),
) -> GeneratedBook:
    return GeneratedBook(
        book_id=book_id,
        title=title,
        authors=list(authors),
        publisher="Faber",
        publication_year=2018,
        description=f"{title}, as the LLM recalls it.",
        genres=["fiction"],
        source_providers=list(providers),
    )


def scheduled(
    minutes: float = 0, attempt: int = 1, year: int = 2019, month: int = 3, label: str = ""
) -> MonthScheduled:
    return MonthScheduled(
        envelope=envelope_of(
            MonthScheduled, f"s{year}{month}{attempt}-{minutes}{label}", minutes, year, month
        ),
        year=year,
        month=month,
        prompt_variant="baseline",
        batch_size=20,
        attempt=attempt,
    )


CALLS = [
    LLMCall(provider="gemini", model="g", calls=1, books_returned=2, duration_ms=10),
    LLMCall(provider="xai", model="x", calls=2, books_returned=1, duration_ms=10),
]


def generated(
    books: Sequence[GeneratedBook],
    minutes: float = 1,
    attempt: int = 1,
    year: int = 2019,
    month: int = 3,
) -> BooksGenerated:
    label = f"g{year}{month}{attempt}-{minutes}-{len(books)}"
    return BooksGenerated(
        envelope=envelope_of(BooksGenerated, label, minutes, year, month),
        year=year,
        month=month,
        prompt_variant="baseline",
        attempt=attempt,
        books=list(books),
        provider_calls=CALLS,
    )


def failed(attempt: int, minutes: float, year: int = 2019, month: int = 3) -> MonthGenerationFailed:
    return MonthGenerationFailed(
        envelope=envelope_of(
            MonthGenerationFailed, f"f{year}{month}{attempt}-{minutes}", minutes, year, month
        ),
        year=year,
        month=month,
        attempt=attempt,
        reason=f"every LLM failed (attempt {attempt})",
        provider_calls=CALLS,
    )


def resolved(
    b: GeneratedBook,
    minutes: float,
    outcome: str = "resolved",
    isbn: str | None = None,
    work_key: str | None = None,
    count: int = 3,
    year: int = 2019,
    month: int = 3,
) -> ISBNResolved:
    attempts = [
        ResolutionAttempt(
            provider="isbndb", status="matched", candidate_isbn=isbn, score=0.95, duration_ms=12
        )
    ]
    return ISBNResolved(
        envelope=envelope_of(ISBNResolved, f"r{b.book_id}{outcome}{minutes}", minutes, year, month),
        year=year,
        month=month,
        book=b,
        month_book_count=count,
        outcome=outcome,
        isbn13=isbn,
        provider="isbndb" if outcome == "resolved" else None,
        confidence=0.95 if outcome == "resolved" else None,
        attempts=attempts,
        work_key=work_key,
    )


def edition(provider: str = "isbndb", quality: int = 80, **fields: Any) -> EditionFacts:
    return EditionFacts(provider=provider, quality=quality, **fields)


def work(provider: str = "isbndb", quality: int = 60, **fields: Any) -> WorkFacts:
    return WorkFacts(provider=provider, quality=quality, **fields)


def author(
    key: str = "a-sally-rooney",
    name: str = "Sally Rooney",
    order: int = 0,
    provider: str = "isbndb",
    **fields: Any,
) -> AuthorFacts:
    return AuthorFacts(
        provider=provider,
        author_key=key,
        name=name,
        normalized_name=name.lower(),
        author_order=order,
        **fields,
    )


def fetched(
    isbn: str,
    minutes: float,
    editions: Sequence[EditionFacts] = (),
    works: Sequence[WorkFacts] = (),
    authors: Sequence[AuthorFacts] = (),
    work_key: str = "w-normal-people",
    confidence: float = 1.0,
    source: str = "new",
    book_id: str | None = None,
    label: str = "",
    year: int = 2019,
    month: int = 3,
) -> MetadataFetched:
    located = book_id is not None
    return MetadataFetched(
        envelope=envelope_of(MetadataFetched, f"m{isbn}{minutes}{label}", minutes, year, month),
        year=year if located else None,
        month=month if located else None,
        book_id=book_id,
        isbn13=isbn,
        editions=list(editions),
        works=list(works),
        authors=list(authors),
        work_match=WorkMatch(work_key=work_key, confidence=confidence, source=source),
        fetch_ms=300,
    )


def records(
    events: Iterable[Event], topic: str = "t", partition: int = 0, first_offset: int = 0
) -> list[Positioned]:
    """Through the codec's fast path, as the projector reads them."""
    out = []
    for offset, event in enumerate(events, start=first_offset):
        event_type, body = CODEC.decode_raw(CODEC.encode(event))
        out.append(Positioned(topic, partition, offset, event_type.name, body))
    return out


def folded(events: Iterable[Event], rules: MonthRules | None = None) -> State:
    state = State()
    assert fold(state, records(events), rules) == []
    return state


def rows(state: State) -> dict[str, Any]:
    return {
        "editions": state.editions,
        "works": state.works,
        "authors": state.authors,
        "months": state.months,
        "month_books": state.month_books,
    }
