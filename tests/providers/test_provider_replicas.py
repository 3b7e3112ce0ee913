"""Replicas share daily quotas through PostgreSQL: the ISBNdb budget is reserved before each call
and a provider's per-day refusal stops every replica, not just the one that saw it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.providers.errors import DailyQuotaExhausted
from shared.providers.google_books import GoogleBooksClient
from shared.providers.http import HttpTransport
from shared.providers.isbndb import IsbndbClient
from shared.providers.quota import PostgresQuotaStore
from tests.providers.conftest import Sandbox, SleepLog, provider_settings


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


async def test_isbndb_budget_shared_by_replicas(
    sandbox: Sandbox, pool: asyncpg.Pool, sleeps: SleepLog
) -> None:
    settings = provider_settings(sandbox, isbndb_daily_quota=5)
    replicas = [
        HttpTransport.from_settings(settings, quota=PostgresQuotaStore(pool), sleep=sleeps)
        for _ in range(3)
    ]
    clients = [IsbndbClient.from_settings(t, settings) for t in replicas]
    isbns = [book.isbn13 for book in sandbox.catalogue.books[:4]]
    try:
        results = await asyncio.gather(
            *(client.book(isbn) for client in clients for isbn in isbns), return_exceptions=True
        )
    finally:
        for transport in replicas:
            await transport.aclose()
    won = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DailyQuotaExhausted)]
    assert (len(won), len(refused)) == (5, 7)
    assert await sandbox.calls("isbndb") == 5
    assert await pool.fetchval("SELECT used FROM provider_quota WHERE provider = 'isbndb'") == 5


async def test_per_day_refusal_stops_other_replicas(
    sandbox: Sandbox, pool: asyncpg.Pool, sleeps: SleepLog
) -> None:
    await sandbox.knobs({"google_books": {"daily_quota": 1}})
    settings = provider_settings(sandbox)
    first = HttpTransport.from_settings(settings, quota=PostgresQuotaStore(pool), sleep=sleeps)
    second = HttpTransport.from_settings(settings, quota=PostgresQuotaStore(pool), sleep=sleeps)
    title = sandbox.catalogue.books[0].title
    try:
        await GoogleBooksClient.from_settings(first, settings).search(title)
        with pytest.raises(DailyQuotaExhausted):
            await GoogleBooksClient.from_settings(first, settings).search(title)
        row = await pool.fetchrow(
            "SELECT exhausted_at FROM provider_quota WHERE provider = 'google_books'"
        )
        assert row is not None and row["exhausted_at"] is not None
        before = await sandbox.calls("google_books")
        with pytest.raises(DailyQuotaExhausted):
            await GoogleBooksClient.from_settings(second, settings).search(title)
        assert await sandbox.calls("google_books") == before  # the other replica never called
    finally:
        await first.aclose()
        await second.aclose()


async def test_isbndb_persistent_429_marks_the_day(
    sandbox: Sandbox, pool: asyncpg.Pool, sleeps: SleepLog
) -> None:
    await sandbox.knobs({"isbndb": {"daily_quota": 0}})
    settings = provider_settings(sandbox)
    store = PostgresQuotaStore(pool)
    transport = HttpTransport.from_settings(settings, quota=store, sleep=sleeps)
    client = IsbndbClient.from_settings(transport, settings)
    client.rate_window_s = 0.02
    try:
        with pytest.raises(DailyQuotaExhausted, match="persisted after 3 attempts"):
            await client.book(sandbox.catalogue.books[0].isbn13)
    finally:
        await transport.aclose()
    state = await store.state("isbndb")
    assert state.used == 3 and state.exhausted_at is not None  # each attempt counted once
