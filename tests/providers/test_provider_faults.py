"""Every client under the sandbox's fault knobs: 5xx, timeouts, malformed bodies, per-second
429s with Retry-After, and per-day quota answers that must stop calls until the reset."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.catalogue_index import CatalogueIndex
from shared.providers.archive import ArchiveClient
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
)
from shared.providers.gemini import GeminiClient
from shared.providers.google_books import GoogleBooksClient
from shared.providers.http import HttpTransport
from shared.providers.isbndb import IsbndbClient
from shared.providers.openai_compat import OpenAICompatClient
from shared.providers.openlibrary import OpenLibraryClient
from shared.providers.quota import PACIFIC, MemoryQuotaStore
from shared.providers.wikidata import WikidataClient
from tests.providers.conftest import Sandbox, SleepLog, provider_settings

PROVIDERS = [
    "isbndb", "google_books", "openlibrary", "archive", "wikidata", "gemini", "xai",
    "openai_compat",
]  # fmt: skip
PROMPT = "List 3 notable books first published in June 2015."
Call = Callable[[], Awaitable[Any]]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def one_call(
    sandbox: Sandbox,
    provider: str,
    sleeps: SleepLog,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[Call]:
    """A transport like production's (one per process) and one representative call."""
    settings = provider_settings(sandbox, **overrides)
    transport = HttpTransport.from_settings(
        settings,
        quota=MemoryQuotaStore(clock=clock or Clock()),
        sleep=sleeps,
        clock=clock or Clock(),
    )
    book = sandbox.catalogue.books[0]
    calls: dict[str, Callable[[], Call]] = {
        "isbndb": lambda: _isbndb(transport, settings, book.isbn13),
        "google_books": lambda: (
            lambda: GoogleBooksClient.from_settings(transport, settings).search(book.title)
        ),
        "openlibrary": lambda: (
            # One request: /isbn/{isbn}.json would be two (the 302 counts at the provider too).
            lambda: OpenLibraryClient.from_settings(transport, settings).books_batch([book.isbn13])
        ),
        "archive": lambda: (
            lambda: ArchiveClient.from_settings(transport, settings).metadata(
                CatalogueIndex.build(sandbox.catalogue).archive_ids[book.id]
            )
        ),
        "wikidata": lambda: (
            lambda: WikidataClient.from_settings(transport, settings).facts_for_isbns([book.isbn13])
        ),
        "gemini": lambda: (
            lambda: GeminiClient.from_settings(transport, settings).generate_books(PROMPT)
        ),
        "xai": lambda: (
            lambda: OpenAICompatClient.xai_from_settings(transport, settings).generate_books(PROMPT)
        ),
        "openai_compat": lambda: _compat(transport, settings),
    }
    try:
        yield calls[provider]()
    finally:
        await transport.aclose()


def _isbndb(transport: HttpTransport, settings: Any, isbn13: str) -> Call:
    client = IsbndbClient.from_settings(transport, settings)
    client.rate_window_s = 0.02  # keep the persistent-429 path fast
    return lambda: client.book(isbn13)


