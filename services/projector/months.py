"""Month progress (backfill_log): facts recorded per month, and the row computed from them.

A month's row is a pure function of its facts, kept in `provenance`, never of the order they
arrived in: facts only grow (latest attempt by (attempt, time, event id), earliest start, calls
per event id), and the status is recomputed from all of them after every batch. The books'
counters are a tally over the month's `month_books` rows, kept exact by adding each changed
book's new contribution and taking back its old one, so a batch reads only its own books.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.projector.contributions import INT4_MAX, clamp, clean_text, int_in
from services.projector.merge import EMPTY_MONTH_BOOK, Entry, Row, from_us, max_opt, min_opt

PROMPT_VARIANTS = ("baseline", "contemporary-notable")
ACCOUNTED_BY_RESOLUTION = ("unresolved", "already_known")
COUNTED_AS_RESOLVED = ("resolved", "already_known")
# Resolution attempts that did not call the provider.
NOT_A_CALL = ("skipped_quota",)
CALL_COLUMNS = {"gemini": "gemini_calls", "xai": "xai_calls"}
CENT = Decimal("0.01")

# Columns of backfill_log the projector computes; the others (id, ...) are left alone.
MONTH_COLUMNS = (
    "status",
    "books_generated",
    "isbns_resolved",
    "resolution_rate",
    "isbns_queued",
    "gemini_calls",
    "xai_calls",
    "isbndb_calls",
    "retry_count",
    "error_message",
    "last_retry_at",
    "next_attempt_at",
    "prompt_variant",
    "batch_size",
    "started_at",
    "completed_at",
    "created_at",
    "updated_at",
    "provenance",
)


@dataclass(frozen=True)
class MonthRules:
    """Retry policy for failed generations (the scheduler's setting, passed in)."""

    max_attempts: int = 5
    backoff_base_minutes: float = 1.0
    backoff_max_minutes: float = 24 * 60.0

    def next_attempt_at(self, failed_at: datetime, attempt: int) -> datetime:
        """Exponential backoff: base * 2^attempt minutes after the failure, capped."""
        minutes = min(self.backoff_base_minutes * 2.0 ** min(attempt, 40), self.backoff_max_minutes)
        return failed_at + timedelta(minutes=minutes)


def new_month(year: int, month: int, at: datetime) -> Row:
    """A month row as the projector creates it when a month was published by hand."""
    return {
        "year": year,
        "month": month,
        "status": "pending",
        "books_generated": 0,
        "isbns_resolved": 0,
        "resolution_rate": None,
        "isbns_queued": 0,
        "gemini_calls": 0,
        "xai_calls": 0,
        "isbndb_calls": 0,
        "retry_count": 0,
        "error_message": None,
        "last_retry_at": None,
        "next_attempt_at": None,
        "prompt_variant": None,
        "batch_size": None,
        "started_at": None,
        "completed_at": None,
        "created_at": at,
        "updated_at": at,
        "provenance": {},
    }


def _latest(current: Entry | None, entry: Entry) -> Entry:
    """Of two attempts, the later by (attempt, time, event id), then by content."""
    if current is None or entry > current:
        return entry
    return current


def _with(row: Row, at_us: int, **facts: Any) -> Row:
    prov = dict(row["provenance"])
    prov.update(facts)
    prov["first"] = min_opt(prov.get("first"), at_us)
    prov["last"] = max_opt(prov.get("last"), at_us)
    out = dict(row)
    out["provenance"] = prov
    return out


def _calls(prov: Mapping[str, Any], event_id: str, calls: Iterable[Mapping[str, Any]]) -> Any:
    per_provider: dict[str, int] = {}
    for call in calls:
        provider = clean_text(call.get("provider")) or "unknown"
        per_provider[provider] = per_provider.get(provider, 0) + clamp(call.get("calls"), 0, 10**6)
    merged = dict(prov.get("calls") or {})
    known = merged.get(event_id)
    # One event id, one content; should a producer break that, keep a fixed choice.
    if known is None or sorted(per_provider.items()) > sorted(known.items()):
        merged[event_id] = per_provider
    return merged


def _settings(
    prov: Mapping[str, Any], event: Mapping[str, Any], entry: Entry, tier: int
) -> dict[str, Any]:
    """The latest valid prompt variant and batch size; a scheduled one beats a generated one."""
    out: dict[str, Any] = {}
    variant = event.get("prompt_variant")
    if variant in PROMPT_VARIANTS:
        out["variant"] = _latest_setting(prov.get("variant"), [tier, *entry[:3], variant])
    size = int_in(event.get("batch_size"), 1, 100)
    if size is not None:
        out["batch"] = _latest_setting(prov.get("batch"), [tier, *entry[:3], size])
    return out


def _latest_setting(current: Entry | None, entry: Entry) -> Entry:
    return entry if current is None or entry > current else current


def scheduled(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    entry = [clamp(event.get("attempt"), 0, INT4_MAX), at_us, event_id]
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        scheduled=_latest(prov.get("scheduled"), entry),
        started=min_opt(prov.get("started"), at_us),
        **_settings(prov, event, entry, 1),
    )


def generated(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    entry = [
        clamp(event.get("attempt"), 0, INT4_MAX),
        at_us,
        event_id,
        len(event.get("books") or ()),
    ]
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        generated=_latest(prov.get("generated"), entry),
        calls=_calls(prov, event_id, event.get("provider_calls") or ()),
        **_settings(prov, event, entry, 0),
    )


def failed(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    entry = [
        clamp(event.get("attempt"), 0, INT4_MAX),
        at_us,
        event_id,
        clean_text(event.get("reason")) or "generation failed",
    ]
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        failed=_latest(prov.get("failed"), entry),
        calls=_calls(prov, event_id, event.get("provider_calls") or ()),
    )


def book_seen(row: Row, month_book_count: Any, at_us: int) -> Row:
    count = clamp(month_book_count, 0, INT4_MAX)
    return _with(row, at_us, book_count=max(row["provenance"].get("book_count", 0), count))


def touched(row: Row, at_us: int) -> Row:
    return _with(row, at_us)


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


Tally = tuple[int, int, int, int, int]
NO_TALLY: Tally = (0, 0, 0, 0, 0)


def book_tally(book: Row | None) -> Tally:
    """What one book adds to its month: (decided, resolved, queued, accounted, isbndb calls).

    Accounted: unresolved and already-known books by their resolution, resolved ones once
    their metadata arrived.
    """
    if book is None or book["outcome"] is None:
        return NO_TALLY
    outcome = book["outcome"]
    accounted = outcome in ACCOUNTED_BY_RESOLUTION or (
        outcome == "resolved" and book["enriched_at"] is not None
    )
    return (
        1,
        int(outcome in COUNTED_AS_RESOLVED),
        int(outcome == "resolved"),
        int(accounted),
        book["isbndb_calls"],
    )


def recount(row: Row, old_book: Row | None, new_book: Row) -> Row:
    """The month with one book's contribution to the tally replaced by its new one."""
    old, new = book_tally(old_book), book_tally(new_book)
    if old == new:
        return row
    prov = dict(row["provenance"])
    tally = prov.get("tally") or NO_TALLY
    prov["tally"] = [t + n - o for t, n, o in zip(tally, new, old, strict=True)]
    out = dict(row)
    out["provenance"] = prov
    return out


def render(row: Row, rules: MonthRules) -> Row:
    """The month's columns from its facts; a month without facts is left as it is."""
    prov = row["provenance"]
    if not prov:
        return row
    out = dict(row)
    sched: Entry | None = prov.get("scheduled")
    gen: Entry | None = prov.get("generated")
    fail: Entry | None = prov.get("failed")
    book_count: int = prov.get("book_count", 0)
    decided, resolved, queued, accounted, isbndb_calls = prov.get("tally") or NO_TALLY
    total = max(gen[3] if gen else 0, book_count, decided)
    complete = (gen is not None or book_count > 0) and accounted >= total

    out["books_generated"] = total
    out["isbns_resolved"] = resolved
    out["isbns_queued"] = queued
    out["resolution_rate"] = (
        (Decimal(resolved * 100) / Decimal(total)).quantize(CENT, ROUND_HALF_UP) if total else None
    )
    calls = prov.get("calls") or {}
    for provider, column in CALL_COLUMNS.items():
        out[column] = sum(per.get(provider, 0) for per in calls.values())
    out["isbndb_calls"] = isbndb_calls
    variant, batch = prov.get("variant"), prov.get("batch")
    if variant is not None:
        out["prompt_variant"] = variant[4]
    if batch is not None:
        out["batch_size"] = batch[4]
    started = prov.get("started")
    if started is not None:
        out["started_at"] = from_us(started)
    if fail is not None:
        out["retry_count"] = fail[0]
        out["error_message"] = fail[3]
        out["last_retry_at"] = from_us(fail[1])

    last_failed = fail[0] if fail else 0
    last_generated = gen[0] if gen else 0
    last_scheduled = sched[0] if sched else 0
    out["next_attempt_at"] = None
    out["completed_at"] = None
    if complete:
        out["status"] = "completed"
        out["completed_at"] = from_us(prov["last"])  # the month's latest event
    elif fail is not None and last_failed > last_generated and last_failed >= last_scheduled:
        if last_failed >= rules.max_attempts:
            out["status"] = "failed"
        else:
            out["status"] = "retry"
            out["next_attempt_at"] = rules.next_attempt_at(from_us(fail[1]), last_failed)
    else:  # scheduled, generated, or some book of it seen
        out["status"] = "processing"
    if "first" in prov:
        out["created_at"] = min_opt(row["created_at"], from_us(prov["first"]))
        out["updated_at"] = from_us(prov["last"])
    return out
