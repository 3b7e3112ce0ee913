"""The enricher's provider calls: every metadata provider for one batch of ISBNs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from shared.events import ISBNResolved
from shared.providers import BookProviders, DailyQuotaExhausted, NotFound, ProviderError
from shared.providers.models import BookRecord, WikidataFacts
from shared.providers.outage import Outages, gather_all
from shared.similarity import match_score

log = logging.getLogger(__name__)
T = TypeVar("T")

ARCHIVE_MATCH = 0.8


@dataclass
class Fetched:
    """Everything fetched for one batch, keyed by ISBN-13, with each provider's time."""

    records: dict[str, list[BookRecord]]
    wikidata: dict[str, WikidataFacts]
    descriptions: dict[str, str]
    timings: dict[str, int]
    # provider -> what went wrong (the first failure): it lost its data for some or all ISBNs
    failures: dict[str, str] = field(default_factory=dict)


async def timed(
    provider: str,
    call: Awaitable[T],
    default: T,
    timings: dict[str, int],
    failures: dict[str, str] | None = None,
    outages: Outages | None = None,
) -> T:
    """Run one provider call. A transient failure of a provider within its outage patience
    raises ProviderStillFailing (the batch waits for it: the worker retries it); a definitive
    one, or one of a provider down past its patience, costs its data, not the batch (and is
    noted in `failures`)."""
    started = time.monotonic()
    try:
        result = await call
        if outages is not None:
            outages.answered(provider)
        return result
    except DailyQuotaExhausted as exc:
        if outages is not None:
            outages.answered(provider)
        log.warning("%s daily quota spent: continuing on free sources", provider)
        if failures is not None:
            failures.setdefault(provider, f"{type(exc).__name__}: {exc}")
        return default
    except NotFound:
        if outages is not None:
            outages.answered(provider)
        return default
    except ProviderError as exc:
        if outages is not None:
            outages.failed(exc)  # raises while the batch must wait for the provider
        log.warning("%s failed for a batch: %s", provider, exc)
        if failures is not None:
            failures.setdefault(provider, f"{type(exc).__name__}: {exc}")
        return default
    finally:
        timings[provider] = timings.get(provider, 0) + int((time.monotonic() - started) * 1000)


class ProviderMetadata:
    """MetadataSource over the provider clients: batch calls at once, per-ISBN calls bounded."""

    def __init__(self, providers: BookProviders, concurrency: int) -> None:
        self.providers = providers
        self.limit = asyncio.Semaphore(concurrency)
        self.outages = providers.transport.outages

    async def fetch(self, isbns: Sequence[str], by_isbn: Mapping[str, ISBNResolved]) -> Fetched:
        timings: dict[str, int] = {}
        failures: dict[str, str] = {}
        p = self.providers
        asked = list(isbns)
        out = self.outages
        isbndb, openlibrary, wikidata = await gather_all(
            timed("isbndb", p.isbndb.books_batch(asked), {}, timings, failures, out),
            timed("openlibrary", p.openlibrary.books_batch(asked), {}, timings, failures, out),
            timed("wikidata", p.wikidata.facts_for_isbns(asked), {}, timings, failures, out),
        )
        missing = [i for i in asked if i not in isbndb]
        google = await gather_all(
            *(
                self._limited(
                    timed("google_books", p.google_books.by_isbn(i), None, timings, failures, out)
                )
                for i in missing
            )
        )
        descriptions = await gather_all(
            *(
                self._limited(self._archive_description(by_isbn[i], timings, failures))
                for i in asked
            )
        )
        records: dict[str, list[BookRecord]] = {i: [] for i in asked}
        for source in (isbndb, openlibrary, dict(zip(missing, google, strict=True))):
            for isbn, record in source.items():
                if record is not None and isbn in records:
                    records[isbn].append(record)
        return Fetched(
            records,
            wikidata,
            {i: d for i, d in zip(asked, descriptions, strict=True) if d},
            timings,
            failures,
        )

    async def _limited(self, call: Awaitable[T]) -> T:
        async with self.limit:
            return await call

    async def _archive_description(
        self, resolved: ISBNResolved, timings: dict[str, int], failures: dict[str, str]
    ) -> str | None:
        """Internet Archive's description of the book, when its item really is this book."""
        book = resolved.book
        author = book.authors[0] if book.authors else ""
        hits = await timed(
            "archive",
            self.providers.archive.search(book.title, author or None),
            [],
            timings,
            failures,
            self.outages,
        )
        for hit in hits:
            if hit.description and (
                resolved.isbn13 == hit.isbn13
                or match_score(book, hit.title, hit.subtitle, hit.authors) >= ARCHIVE_MATCH
            ):
                return hit.description
        return None
