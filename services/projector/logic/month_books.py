"""month_books: one row per generated book of a month, its merge, and its tally towards the month.

A book keeps its latest resolution (by time, then event id, then content) and its earliest
enrichment. What a book adds to its month's counters is its `Tally`; the month keeps the sum in
its provenance, exact by adding each changed book's new tally and taking back its old one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from services.projector.logic.merging import Rank, Row
from services.projector.logic.values import clean_text

# Resolution attempts that did not call the provider.
NOT_A_CALL = ("skipped_quota",)
ACCOUNTED_BY_RESOLUTION = ("unresolved", "already_known")
COUNTED_AS_RESOLVED = ("resolved", "already_known")

# The bottom of the lattice.
EMPTY_MONTH_BOOK: Row = {
    "year": None,
    "month": None,
    "book_id": None,
    "outcome": None,
    "isbn13": None,
    "work_key": None,
    "isbndb_calls": 0,
    "resolved_at": None,
    "resolved_event_id": None,
    "enriched_at": None,
    "enriched_event_id": None,
}
# The columns an ISBNResolved sets, kept together from the latest resolution.
MONTH_BOOK_RESOLUTION = (
    "outcome",
    "isbn13",
    "work_key",
    "isbndb_calls",
    "resolved_at",
    "resolved_event_id",
)

# --- what one event contributes ----------------------------------------------------------------


def resolved_book(
    year: int, month: int, event: Mapping[str, Any], event_id: str, at: datetime
) -> Row:
    """A book's ISBNResolved as a month_books row."""
    attempts = event.get("attempts") or ()
    row = dict(EMPTY_MONTH_BOOK)
    row.update(
        year=year,
        month=month,
        book_id=clean_text(event["book"]["book_id"]),
        outcome=event["outcome"],
        isbn13=clean_text(event.get("isbn13")),
        work_key=clean_text(event.get("work_key")),
        isbndb_calls=sum(
            1
            for a in attempts
            if a.get("provider") == "isbndb" and a.get("status") not in NOT_A_CALL
        ),
        resolved_at=at,
        resolved_event_id=event_id,
    )
    return row


def enriched_book(year: int, month: int, book_id: str, event_id: str, at: datetime) -> Row:
    """A book's MetadataFetched as a month_books row."""
    row = dict(EMPTY_MONTH_BOOK)
    row.update(year=year, month=month, book_id=book_id, enriched_at=at, enriched_event_id=event_id)
    return row


# --- merge -------------------------------------------------------------------------------------


def _resolution_rank(row: Row) -> Rank:
    """Time, event id, then the content itself, so the order is total."""
    return (
        row["resolved_at"],
        row["resolved_event_id"],
        row["outcome"],
        row["isbn13"] or "",
        row["work_key"] or "",
        row["isbndb_calls"],
    )


def merge_month_book(a: Row, b: Row) -> Row:
    """The latest resolution (by time, then event id) and the earliest enrichment are kept."""
    out = dict(a)
    if b["resolved_at"] is not None and (
        a["resolved_at"] is None or _resolution_rank(b) > _resolution_rank(a)
    ):
        for name in MONTH_BOOK_RESOLUTION:
            out[name] = b[name]
    if b["enriched_at"] is not None and (
        a["enriched_at"] is None
        or (b["enriched_at"], b["enriched_event_id"]) < (a["enriched_at"], a["enriched_event_id"])
    ):
        out["enriched_at"] = b["enriched_at"]
        out["enriched_event_id"] = b["enriched_event_id"]
    return out


# --- the tally towards the month ---------------------------------------------------------------


class Tally(NamedTuple):
    """What books add to their month; stored as the month's provenance["tally"]:
    [decided, resolved, queued, accounted, isbndb_calls]."""

    decided: int
    resolved: int
    queued: int
    accounted: int
    isbndb_calls: int

    @classmethod
    def of(cls, stored: Sequence[int]) -> Tally:
        return cls._make(stored)

    def dump(self) -> list[Any]:
        return list(self)


NO_TALLY = Tally(0, 0, 0, 0, 0)


def book_tally(book: Row | None) -> Tally:
    """What one book adds to its month.

    Accounted: unresolved and already-known books by their resolution, resolved ones once
    their metadata arrived.
    """
    if book is None or book["outcome"] is None:
        return NO_TALLY
    outcome = book["outcome"]
    accounted = outcome in ACCOUNTED_BY_RESOLUTION or (
        outcome == "resolved" and book["enriched_at"] is not None
    )
    return Tally(
        decided=1,
        resolved=int(outcome in COUNTED_AS_RESOLVED),
        queued=int(outcome == "resolved"),
        accounted=int(accounted),
        isbndb_calls=book["isbndb_calls"],
    )


def recount(month: Row, old_book: Row | None, new_book: Row) -> Row:
    """The month row with one book's tally replaced by its new one."""
    old, new = book_tally(old_book), book_tally(new_book)
    if old == new:
        return month
    prov = dict(month["provenance"])
    tally = prov.get("tally") or NO_TALLY
    prov["tally"] = [t + n - o for t, n, o in zip(tally, new, old, strict=True)]
    out = dict(month)
    out["provenance"] = prov
    return out
