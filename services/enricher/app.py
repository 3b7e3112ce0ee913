"""The enricher service: resolved ISBNs, batched -> metadata per provider -> MetadataFetched."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from opentelemetry import trace

from services.enricher.facts import (
    author_facts,
    edition_facts,
    llm_facts,
    work_facts_from_description,
    work_facts_from_record,
    work_facts_from_wikidata,
)
from services.enricher.logic import ExistingWork, decide_work
from services.enricher.works import Asked, candidate_works
from shared.db.pool import create_pool
from shared.events import ISBNResolved, MetadataFetched, derived_envelope
from shared.isbn import is_valid as is_valid_isbn
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.providers import (
    BookProviders,
    DailyQuotaExhausted,
    NotFound,
    ProviderError,
    build_book_providers,
)
from shared.providers.models import BookRecord, WikidataFacts
from shared.settings import Settings
from shared.similarity import match_score
from shared.telemetry import PROVIDER_CALLS, context_from_headers, inject_headers
from shared.text import work_key_for

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.enricher")
T = TypeVar("T")

# Where an edition's authors come from: the best source that lists any (then the LLM's).
AUTHOR_SOURCES = ("isbndb", "google_books", "openlibrary")
ARCHIVE_MATCH = 0.8


@dataclass
class Fetched:
    """Everything fetched for one batch, keyed by ISBN-13, with each provider's time."""

    records: dict[str, list[BookRecord]]
    wikidata: dict[str, WikidataFacts]
    descriptions: dict[str, str]
    timings: dict[str, int]


async def timed(provider: str, call: Awaitable[T], default: T, timings: dict[str, int]) -> T:
    """Run one provider call; a provider failure costs its data, not the batch."""
    started = time.monotonic()
    try:
        result = await call
        PROVIDER_CALLS.labels(provider, "ok").inc()
        return result
    except DailyQuotaExhausted:
        PROVIDER_CALLS.labels(provider, "quota").inc()
        log.warning("%s daily quota spent: continuing on free sources", provider)
        return default
    except NotFound:
        return default
    except ProviderError as exc:
        PROVIDER_CALLS.labels(provider, "error").inc()
        log.warning("%s failed for a batch: %s", provider, exc)
        return default
    finally:
        timings[provider] = timings.get(provider, 0) + int((time.monotonic() - started) * 1000)


