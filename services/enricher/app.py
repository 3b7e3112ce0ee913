"""The enricher service: resolved ISBNs, batched -> metadata per provider -> MetadataFetched."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry import trace

from services.enricher.fetch import Fetched, ProviderMetadata
from services.enricher.logic.facts import metadata_fetched
from services.enricher.logic.works import ExistingWork
from services.enricher.store import Asked, PostgresCandidateWorks
from shared.db.pool import create_pool
from shared.events import ISBNResolved, MetadataFetched
from shared.isbn import is_valid as is_valid_isbn
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.months import month_problems
from shared.providers import build_book_providers
from shared.settings import Settings
from shared.telemetry import context_from_headers, inject_headers
from shared.text import work_key_for

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.enricher")


class CandidateWorks(Protocol):
    async def candidate_works(self, asked: Sequence[Asked]) -> dict[str, list[ExistingWork]]:
        """isbn13 -> the stored works `decide_work` should consider."""
        ...


class MetadataSource(Protocol):
    async def fetch(self, isbns: Sequence[str], by_isbn: Mapping[str, ISBNResolved]) -> Fetched:
        """Every provider's records for `isbns`; a provider that fails contributes nothing."""
        ...


class Enricher:
    def __init__(self, works: CandidateWorks, source: MetadataSource) -> None:
        self.works = works
        self.source = source

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        rejects: list[Reject] = []
        resolved: list[tuple[Incoming, ISBNResolved]] = []
        for item in batch:
            event = item.event
            assert isinstance(event, ISBNResolved)  # the worker accepts nothing else
            problems = month_problems(event.year, event.month, event.envelope.occurred_at.date())
            if problems:
                rejects.append(Reject(item, f"impossible ISBNResolved: {'; '.join(problems)}"))
            elif event.outcome == "resolved":
                if (
                    event.isbn13 is None
                    or len(event.isbn13) != 13
                    or not is_valid_isbn(event.isbn13)
                ):
                    rejects.append(
                        Reject(item, f"resolved without a valid ISBN-13: {event.isbn13!r}")
                    )
                else:
                    resolved.append((item, event))
        if resolved:
            events = await self.enrich([event for _, event in resolved])
            await asyncio.gather(
                *(
                    self.publish(producer, item, e)
                    for (item, _), e in zip(resolved, events, strict=True)
                )
            )
        return rejects

    async def publish(
        self, producer: EventProducer, item: Incoming, event: MetadataFetched
    ) -> None:
        """Each ISBN's event continues the trace of the month its ISBNResolved belongs to."""
        with tracer.start_as_current_span(
            "enrich isbn",
            context=context_from_headers(item.record.headers),
            attributes={"isbn": event.isbn13},
        ):
            await producer.send(event, inject_headers())

    async def enrich(self, resolved: Sequence[ISBNResolved]) -> list[MetadataFetched]:
        started = time.monotonic()
        isbns = sorted({r.isbn13 for r in resolved if r.isbn13})
        fetched = await self.source.fetch(isbns, {r.isbn13: r for r in resolved if r.isbn13})
        asked = [
            Asked(r.isbn13, r.book.title, work_key_for(r.book.title, _first(r.book.authors)))
            for r in resolved
            if r.isbn13
        ]
        works = await self.works.candidate_works(asked)
        fetch_ms = int((time.monotonic() - started) * 1000)
        now = datetime.now(UTC)
        log.info(
            "enriched %d ISBNs in %d ms (%s)",
            len(isbns),
            fetch_ms,
            ", ".join(f"{p} {ms} ms" for p, ms in sorted(fetched.timings.items())),
        )
        return [
            metadata_fetched(
                r,
                fetched.records.get(r.isbn13 or "", []),
                works.get(r.isbn13 or "", []),
                wikidata=fetched.wikidata.get(r.isbn13 or ""),
                description=fetched.descriptions.get(r.isbn13 or ""),
                timings=fetched.timings,
                fetch_ms=fetch_ms,
                now=now,
            )
            for r in resolved
        ]


def _first(authors: Sequence[str]) -> str:
    return authors[0] if authors else ""


async def run(settings: Settings) -> None:
    pool = await create_pool(settings, max_size=4)
    providers = build_book_providers(settings, pool)
    try:
        source = ProviderMetadata(providers, settings.http.max_concurrency)
        enricher = Enricher(PostgresCandidateWorks(pool), source)
        spec = WorkerSpec(
            "enricher",
            [topic_for(settings, ISBNResolved)],
            enricher.handle,
            accepts=(ISBNResolved,),
            max_batch=settings.isbndb.batch_size,
            max_wait_s=2.0,
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
        await pool.close()
