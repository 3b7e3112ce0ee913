"""Synthetic upgrades: re-resolve synthetic works with the resolver's cascade, oldest first.

A periodic job of the scheduler (and `alexandria synthetic enhance`): like the month claims it
is driven by the tables, claims its work in PostgreSQL and publishes to Kafka, so it lives here;
the resolution itself is the resolver's (same cascade, same acceptance rules, same event). A
book that now resolves is published as an ordinary resolved ISBNResolved for the month it was
generated in; the enricher then joins its edition to the synthetic work (its deterministic key)
and the projector's fold upgrades that work in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from services.resolver.cascade import ProviderHealth, Search, run_cascade, searches
from services.resolver.logic import Resolution, resolution_outcome
from shared.db.pool import create_pool
from shared.events import (
    GeneratedBook,
    ISBNResolved,
    ResolutionAttempt,
    make_envelope,
    month_correlation_id,
)
from shared.events.envelope import derived_event_id
from shared.kafka.producer import EventProducer
from shared.providers import build_book_providers
from shared.providers.quota import PostgresQuotaStore, QuotaState, next_midnight
from shared.settings import Settings
from shared.telemetry import inject_headers

log = logging.getLogger(__name__)

PRODUCER = "synthetic-upgrade"
STALE_CLAIM = timedelta(hours=1)
"""A claim this old was left by a run that died; its work may be tried again."""

# Claims up to $1 due synthetic works, oldest first, in one statement: concurrent schedulers
# conflict on the primary key, and the loser re-checks the row the winner wrote, so each work
# is tried by one of them. Due: never tried, last tried before $2, inconclusive (a provider
# failed: an outage says nothing about the book), or claimed by a run that died ($3).
_CLAIM = """
WITH due AS (
    SELECT w.work_key FROM enriched_works w
    LEFT JOIN synthetic_attempts a ON a.work_key = w.work_key
    WHERE w.synthetic
      AND (a.work_key IS NULL OR a.attempted_at <= $2 OR a.outcome = 'inconclusive'
           OR (a.outcome = 'claimed' AND a.attempted_at <= $3))
    ORDER BY w.updated_at, w.created_at, w.work_key
    LIMIT $1
)
INSERT INTO synthetic_attempts AS s (work_key, attempted_at, outcome)
SELECT work_key, $4, 'claimed' FROM due
ON CONFLICT (work_key) DO UPDATE
    SET attempted_at = EXCLUDED.attempted_at, outcome = 'claimed', isbn13 = NULL,
        attempts = s.attempts + 1
    WHERE s.attempted_at <= $2 OR s.outcome = 'inconclusive'
       OR (s.outcome = 'claimed' AND s.attempted_at <= $3)
RETURNING work_key
"""

_WORKS = """
SELECT work_key, metadata FROM enriched_works
 WHERE work_key = ANY($1::text[]) AND synthetic
 ORDER BY updated_at, created_at, work_key
"""

# The months each book was generated in and left unresolved: where its resolution belongs.
_ORIGINS = """
SELECT mb.work_key, mb.year, mb.month, mb.book_id, mb.resolved_event_id,
       coalesce(b.books_generated, 0) AS books
  FROM month_books mb
  LEFT JOIN backfill_log b ON b.year = mb.year AND b.month = mb.month
 WHERE mb.work_key = ANY($1::text[]) AND mb.outcome = 'unresolved'
