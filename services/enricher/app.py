"""The enricher service: resolved ISBNs, batched -> metadata per provider -> MetadataFetched."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from services.enricher.fetch import Fetched, ProviderMetadata
from services.enricher.logic.batching import months_complete
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
from shared.tracing import links_to, month_label, record_failure

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
            # The batch is its own trace (its ISBNs come from several months), linked to each
            # month's; the provider calls nest under it.
            with tracer.start_as_current_span(
                "enrich batch",
                context=otel_context.Context(),
                links=links_to([item.record.headers for item, _ in resolved]),
                attributes=batch_attributes([event for _, event in resolved]),
            ) as batch_span:
                events, failures = await self.enrich([event for _, event in resolved])
                await asyncio.gather(
                    *(
                        self.publish(producer, item, e, failures, batch_span.get_span_context())
                        for (item, _), e in zip(resolved, events, strict=True)
                    )
                )
        return rejects

    async def publish(
        self,
        producer: EventProducer,
        item: Incoming,
        event: MetadataFetched,
        failures: Mapping[str, str],
        batch: SpanContext,
    ) -> None:
        """Each ISBN's event continues the trace of the month its ISBNResolved belongs to."""
        with tracer.start_as_current_span(
            "enrich isbn",
            context=context_from_headers(item.record.headers),
            links=[Link(batch)],
            attributes=isbn_attributes(event),
        ) as span:
            for provider, error in sorted(failures.items()):
                record_failure(span, "provider failed", {"provider": provider, "error": error})
            await producer.send(event, inject_headers())

    async def enrich(
        self, resolved: Sequence[ISBNResolved]
    ) -> tuple[list[MetadataFetched], dict[str, str]]:
        """The batch's events, and the providers that failed for it (provider -> error)."""
        started = time.monotonic()
        isbns = sorted({r.isbn13 for r in resolved if r.isbn13})
        fetched = await self.source.fetch(isbns, {r.isbn13: r for r in resolved if r.isbn13})
        mark_fetched(trace.get_current_span(), fetched)
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
        events = [
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
        return events, fetched.failures


def batch_attributes(resolved: Sequence[ISBNResolved]) -> dict[str, str | int | list[str]]:
    months = {m for r in resolved if (m := month_label(r.year, r.month)) is not None}
    return {"isbns": len(resolved), "months": sorted(months)}


def isbn_attributes(event: MetadataFetched) -> dict[str, str | int | float | list[str]]:
    attributes: dict[str, str | int | float | list[str]] = {
        "isbn": event.isbn13,
        "providers": sorted({e.provider for e in event.editions}),
        "work_match": event.work_match.source,
        "work_match.confidence": event.work_match.confidence,
        "fetch_ms": event.fetch_ms,
    }
    if (month := month_label(event.year, event.month)) is not None:
        attributes["month"] = month
    if event.book_id:
        attributes["book_id"] = event.book_id
    return attributes


def mark_fetched(span: trace.Span, fetched: Fetched) -> None:
    """The batch span: time per provider, and an event per provider that failed (its call
    span is ERROR; the batch goes on without its data)."""
    for provider, ms in sorted(fetched.timings.items()):
        span.set_attribute(f"ms.{provider}", ms)
    for provider, error in sorted(fetched.failures.items()):
        record_failure(span, "provider failed", {"provider": provider, "error": error})


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
            # Flush as soon as every book of the months in hand is in; the bounded wait is for
            # a month whose books are split over replicas or still being resolved.
            max_wait_s=2.0,
            complete=months_complete,
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
        await pool.close()
