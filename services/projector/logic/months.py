"""backfill_log: the facts recorded per month, and the month's row computed from them.

A month's row is a pure function of its facts, kept in `provenance`, never of the order they
arrived in: facts only grow (latest attempt by (attempt, time, event id), earliest start, calls
per event id), and the status is recomputed from all of them after every batch. The books'
counters are the month's tally over its `month_books` rows (month_books.py), so a batch reads
only its own books.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, TypeVar

from services.projector.logic.merging import EPOCH, Entry, Row, from_us, max_opt, min_opt
from services.projector.logic.month_books import NO_TALLY, Tally
from services.projector.logic.values import INT4_MAX, clamp, clean_text, int_in
from shared.months import PROMPT_VARIANTS

CALL_COLUMNS = {"gemini": "gemini_calls", "xai": "xai_calls"}
CENT = Decimal("0.01")
# Of two settings, one from a MonthScheduled beats one from a BooksGenerated.
SETTING_SCHEDULED, SETTING_GENERATED = 1, 0
V = TypeVar("V")


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


# --- provenance views: the month's facts -------------------------------------------------------
# Besides these: "calls" {event_id: {provider: calls}}, "tally" (a Tally), "book_count" (the
# highest month_book_count seen), "started" (earliest MonthScheduled) and "first"/"last" (the
# earliest/latest event), those three in microseconds since the epoch.


class ScheduledEntry(NamedTuple):
    """provenance["scheduled"], the latest MonthScheduled: [attempt, at_us, event_id]."""

    attempt: int
    at_us: int
    event_id: str

    @classmethod
    def of(cls, stored: Entry) -> ScheduledEntry:
        return cls._make(stored)

    def dump(self) -> Entry:
        return list(self)


class GeneratedEntry(NamedTuple):
    """provenance["generated"], the latest BooksGenerated: [attempt, at_us, event_id, books]."""

    attempt: int
    at_us: int
    event_id: str
    books: int

    @classmethod
    def of(cls, stored: Entry) -> GeneratedEntry:
        return cls._make(stored)

    def dump(self) -> Entry:
        return list(self)


class FailedEntry(NamedTuple):
    """provenance["failed"], the latest MonthGenerationFailed:
    [attempt, at_us, event_id, reason]."""

    attempt: int
    at_us: int
    event_id: str
    reason: str

    @classmethod
    def of(cls, stored: Entry) -> FailedEntry:
        return cls._make(stored)

    def dump(self) -> Entry:
        return list(self)


class SettingEntry(NamedTuple):
    """provenance["variant"] and ["batch"], the latest prompt variant and batch size:
    [tier (SETTING_SCHEDULED or SETTING_GENERATED), attempt, at_us, event_id, value]."""

    tier: int
    attempt: int
    at_us: int
    event_id: str
    value: Any

    @classmethod
    def of(cls, stored: Entry) -> SettingEntry:
        return cls._make(stored)

    def dump(self) -> Entry:
        return list(self)


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


MONTH_KEY = ("year", "month")
# Columns of backfill_log the projector computes: a new month's, but its key. The others (id,
# ...) are left alone.
MONTH_COLUMNS = tuple(c for c in new_month(0, 0, EPOCH) if c not in MONTH_KEY)


# --- facts from one event ----------------------------------------------------------------------


def _latest(current: Entry | None, entry: Entry) -> Entry:
    """Of two stored entries of one shape, the later (they sort by attempt, time, event id,
    then content)."""
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
    prov: Mapping[str, Any],
    event: Mapping[str, Any],
    tier: int,
    attempt: int,
    at_us: int,
    event_id: str,
) -> dict[str, Any]:
    """The latest valid prompt variant and batch size."""
    out: dict[str, Any] = {}
    variant = event.get("prompt_variant")
    if variant in PROMPT_VARIANTS:
        entry = SettingEntry(tier, attempt, at_us, event_id, variant)
        out["variant"] = _latest(prov.get("variant"), entry.dump())
    size = int_in(event.get("batch_size"), 1, 100)
    if size is not None:
        entry = SettingEntry(tier, attempt, at_us, event_id, size)
        out["batch"] = _latest(prov.get("batch"), entry.dump())
    return out


def _attempt(event: Mapping[str, Any]) -> int:
    return clamp(event.get("attempt"), 0, INT4_MAX)


def scheduled(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    attempt = _attempt(event)
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        scheduled=_latest(prov.get("scheduled"), ScheduledEntry(attempt, at_us, event_id).dump()),
        started=min_opt(prov.get("started"), at_us),
        **_settings(prov, event, SETTING_SCHEDULED, attempt, at_us, event_id),
    )


def generated(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    attempt = _attempt(event)
    entry = GeneratedEntry(attempt, at_us, event_id, len(event.get("books") or ()))
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        generated=_latest(prov.get("generated"), entry.dump()),
        calls=_calls(prov, event_id, event.get("provider_calls") or ()),
        **_settings(prov, event, SETTING_GENERATED, attempt, at_us, event_id),
    )


def failed(row: Row, event: Mapping[str, Any], event_id: str, at_us: int) -> Row:
    reason = clean_text(event.get("reason")) or "generation failed"
    entry = FailedEntry(_attempt(event), at_us, event_id, reason)
    prov = row["provenance"]
    return _with(
        row,
        at_us,
        failed=_latest(prov.get("failed"), entry.dump()),
        calls=_calls(prov, event_id, event.get("provider_calls") or ()),
    )


def book_seen(row: Row, month_book_count: Any, at_us: int) -> Row:
    count = clamp(month_book_count, 0, INT4_MAX)
    return _with(row, at_us, book_count=max(row["provenance"].get("book_count", 0), count))


def touched(row: Row, at_us: int) -> Row:
    return _with(row, at_us)


# --- the row from the facts --------------------------------------------------------------------


def _read(view: Callable[[Entry], V], stored: Entry | None) -> V | None:
    return view(stored) if stored is not None else None


def render(row: Row, rules: MonthRules) -> Row:
    """The month's columns from its facts; a month without facts is left as it is."""
    prov = row["provenance"]
    if not prov:
        return row
    out = dict(row)
    sched = _read(ScheduledEntry.of, prov.get("scheduled"))
    gen = _read(GeneratedEntry.of, prov.get("generated"))
    fail = _read(FailedEntry.of, prov.get("failed"))
    book_count: int = prov.get("book_count", 0)
    tally = Tally.of(prov.get("tally") or NO_TALLY)
    total = max(gen.books if gen else 0, book_count, tally.decided)
    complete = (gen is not None or book_count > 0) and tally.accounted >= total

    out["books_generated"] = total
    out["isbns_resolved"] = tally.resolved
    out["isbns_queued"] = tally.queued
    out["resolution_rate"] = (
        (Decimal(tally.resolved * 100) / Decimal(total)).quantize(CENT, ROUND_HALF_UP)
        if total
        else None
    )
    calls = prov.get("calls") or {}
    for provider, column in CALL_COLUMNS.items():
        out[column] = sum(per.get(provider, 0) for per in calls.values())
    out["isbndb_calls"] = tally.isbndb_calls
    variant, batch = prov.get("variant"), prov.get("batch")
    if variant is not None:
        out["prompt_variant"] = SettingEntry.of(variant).value
    if batch is not None:
        out["batch_size"] = SettingEntry.of(batch).value
    started = prov.get("started")
    if started is not None:
        out["started_at"] = from_us(started)
    if fail is not None:
        out["retry_count"] = fail.attempt
        out["error_message"] = fail.reason
        out["last_retry_at"] = from_us(fail.at_us)

    last_failed = fail.attempt if fail else 0
    last_generated = gen.attempt if gen else 0
    last_scheduled = sched.attempt if sched else 0
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
            out["next_attempt_at"] = rules.next_attempt_at(from_us(fail.at_us), last_failed)
    else:  # scheduled, generated, or some book of it seen
        out["status"] = "processing"
    if "first" in prov:
        out["created_at"] = min_opt(row["created_at"], from_us(prov["first"]))
        out["updated_at"] = from_us(prov["last"])
    return out