def _compat(transport: HttpTransport, settings: Any) -> Call:
    client = OpenAICompatClient.from_settings(transport, settings)
    assert client is not None
    return lambda: client.generate_books(PROMPT)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_5xx_retried_with_backoff_then_given_up(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"error_rate": 1.0}})
    async with one_call(sandbox, provider, sleeps) as call:
        with pytest.raises(ProviderUnavailable, match=r"server error \(5\d\d\).*gave up after 3"):
            await call()
    assert await sandbox.calls(provider) == 3  # http_max_retries=2
    assert len(sleeps.waits) == 2
    assert all(0 <= wait <= 0.05 for wait in sleeps.waits)  # full jitter under the cap


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_transient_5xx_recovered(sandbox: Sandbox, sleeps: SleepLog, provider: str) -> None:
    await sandbox.knobs({provider: {"error_rate": 0.5}, "seed": 7})
    async with one_call(sandbox, provider, sleeps, http_max_retries=8) as call:
        for _ in range(6):
            await call()
    stats = await sandbox.stats(provider)
    assert stats["injected"].get("error", 0) >= 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeouts_become_unavailable(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"timeout_rate": 1.0, "timeout_s": 3.0}})
    fast = {"http_timeout_s": 0.25, "llm_timeout_s": 0.25, "wikidata_timeout_s": 0.25}
    async with one_call(sandbox, provider, sleeps, http_max_retries=1, **fast) as call:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await call()
    assert await sandbox.calls(provider) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_json_is_a_clear_error(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"malformed_rate": 1.0}})
    async with one_call(sandbox, provider, sleeps) as call:
        with pytest.raises(MalformedResponse, match=provider):
            await call()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_per_second_429_honours_retry_after(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"rate_limit_429": 1}})
    async with one_call(sandbox, provider, sleeps) as call:
        await call()
        await call()  # same second: 429 + Retry-After, waited out, then answered
    stats = await sandbox.stats(provider)
    assert stats["by_status"].get("429") == 1
    assert sleeps.waits and sleeps.waits[0] >= 1.0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_retry_after_beyond_the_cap_is_not_waited(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"rate_limit_429": 1}})
    async with one_call(sandbox, provider, sleeps, http_retry_after_max_s=0.5) as call:
        await call()
        with pytest.raises(RateLimited) as limited:
            await call()
    assert limited.value.retry_after_s is not None and limited.value.retry_after_s >= 1
    assert sleeps.waits == []
    assert await sandbox.calls(provider) == 2


DAILY_STOP = ["isbndb", "google_books", "wikidata", "gemini", "xai", "openai_compat"]


@pytest.mark.parametrize("provider", DAILY_STOP)
async def test_daily_quota_stops_calls_until_reset(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    await sandbox.knobs({provider: {"daily_quota": 1}})
    clock = Clock()
    async with one_call(sandbox, provider, sleeps, clock=clock) as call:
        await call()
        with pytest.raises(DailyQuotaExhausted) as stopped:
            await call()
        reset_at = stopped.value.reset_at
        assert reset_at > clock.now
        if provider == "gemini":  # requests per day reset at midnight Pacific
            assert reset_at.astimezone(PACIFIC).time().hour == 0
        elif provider == "wikidata":  # a ban carries its own end
            assert reset_at - clock.now > timedelta(hours=23)
        else:
            assert reset_at.time().hour == 0 and reset_at.tzinfo is not None
        seen = await sandbox.calls(provider)
        with pytest.raises(DailyQuotaExhausted):
            await call()
        assert await sandbox.calls(provider) == seen  # stopped locally, nothing sent
        clock.now = reset_at + timedelta(seconds=1)
        with pytest.raises(DailyQuotaExhausted):
            await call()  # the sandbox's own day has not turned, so it refuses again...
        assert await sandbox.calls(provider) > seen  # ...but we did ask once the reset passed


@pytest.mark.parametrize("provider", ["openlibrary", "archive"])
async def test_no_daily_quota_means_rate_limited(
    sandbox: Sandbox, sleeps: SleepLog, provider: str
) -> None:
    """Open Library and the Archive publish no daily quota: a lasting 429 is a rate limit."""
    await sandbox.knobs({provider: {"daily_quota": 1}})
    async with one_call(sandbox, provider, sleeps) as call:
        await call()
        with pytest.raises(RateLimited):
            await call()
        before = await sandbox.calls(provider)
        with pytest.raises(RateLimited):
            await call()
        assert await sandbox.calls(provider) > before  # not blocked for the day


async def test_isbndb_own_daily_budget_refuses_before_calling(
    sandbox: Sandbox, sleeps: SleepLog
) -> None:
    async with one_call(sandbox, "isbndb", sleeps, isbndb_daily_quota=2) as call:
        await call()
        await call()
        with pytest.raises(DailyQuotaExhausted, match="daily quota of 2 calls"):
            await call()
    assert await sandbox.calls("isbndb") == 2
