"""The resolver's provider calls: each cascade provider's search, and the cascade over them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opentelemetry import trace

from services.resolver.logic.resolution import CASCADE, Candidate, judge_candidates, next_providers
from shared import isbn as isbn_lib
from shared.events import GeneratedBook, ResolutionAttempt
from shared.providers import (
    BookProviders,
    DailyQuotaExhausted,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from shared.providers.models import BookRecord
from shared.providers.outage import Outages
from shared.tracing import record_failure

Search = Callable[[GeneratedBook], Awaitable[Sequence[Candidate | BookRecord]]]
tracer = trace.get_tracer("alexandria.resolver")
# Attempt statuses that mean the provider could not answer (not "it does not know the book").
FAILED = frozenset({"unavailable", "error", "skipped_quota"})


@dataclass
class ProviderHealth:
    """Providers to skip for now: daily quota spent (until the reset) or unreachable."""

    exhausted_until: dict[str, datetime] = field(default_factory=dict)

    def exhausted(self, now: datetime) -> set[str]:
        return {p for p, until in self.exhausted_until.items() if until > now}


def waiting_on_outages(name: str, search: Search, outages: Outages) -> Search:
    """`search`, raising ProviderStillFailing on a transient failure while the provider is
    within its outage patience: the book waits for this tier (the batch is retried) instead
    of falling through to a lower tier and another edition."""

    async def call(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        try:
            found = await search(book)
        except ProviderError as exc:
            outages.failed(exc)
            raise
        outages.answered(name)
        return found

    return call


def searches(providers: BookProviders) -> dict[str, Search]:
    """Each cascade provider's search, adapted to candidates with an ISBN-13; a provider's
    outage makes the book wait for it (`waiting_on_outages`)."""

    def first(book: GeneratedBook) -> str | None:
        return book.authors[0] if book.authors else None

    async def isbndb(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        found: list[Candidate | BookRecord] = []
        suggested = isbn_lib.isbn13_or_none(book.isbn)
        if suggested is not None:  # the LLM's own ISBN first: one cheap, exact lookup
            with contextlib.suppress(NotFound):
                found.append(await providers.isbndb.book(suggested))
        found.extend(await providers.isbndb.search(book.title, first(book)))
        return found

    async def google_books(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        return await providers.google_books.search(book.title, first(book))

    async def openlibrary(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        return await providers.openlibrary.search(book.title, first(book))

    async def archive(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        return await providers.archive.search(book.title, first(book))

    async def wikidata(book: GeneratedBook) -> Sequence[Candidate | BookRecord]:
        hits = await providers.wikidata.search(book.title, first(book))
        return [
            Candidate(isbn13=number, title=hit.title, authors=hit.authors)
            for hit in hits
            for number in {isbn_lib.isbn13_or_none(i) for i in hit.isbns} - {None}
        ]

    plain: dict[str, Search] = {
        "isbndb": isbndb,
        "google_books": google_books,
        "openlibrary": openlibrary,
        "archive": archive,
        "wikidata": wikidata,
    }
    outages = providers.transport.outages
    return {name: waiting_on_outages(name, search, outages) for name, search in plain.items()}


async def run_cascade(
    book: GeneratedBook,
    search: dict[str, Search],
    health: ProviderHealth,
) -> list[ResolutionAttempt]:
    """The cascade for one book, in a "cascade" span: the providers' call spans nest under it,
    each provider that failed or was skipped is an event, and the last attempt's status (and
    the matching provider) are attributes."""
    with tracer.start_as_current_span("cascade", attributes={"book_id": book.book_id}) as span:
        attempts = await _cascade(book, search, health)
        for attempt in attempts:
            if attempt.status in FAILED:
                record_failure(
                    span,
                    "provider failed" if attempt.status != "skipped_quota" else "provider skipped",
                    {
                        "provider": attempt.provider,
                        "status": attempt.status,
                        "error": attempt.detail,
                    },
                )
        last = attempts[-1] if attempts else None
        span.set_attribute("providers", [a.provider for a in attempts])
        if last is not None:
            span.set_attribute("status", last.status)
            if last.status == "matched":
                span.set_attribute("provider", last.provider)
        return attempts


async def _cascade(
    book: GeneratedBook,
    search: dict[str, Search],
    health: ProviderHealth,
) -> list[ResolutionAttempt]:
    """Attempts in cascade order, stopping at the first match. A provider whose daily quota is
    spent is skipped (and recorded so); one still failing transiently raises
    ProviderStillFailing (the book waits, see `searches`); one down past its outage patience
    is recorded and the next one asked."""
    attempts: list[ResolutionAttempt] = []
    now = datetime.now(UTC)
    skipped = health.exhausted(now)
    for provider in CASCADE:
        if provider not in next_providers([provider], skipped, set()):
            attempts.append(
                ResolutionAttempt(
                    provider=provider,
                    status="skipped_quota",
                    detail="daily quota spent",
                    duration_ms=0,
                )
            )
            continue
        started = time.monotonic()
        try:
            candidates = await search[provider](book)
        except DailyQuotaExhausted as exc:
            health.exhausted_until[provider] = exc.reset_at
            attempts.append(_failed(provider, "skipped_quota", exc, started))
            continue
        except NotFound:
            candidates = []
        except (ProviderUnavailable, RateLimited) as exc:
            attempts.append(_failed(provider, "unavailable", exc, started))
            continue
        except ProviderError as exc:
            attempts.append(_failed(provider, "error", exc, started))
            continue
        attempt = judge_candidates(provider, book, candidates, _elapsed_ms(started))
        attempts.append(attempt)
        if attempt.status == "matched":
            break
    return attempts


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failed(provider: str, status: str, exc: Exception, started: float) -> ResolutionAttempt:
    return ResolutionAttempt(
        provider=provider,
        status=status,
        detail=f"{type(exc).__name__}: {exc}"[:500],
        duration_ms=_elapsed_ms(started),
    )
