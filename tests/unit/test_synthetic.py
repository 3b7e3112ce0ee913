"""Synthetic upgrade decisions: the book from a work's metadata, its months, the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.resolver.logic.resolution import Resolution
from services.resolver.logic.upgrades import (
    Origin,
    UpgradeCandidate,
    attempt_outcome,
    book_from_metadata,
    isbndb_spent,
    origins_for,
    upgrade_events,
)
from shared.events import GeneratedBook, ResolutionAttempt
from shared.providers.quota import QuotaState

BOOK = GeneratedBook(
    book_id="bk-1",
    title="Educated",
    authors=["Tara Westover"],
    publication_year=2018,
    publication_month=2,
    source_providers=["gemini"],
)
NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
RESOLVED = Resolution("resolved", "google_books", "9780399590504", 0.97, conclusive=True)
ATTEMPTS = [
    ResolutionAttempt(provider="isbndb", status="skipped_quota", duration_ms=0),
    ResolutionAttempt(provider="google_books", status="matched",
                      candidate_isbn="9780399590504", score=0.97, duration_ms=12),
]  # fmt: skip


def test_the_book_comes_back_from_the_projected_metadata() -> None:
    stored = {**BOOK.model_dump(), "unexpected": 1}  # a later schema's field is ignored
    assert book_from_metadata(stored) == BOOK
    assert book_from_metadata({}) is None
    assert book_from_metadata({"book_id": "x", "title": "  "}) is None


def test_origins_are_the_unresolved_months_else_the_publication_month() -> None:
    stored = [Origin(2019, 3, "bk-1", 20, "e2"), Origin(2019, 1, "bk-1b", 18, "e1")]
    assert [o.month for o in origins_for(BOOK, stored)] == [1, 3]
    assert origins_for(BOOK, []) == (Origin(2018, 2, "bk-1", 1, None),)
    undated = BOOK.model_copy(update={"publication_month": None})
    assert origins_for(undated, []) == ()


def test_isbndb_is_spent_when_used_up_or_marked() -> None:
    assert not isbndb_spent(QuotaState(10, None), 13_000)
    assert isbndb_spent(QuotaState(13_000, None), 13_000)
    assert isbndb_spent(QuotaState(3, NOW), 13_000)


def test_an_outage_is_not_an_attempt_outcome() -> None:
    assert attempt_outcome(RESOLVED) == "resolved"
    assert attempt_outcome(Resolution("unresolved", None, None, None, True)) == "unresolved"
    assert attempt_outcome(Resolution("unresolved", None, None, None, False)) == "inconclusive"


def test_one_resolved_event_per_origin_month_with_stable_ids() -> None:
    origins = (Origin(2019, 1, "bk-1b", 18, "e1"), Origin(2019, 3, "bk-1", 20, "e2"))
    candidate = UpgradeCandidate("wk-1", BOOK, origins)
    events = upgrade_events(candidate, RESOLVED, ATTEMPTS, NOW)
    assert [(e.year, e.month, e.book.book_id) for e in events] == [
        (2019, 1, "bk-1b"),
        (2019, 3, "bk-1"),
    ]
    first = events[0]
    assert (first.outcome, first.isbn13, first.provider) == (
        "resolved",
        "9780399590504",
        "google_books",
    )
    assert first.book.title == "Educated" and first.month_book_count == 18
    assert first.envelope.causation_id == "e1"
    assert first.envelope.correlation_id == "month:2019-01"
    assert first.attempts == ATTEMPTS
    # Same work, same day: the same ids (a re-run is a duplicate); the next day: new ones.
    later = upgrade_events(candidate, RESOLVED, ATTEMPTS, NOW + timedelta(hours=3))
    assert [e.envelope.event_id for e in later] == [e.envelope.event_id for e in events]
    tomorrow = upgrade_events(candidate, RESOLVED, ATTEMPTS, NOW + timedelta(days=1))
    assert {e.envelope.event_id for e in tomorrow}.isdisjoint(e.envelope.event_id for e in events)
    assert len({e.envelope.event_id for e in events}) == 2


def test_nothing_is_published_for_an_unresolved_book() -> None:
    candidate = UpgradeCandidate("wk-1", BOOK, (Origin(2019, 1, "bk-1", 18, None),))
    unresolved = Resolution("unresolved", None, None, None, conclusive=True)
    assert upgrade_events(candidate, unresolved, ATTEMPTS[:1], NOW) == []