"""

_RECORD = "UPDATE synthetic_attempts SET outcome = $2, isbn13 = $3 WHERE work_key = $1"


# --- decisions -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Origin:
    """A month the book was generated in and left unresolved."""

    year: int
    month: int
    book_id: str
    month_book_count: int
    causation_id: str | None  # the unresolved ISBNResolved this resolution supersedes


@dataclass(frozen=True)
class Candidate:
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
    candidate: Candidate,
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


# --- I/O -----------------------------------------------------------------------------------------


async def claim(pool: asyncpg.Pool, limit: int, now: datetime, retry_after: timedelta) -> list[str]:
    rows = await pool.fetch(_CLAIM, limit, now - retry_after, now - STALE_CLAIM, now)
    return [r["work_key"] for r in rows]


async def load_candidates(pool: asyncpg.Pool, keys: Sequence[str]) -> list[Candidate]:
    """The claimed works still synthetic with a usable book and month, oldest first."""
    works = await pool.fetch(_WORKS, list(keys))
    stored: dict[str, list[Origin]] = {}
    for r in await pool.fetch(_ORIGINS, list(keys)):
        origin = Origin(r["year"], r["month"], r["book_id"], r["books"], r["resolved_event_id"])
        stored.setdefault(r["work_key"], []).append(origin)
    out = []
    for row in works:
        metadata = row["metadata"]
        book = book_from_metadata(json.loads(metadata) if isinstance(metadata, str) else metadata)
        if book is None:
            continue
        origins = origins_for(book, stored.get(row["work_key"], []))
        if origins:
            out.append(Candidate(row["work_key"], book, origins))
    return out


async def enhance(
    settings: Settings,
    pool: asyncpg.Pool,
    producer: EventProducer,
    search: dict[str, Search],
    limit: int,
    now: datetime | None = None,
) -> Summary:
    """One run: claim up to `limit` due works, resolve each, publish what resolved, record.

    One work at a time: a background job should not compete with the backfill for the
    providers' rate limits. ISBNdb is skipped when its shared daily quota is spent."""
    now = now or datetime.now(UTC)
    summary = Summary()
    health = ProviderHealth()
    if isbndb_spent(await PostgresQuotaStore(pool).state("isbndb"), settings.isbndb.daily_quota):
        health.exhausted_until["isbndb"] = next_midnight(now, UTC)
    retry_after = timedelta(days=settings.synthetic.retry_after_days)
    keys = await claim(pool, limit, now, retry_after) if limit > 0 else []
    summary.candidates = len(keys)
    candidates = await load_candidates(pool, keys)
    for key in set(keys) - {c.work_key for c in candidates}:
        summary.skipped += 1
        await pool.execute(_RECORD, key, "unresolved", None)
    for candidate in candidates:
        attempts = await run_cascade(candidate.book, search, health)
        resolution = resolution_outcome(attempts)
        events = upgrade_events(candidate, resolution, attempts, now)
        for event in events:
            await producer.send(event, inject_headers())
        outcome = attempt_outcome(resolution)
        await pool.execute(_RECORD, candidate.work_key, outcome, resolution.isbn13)
        summary.count(outcome)
        summary.events += len(events)
        if events:
            summary.upgraded.append(candidate.work_key)
        summary.isbndb_skipped |= any(
            a.provider == "isbndb" and a.status == "skipped_quota" for a in attempts
        )
    return summary


async def run_timer(settings: Settings, producer: EventProducer, stop: asyncio.Event) -> None:
    """Every SYNTHETIC_INTERVAL_S (first at start-up) until `stop`; a failed run is logged and
    the next one tries again, so the job never takes the scheduler down."""
    if settings.synthetic.per_run == 0:
        log.info("synthetic upgrades off (ALEXANDRIA_SYNTHETIC_PER_RUN=0)")
        return
    pool = await create_pool(settings, max_size=2)
    providers = build_book_providers(settings, pool)
    try:
        search = searches(providers)
        log.info("synthetic upgrades every %.0fs", settings.synthetic.interval_s)
        while not stop.is_set():
            try:
                summary = await enhance(
                    settings, pool, producer, search, settings.synthetic.per_run
                )
                if summary.candidates:
                    log.info("synthetic upgrades: %s", summary.line())
            except Exception:
                log.exception("synthetic upgrade run failed; the next run will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.synthetic.interval_s)
    finally:
        await providers.aclose()
        await pool.close()
