"""The resolver: BooksGenerated -> known books, ISBN cascade -> ISBNResolved; synthetic upgrades."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
from opentelemetry import trace

from services.resolver.fetch import FAILED, ProviderHealth, Search, run_cascade, searches
from services.resolver.logic.resolution import KnownRow, known_book_match, resolution_outcome
from services.resolver.logic.upgrades import (
    Summary,
    attempt_outcome,
    isbndb_spent,
    upgrade_events,
)
from services.resolver.store import PostgresKnownBooks, claim, load_candidates, record_attempt
from shared.db.pool import create_pool
from shared.events import BooksGenerated, GeneratedBook, ISBNResolved, derived_envelope
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.metrics import BOOKS
from shared.months import month_problems
from shared.providers import build_book_providers
from shared.providers.quota import PostgresQuotaStore, next_midnight
from shared.settings import Settings
from shared.telemetry import context_from_headers, correlated, inject_headers
from shared.text import work_key_for
from shared.tracing import record_failure

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.resolver")

# When nothing matched because a provider was down, ask again a few times before settling for
# a synthetic work: an outage should not decide what a book is.
INCONCLUSIVE_RETRY_DELAYS_S = (2.0, 8.0)


class KnownBooks(Protocol):
    async def known_rows(self, books: Sequence[GeneratedBook]) -> dict[int, list[KnownRow]]:
        """Candidate stored editions for each asked book (by index), for `known_book_match`."""
        ...


class Resolver:
    def __init__(self, known: KnownBooks, search: dict[str, Search], concurrency: int) -> None:
        self.known = known
        self.search = search
        self.health = ProviderHealth()
        self.limit = asyncio.Semaphore(concurrency)
        self.decided: Counter[str] = Counter()  # the batch in hand's outcomes, until committed

    def committed(self) -> None:
        """The batch is committed: count its books (a retried batch is counted once)."""
        for outcome, n in self.decided.items():
            BOOKS.labels(outcome).inc(n)
        self.decided.clear()

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        """The batch's months side by side (each book's provider calls bounded by the shared
        limit), so a month waits for its own books only, not for the months before it."""
        self.decided.clear()  # a batch redone after an abort starts again
        rejects = []
        months: list[tuple[Incoming, BooksGenerated]] = []
        for item in batch:
            event = item.event
            assert isinstance(event, BooksGenerated)  # the worker accepts nothing else
            problems = month_problems(event.year, event.month, event.envelope.occurred_at.date())
            if problems:
                rejects.append(Reject(item, f"impossible BooksGenerated: {'; '.join(problems)}"))
            else:
                months.append((item, event))
        await asyncio.gather(*(self.handle_month(i, e, producer) for i, e in months))
        return rejects

    async def handle_month(
        self, item: Incoming, event: BooksGenerated, producer: EventProducer
    ) -> None:
        with (
            correlated(event.envelope.correlation_id),
            tracer.start_as_current_span(
                "resolve month",
                context=context_from_headers(item.record.headers),
                attributes={"month": f"{event.year}-{event.month:02d}", "books": len(event.books)},
            ) as span,
        ):
            outcomes = await self.resolve_all(event)
            mark_outcomes(span, outcomes)
            await asyncio.gather(*(producer.send(o, inject_headers()) for o in outcomes))
            counts = Counter(o.outcome for o in outcomes)
            self.decided.update(counts)
            log.info(
                "%d-%02d: %d books: %s",
                event.year,
                event.month,
                len(outcomes),
                ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
            )

    async def resolve_all(self, event: BooksGenerated) -> list[ISBNResolved]:
        candidates = await self.known.known_rows(event.books)
        return list(
            await asyncio.gather(
                *(
                    self.resolve(event, book, candidates.get(i, []))
                    for i, book in enumerate(event.books)
                )
            )
        )

    async def resolve(
        self, event: BooksGenerated, book: GeneratedBook, stored: Sequence[KnownRow]
    ) -> ISBNResolved:
        common = {
            "envelope": derived_envelope(
                ISBNResolved,
                event.envelope,
                producer="resolver",
                item=book.book_id,
                occurred_at=datetime.now(UTC),
            ),
            "year": event.year,
            "month": event.month,
            "book": book,
            "month_book_count": len(event.books),
        }
        known = known_book_match(book, stored)
        if known is not None:
            return ISBNResolved(
                **common,
                outcome="already_known",
                isbn13=known.isbn13,
                confidence=known.confidence,
                work_key=known.work_key,
                attempts=[],
            )
        # The limit bounds provider calls only: a book sleeping before its retry holds no slot.
        async with self.limit:
            attempts = await run_cascade(book, self.search, self.health)
        for delay in INCONCLUSIVE_RETRY_DELAYS_S:
            if resolution_outcome(attempts).conclusive:
                break
            await asyncio.sleep(delay)
            async with self.limit:
                attempts = await run_cascade(book, self.search, self.health)
        result = resolution_outcome(attempts)
        if result.status == "resolved":
            return ISBNResolved(
                **common,
                outcome="resolved",
                isbn13=result.isbn13,
                provider=result.provider,
                confidence=result.confidence,
                attempts=attempts,
            )
        first_author = book.authors[0] if book.authors else ""
        return ISBNResolved(
            **common,
            outcome="unresolved",
            attempts=attempts,
            work_key=work_key_for(book.title, first_author),
        )


def mark_outcomes(span: trace.Span, outcomes: Sequence[ISBNResolved]) -> None:
    """The month's span counts its books by outcome, and has one event per provider that
    failed for some of them (the provider call spans themselves are marked ERROR)."""
    counts = Counter(o.outcome for o in outcomes)
    for outcome in ("resolved", "unresolved", "already_known"):
        span.set_attribute(outcome, counts.get(outcome, 0))
    failed: dict[tuple[str, str], list[str]] = {}
    for o in outcomes:
        for attempt in o.attempts:
            if attempt.status in FAILED:
                key = (attempt.provider, attempt.status)
                failed.setdefault(key, []).append(attempt.detail or attempt.status)
    for (provider, status), details in sorted(failed.items()):
        record_failure(
            span,
            "provider failed" if status != "skipped_quota" else "provider skipped",
            {"provider": provider, "status": status, "books": len(details), "error": details[0]},
        )
    span.set_attribute("provider_failures", sum(len(d) for d in failed.values()))


async def enhance(
    settings: Settings,
    pool: asyncpg.Pool,
    producer: EventProducer,
    search: dict[str, Search],
    limit: int,
    now: datetime | None = None,
) -> Summary:
    """One synthetic-upgrade run: claim up to `limit` due works, resolve each with the cascade,
    publish what resolved, record the outcome.

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
        await record_attempt(pool, key, "unresolved", None)
    for candidate in candidates:
        attempts = await run_cascade(candidate.book, search, health)
        resolution = resolution_outcome(attempts)
        events = upgrade_events(candidate, resolution, attempts, now)
        for event in events:
            await producer.send(event, inject_headers())
        outcome = attempt_outcome(resolution)
        await record_attempt(pool, candidate.work_key, outcome, resolution.isbn13)
        summary.count(outcome)
        summary.events += len(events)
        if events:
            summary.upgraded.append(candidate.work_key)
        summary.isbndb_skipped |= any(
            a.provider == "isbndb" and a.status == "skipped_quota" for a in attempts
        )
    return summary


