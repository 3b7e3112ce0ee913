"""The resolver service: BooksGenerated -> skip known books -> ISBN cascade -> ISBNResolved."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from opentelemetry import trace

from services.resolver.cascade import ProviderHealth, Search, run_cascade, searches
from services.resolver.known import known_rows
from services.resolver.logic import KnownRow, known_book_match, resolution_outcome
from shared.db.pool import create_pool
from shared.events import BooksGenerated, GeneratedBook, ISBNResolved, derived_envelope
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.providers import build_book_providers
from shared.settings import Settings
from shared.telemetry import context_from_headers, correlated, inject_headers
from shared.text import work_key_for

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.resolver")

# When nothing matched because a provider was down, ask again a few times before settling for
# a synthetic work: an outage should not decide what a book is.
INCONCLUSIVE_RETRY_DELAYS_S = (2.0, 8.0)


class Resolver:
    def __init__(self, pool: asyncpg.Pool, search: dict[str, Search], concurrency: int) -> None:
        self.pool = pool
        self.search = search
        self.health = ProviderHealth()
        self.limit = asyncio.Semaphore(concurrency)

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        rejects = []
        for item in batch:
            event = item.event
            if not isinstance(event, BooksGenerated):
                rejects.append(Reject(item, f"resolver does not handle {type(event).__name__}"))
                continue
            if not 1 <= event.month <= 12:
                rejects.append(
                    Reject(item, f"impossible BooksGenerated: month {event.month} is outside 1..12")
                )
                continue
            with (
                correlated(event.envelope.correlation_id),
                tracer.start_as_current_span(
                    "resolve month",
                    context=context_from_headers(item.record.headers),
                    attributes={
                        "month": f"{event.year}-{event.month:02d}",
                        "books": len(event.books),
                    },
                ),
            ):
                outcomes = await self.resolve_all(event)
                await asyncio.gather(*(producer.send(o, inject_headers()) for o in outcomes))
                counts = Counter(o.outcome for o in outcomes)
                log.info(
                    "%d-%02d: %d books: %s",
                    event.year,
                    event.month,
                    len(outcomes),
                    ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
                )
        return rejects

    async def resolve_all(self, event: BooksGenerated) -> list[ISBNResolved]:
        candidates = await known_rows(self.pool, event.books)
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
        async with self.limit:
            attempts = await run_cascade(book, self.search, self.health)
            for delay in INCONCLUSIVE_RETRY_DELAYS_S:
                if resolution_outcome(attempts).conclusive:
                    break
                await asyncio.sleep(delay)
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


async def run(settings: Settings) -> None:
    pool = await create_pool(settings, max_size=4)
    providers = build_book_providers(settings, pool)
    try:
        resolver = Resolver(pool, searches(providers), settings.http.max_concurrency)
        spec = WorkerSpec(
            "resolver", [topic_for(settings, BooksGenerated)], resolver.handle, max_batch=4
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
        await pool.close()
