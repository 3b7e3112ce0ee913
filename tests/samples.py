"""One realistic instance of every event type, for round-trip tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import (
    AuthorFacts,
    BooksGenerated,
    DeadLetter,
    EditionFacts,
    Envelope,
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

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
CORRELATION = "month:2019-03"

BOOK = GeneratedBook(
    book_id="b-normal-people-rooney",
    title="Normal People",
    subtitle=None,
    authors=["Sally Rooney"],
    publisher="Faber & Faber",
    publication_year=2018,
    publication_month=8,
    format="hardcover",
    description="Connell and Marianne grow up in the same small town in Ireland…",
    genres=["literary fiction"],
    isbn="9780571334650",
    source_providers=["gemini", "xai"],
)
CALLS = [
    LLMCall(
        provider="gemini",
        model="gemini-2.5-flash",
        calls=1,
        books_returned=18,
        duration_ms=2310,
        error=None,
    ),
    LLMCall(
        provider="xai",
        model="grok-4",
        calls=1,
        books_returned=0,
        duration_ms=60000,
        error="timeout after 60s",
    ),
]


def _env(model: type[Event], causation: str | None = None, item: str | None = None) -> Envelope:
    return make_envelope(
        model,
        producer="tests",
        correlation_id=CORRELATION,
        causation_id=causation,
        item=item,
        occurred_at=AT,
    )


def all_samples() -> list[Event]:
    scheduled = MonthScheduled(
        envelope=_env(MonthScheduled),
        year=2019,
        month=3,
        prompt_variant="baseline",
        batch_size=20,
        attempt=1,
    )
    cause = scheduled.envelope.event_id
    return [
        scheduled,
        BooksGenerated(
            envelope=_env(BooksGenerated, cause, "books"),
            year=2019,
            month=3,
            prompt_variant="baseline",
            books=[BOOK],
            provider_calls=CALLS,
        ),
        MonthGenerationFailed(
            envelope=_env(MonthGenerationFailed, cause, "failed"),
            year=2019,
            month=3,
            attempt=2,
            reason="every LLM failed",
            provider_calls=CALLS,
        ),
        ISBNResolved(
            envelope=_env(ISBNResolved, cause, BOOK.book_id),
            year=2019,
            month=3,
            book=BOOK,
            month_book_count=18,
            outcome="resolved",
            isbn13="9780571334650",
            provider="isbndb",
            confidence=0.97,
            attempts=[
                ResolutionAttempt(
                    provider="isbndb",
                    status="matched",
                    candidate_isbn="9780571334650",
                    score=0.97,
                    detail=None,
                    duration_ms=120,
                )
            ],
            work_key=None,
        ),
        MetadataFetched(
            envelope=_env(MetadataFetched, cause, "9780571334650"),
            year=2019,
            month=3,
            book_id=BOOK.book_id,
            isbn13="9780571334650",
            editions=[
                EditionFacts(
                    provider="isbndb",
                    quality=88,
                    title="Normal People",
                    publisher="Faber & Faber",
                    publication_date="2018-08-28",
                    page_count=273,
                    language="en",
                    subjects=["Fiction"],
                    related_isbns={"9780571334667": "paperback"},
                    alternate_isbns=["0571334652"],
                    response_time_ms=140,
                )
            ],
            works=[
                WorkFacts(
                    provider="wikidata",
                    quality=40,
                    title="Normal People",
                    subject_tags=["romance novel"],
                    first_publication_year=2018,
                )
            ],
            authors=[
                AuthorFacts(
                    provider="isbndb",
                    author_key="a-sally-rooney",
                    name="Sally Rooney",
                    normalized_name="sally rooney",
                    author_order=0,
                    birth_year=1991,
                    wikidata_id="Q48891779",
                )
            ],
            work_match=WorkMatch(
                work_key="w-normal-people-sally-rooney", confidence=1.0, source="new"
            ),
            fetch_ms=420,
        ),
        DeadLetter(
            envelope=_env(DeadLetter),
            consumer="projector",
            source_topic="alexandria.isbn-resolved",
            source_partition=2,
            source_offset=41,
            key=b"9780571334650",
            payload=b"\x00garbage",
            headers={"traceparent": b"00-abc"},
            error_type="CodecError",
            reason="not Avro single-object encoding",
        ),
    ]