async def run_timer(
    settings: Settings,
    pool: asyncpg.Pool,
    producer: EventProducer,
    search: dict[str, Search],
    stop: asyncio.Event,
) -> None:
    """Synthetic upgrades every SYNTHETIC_INTERVAL_S (first at start-up) until `stop`; a failed
    run is logged and the next one tries again, so the job never takes the resolver down."""
    if settings.synthetic.per_run == 0:
        log.info("synthetic upgrades off (ALEXANDRIA_SYNTHETIC_PER_RUN=0)")
        return
    log.info("synthetic upgrades every %.0fs", settings.synthetic.interval_s)
    while not stop.is_set():
        try:
            with tracer.start_as_current_span("synthetic upgrades"):
                summary = await enhance(
                    settings, pool, producer, search, settings.synthetic.per_run
                )
            if summary.candidates:
                log.info("synthetic upgrades: %s", summary.line())
        except Exception:
            log.exception("synthetic upgrade run failed; the next run will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.synthetic.interval_s)


async def run(settings: Settings) -> None:
    """The worker, and the synthetic-upgrade timer beside it until the worker stops."""
    pool = await create_pool(settings, max_size=6)  # 4 for the worker, 2 for the timer
    providers = build_book_providers(settings, pool)
    try:
        search = searches(providers)
        resolver = Resolver(PostgresKnownBooks(pool), search, settings.http.max_concurrency)
        spec = WorkerSpec(
            "resolver",
            [topic_for(settings, BooksGenerated)],
            resolver.handle,
            accepts=(BooksGenerated,),
            max_batch=4,
            committed=resolver.committed,
        )
        # The timer publishes outside the worker's transactions, with a producer of its own.
        async with EventProducer(settings) as upgrades:
            stop = asyncio.Event()
            timer = asyncio.create_task(run_timer(settings, pool, upgrades, search, stop))
            try:
                await run_worker(spec, settings)
            finally:
                stop.set()
                await timer
    finally:
        await providers.aclose()
        await pool.close()
