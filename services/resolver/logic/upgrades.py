"""Synthetic-upgrade decisions: the book kept in a work, the months to resolve it for, the events.

A book that now resolves is published as an ordinary resolved ISBNResolved for the month it was
generated in; the enricher then joins its edition to the synthetic work (its deterministic key)
and the projector's fold upgrades that work in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.resolver.logic.resolution import Resolution
from shared.events import (
    GeneratedBook,
    ISBNResolved,
    ResolutionAttempt,
    make_envelope,
    month_correlation_id,
)
from shared.events.envelope import derived_event_id
from shared.providers.quota import QuotaState

PRODUCER = "synthetic-upgrade"
STALE_CLAIM = timedelta(hours=1)
"""A claim this old was left by a run that died; its work may be tried again."""


@dataclass(frozen=True, order=True)
class Origin:
    """A month the book was generated in and left unresolved."""

    year: int
    month: int
    book_id: str
    month_book_count: int
    causation_id: str | None  # the unresolved ISBNResolved this resolution supersedes


@dataclass(frozen=True)
class UpgradeCandidate:
    """A claimed synthetic work with the book to resolve and the months to resolve it for."""

    work_key: str
    book: GeneratedBook
    origins: tuple[Origin, ...]


@dataclass
class Summary:
    candidates: int = 0
    resolved: int = 0
    unresolved: int = 0
    inconclusive: int = 0
    skipped: int = 0  # no usable book or month to resolve it for
    events: int = 0
    isbndb_skipped: bool = False
    upgraded: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        if outcome == "resolved":
            self.resolved += 1
        elif outcome == "unresolved":
            self.unresolved += 1
        else:
            self.inconclusive += 1

    def line(self) -> str:
        quota = "; ISBNdb skipped (daily quota spent)" if self.isbndb_skipped else ""
        return (
            f"{self.candidates} synthetic works tried: {self.resolved} resolved "
            f"({self.events} ISBNResolved published), {self.unresolved} still unresolved, "
            f"{self.inconclusive} inconclusive (tried again next run), "
            f"{self.skipped} skipped{quota}"
        )


def book_from_metadata(metadata: Mapping[str, Any]) -> GeneratedBook | None:
    """The LLM's book the projector kept in the work's `metadata`, or None if it is not one."""
    known = {k: v for k, v in metadata.items() if k in GeneratedBook.model_fields}
    try:
        book = GeneratedBook.model_validate(known)
    except ValidationError:
        return None
    return book if book.title.strip() and book.book_id else None


def origins_for(book: GeneratedBook, stored: Sequence[Origin]) -> tuple[Origin, ...]:
    """The months to record the resolution in: those the book was left unresolved in, so their
    counters move from unresolved to resolved; without any, the book's own publication month."""
    if stored:
        return tuple(sorted(stored))
    year, month = book.publication_year, book.publication_month
    if year is not None and month is not None and 1900 <= year <= 2100 and 1 <= month <= 12:
        return (Origin(year, month, book.book_id, 1, None),)
    return ()


def isbndb_spent(state: QuotaState, daily_limit: int) -> bool:
    """The paid provider is out for today; the free ones are still worth asking."""
    return state.exhausted_at is not None or state.used >= daily_limit


def attempt_outcome(resolution: Resolution) -> str:
    if resolution.status == "resolved":
        return "resolved"
    return "unresolved" if resolution.conclusive else "inconclusive"


def upgrade_event_id(work_key: str, day: date, origin: Origin) -> str:
    """Derived from the work and the attempt's day, so a re-run the same day (say after a crash
    between publishing and recording) publishes a recognisable duplicate, not a new fact."""
    return derived_event_id(
        f"synthetic-upgrade:{work_key}",
        f"{day.isoformat()}/{origin.year:04d}-{origin.month:02d}/{origin.book_id}",
    )


def upgrade_events(
    candidate: UpgradeCandidate,
    resolution: Resolution,
    attempts: Sequence[ResolutionAttempt],
    now: datetime,
) -> list[ISBNResolved]:
    """One resolved ISBNResolved per origin month, for the same book; none if unresolved."""
    if resolution.status != "resolved" or resolution.isbn13 is None:
        return []
    day = now.astimezone(UTC).date()
    return [
        ISBNResolved(
            envelope=make_envelope(
                ISBNResolved,
                producer=PRODUCER,
                correlation_id=month_correlation_id(origin.year, origin.month),
                causation_id=origin.causation_id,
                event_id=upgrade_event_id(candidate.work_key, day, origin),
                occurred_at=now,
            ),
            year=origin.year,
            month=origin.month,
            book=candidate.book.model_copy(update={"book_id": origin.book_id}),
            month_book_count=origin.month_book_count,
            outcome="resolved",
            isbn13=resolution.isbn13,
            provider=resolution.provider,
            confidence=resolution.confidence,
            attempts=list(attempts),
        )
        for origin in candidate.origins
    ]