class Enricher:
    def __init__(self, pool: asyncpg.Pool, providers: BookProviders, concurrency: int) -> None:
        self.pool = pool
        self.providers = providers
        self.limit = asyncio.Semaphore(concurrency)

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        rejects, resolved = [], []
        for item in batch:
            event = item.event
            if not isinstance(event, ISBNResolved):
                rejects.append(Reject(item, f"enricher does not handle {type(event).__name__}"))
            elif not 1 <= event.month <= 12:
                rejects.append(
                    Reject(item, f"impossible ISBNResolved: month {event.month} is outside 1..12")
                )
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
                    resolved.append(item)
        if resolved:
            events = await self.enrich(
                [i.event for i in resolved if isinstance(i.event, ISBNResolved)]
            )
            await asyncio.gather(
                *(self.publish(producer, i, e) for i, e in zip(resolved, events, strict=True))
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
        fetched = await self.fetch(isbns, {r.isbn13: r for r in resolved if r.isbn13})
        asked = [
            Asked(r.isbn13, r.book.title, work_key_for(r.book.title, _first(r.book.authors)))
            for r in resolved
            if r.isbn13
        ]
        works = await candidate_works(self.pool, asked)
        fetch_ms = int((time.monotonic() - started) * 1000)
        now = datetime.now(UTC)
        log.info(
            "enriched %d ISBNs in %d ms (%s)",
            len(isbns),
            fetch_ms,
            ", ".join(f"{p} {ms} ms" for p, ms in sorted(fetched.timings.items())),
        )
        return [
            self.metadata(r, fetched, works.get(r.isbn13 or "", []), fetch_ms, now)
            for r in resolved
        ]

    async def fetch(self, isbns: list[str], by_isbn: dict[str, ISBNResolved]) -> Fetched:
        timings: dict[str, int] = {}
        p = self.providers
        isbndb, openlibrary, wikidata = await asyncio.gather(
            timed("isbndb", p.isbndb.books_batch(isbns), {}, timings),
            timed("openlibrary", p.openlibrary.books_batch(isbns), {}, timings),
            timed("wikidata", p.wikidata.facts_for_isbns(isbns), {}, timings),
        )
        missing = [i for i in isbns if i not in isbndb]
        google = await asyncio.gather(
            *(
                self._limited(timed("google_books", p.google_books.by_isbn(i), None, timings))
                for i in missing
            )
        )
        descriptions = await asyncio.gather(
            *(self._limited(self._archive_description(by_isbn[i], timings)) for i in isbns)
        )
        records: dict[str, list[BookRecord]] = {i: [] for i in isbns}
        for source in (isbndb, openlibrary, dict(zip(missing, google, strict=True))):
            for isbn, record in source.items():
                if record is not None and isbn in records:
                    records[isbn].append(record)
        return Fetched(
            records,
            wikidata,
            {i: d for i, d in zip(isbns, descriptions, strict=True) if d},
            timings,
        )

    async def _limited(self, call: Awaitable[T]) -> T:
        async with self.limit:
            return await call

    async def _archive_description(
        self, resolved: ISBNResolved, timings: dict[str, int]
    ) -> str | None:
        """Internet Archive's description of the book, when its item really is this book."""
        book = resolved.book
        hits = await timed(
            "archive",
            self.providers.archive.search(book.title, _first(book.authors) or None),
            [],
            timings,
        )
        for hit in hits:
            if hit.description and (
                resolved.isbn13 == hit.isbn13
                or match_score(book, hit.title, hit.subtitle, hit.authors) >= ARCHIVE_MATCH
            ):
                return hit.description
        return None

    def metadata(
        self,
        resolved: ISBNResolved,
        fetched: Fetched,
        works: list[ExistingWork],
        fetch_ms: int,
        now: datetime,
    ) -> MetadataFetched:
        isbn13 = resolved.isbn13 or ""
        records = fetched.records.get(isbn13, [])
        timing = fetched.timings
        llm_edition, llm_work = llm_facts(resolved.book)
        editions = [edition_facts(r, isbn13, timing.get(r.provider, 0)) for r in records]
        work_facts = [work_facts_from_record(r, timing.get(r.provider, 0)) for r in records]
        if isbn13 in fetched.wikidata:
            work_facts.append(
                work_facts_from_wikidata(fetched.wikidata[isbn13], timing.get("wikidata", 0))
            )
        if isbn13 in fetched.descriptions:
            work_facts.append(
                work_facts_from_description(
                    "archive", fetched.descriptions[isbn13], timing.get("archive", 0)
                )
            )
        by_provider = {r.provider: r for r in records}
        source = next(
            (p for p in AUTHOR_SOURCES if by_provider.get(p) and by_provider[p].authors), None
        )
        authors = (
            author_facts(source, by_provider[source].authors)
            if source
            else author_facts(llm_edition.provider, resolved.book.authors)
        )
        book = resolved.book
        match = decide_work(isbn13, book.title, [a.name for a in authors] or book.authors, works)
        return MetadataFetched(
            envelope=derived_envelope(
                MetadataFetched,
                resolved.envelope,
                producer="enricher",
                item=isbn13,
                occurred_at=now,
            ),
            year=resolved.year,
            month=resolved.month,
            book_id=book.book_id,
            isbn13=isbn13,
            editions=[*editions, llm_edition],
            works=[*work_facts, llm_work],
            authors=authors,
            work_match=match,
            fetch_ms=fetch_ms,
        )


def _first(authors: Sequence[str]) -> str:
    return authors[0] if authors else ""


async def run(settings: Settings) -> None:
    pool = await create_pool(settings, max_size=4)
    providers = build_book_providers(settings, pool)
    try:
        enricher = Enricher(pool, providers, settings.http.max_concurrency)
        spec = WorkerSpec(
            "enricher",
            [topic_for(settings, ISBNResolved)],
            enricher.handle,
            max_batch=settings.isbndb.batch_size,
            max_wait_s=2.0,
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
        await pool.close()
