"""Daily quota store: one contract for the PostgreSQL store and its in-memory twin, plus races
between real processes against a real database."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.providers.errors import DailyQuotaExhausted
from shared.providers.quota import PACIFIC, MemoryQuotaStore, PostgresQuotaStore

# The table comes from the project's migrations; this is the same DDL for a database without it.
DDL = """CREATE TABLE IF NOT EXISTS provider_quota (provider text NOT NULL, day date NOT NULL,
used integer NOT NULL DEFAULT 0 CHECK (used >= 0), exhausted_at timestamptz,
PRIMARY KEY (provider, day))"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    assert pool is not None
    await pool.execute(DDL)
    try:
        yield pool
    finally:
        await pool.close()


StoreFactory = Callable[[Clock], "PostgresQuotaStore | MemoryQuotaStore"]


@pytest.fixture(params=["postgres", "memory"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Both stores honour the same contract, so tests using the fake cannot drift from prod.

    Sync on purpose: the database fixtures start the stack with asyncio.run(), which must not
    happen inside the running test loop.
    """
    if request.param == "memory":
        return lambda clock: MemoryQuotaStore(clock=clock)
    pg_pool = request.getfixturevalue("pool")
    return lambda clock: PostgresQuotaStore(pg_pool, clock=clock)


async def test_reserve_until_limit_then_refuse(make_store: StoreFactory) -> None:
    store = make_store(Clock(datetime(2025, 6, 1, 10, tzinfo=UTC)))
    assert [await store.reserve("isbndb", 3) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(DailyQuotaExhausted) as refused:
        await store.reserve("isbndb", 3)
    assert refused.value.reset_at == datetime(2025, 6, 2, tzinfo=UTC)
    # A refused reservation does not count.
    assert (await store.state("isbndb")).used == 3
    # Providers are independent.
    assert await store.reserve("google_books", 3) == 1


async def test_reserve_many_at_once_and_zero_limit(make_store: StoreFactory) -> None:
    store = make_store(Clock(datetime(2025, 6, 1, 10, tzinfo=UTC)))
    with pytest.raises(DailyQuotaExhausted):
        await store.reserve("isbndb", 0)
    with pytest.raises(DailyQuotaExhausted):
        await store.reserve("isbndb", 5, n=6)
    assert (await store.state("isbndb")).used == 0
    assert await store.reserve("isbndb", 5, n=5) == 5


async def test_day_rolls_over_at_utc_midnight(make_store: StoreFactory) -> None:
    clock = Clock(datetime(2025, 6, 1, 23, 59, 59, tzinfo=UTC))
    store = make_store(clock)
    await store.reserve("isbndb", 1)
    with pytest.raises(DailyQuotaExhausted):
        await store.reserve("isbndb", 1)
    clock.now = datetime(2025, 6, 2, 0, 0, 0, tzinfo=UTC)
    assert await store.reserve("isbndb", 1) == 1


async def test_marked_exhausted_day_refuses_until_reset(make_store: StoreFactory) -> None:
    clock = Clock(datetime(2025, 6, 1, 8, tzinfo=UTC))
    store = make_store(clock)
    assert await store.exhausted_until("isbndb") is None
    await store.reserve("isbndb", 100)
    reset = await store.mark_exhausted("isbndb")
    assert reset == datetime(2025, 6, 2, tzinfo=UTC)
    assert await store.exhausted_until("isbndb") == reset
    # Room left in our own count does not matter: the provider said the day is over.
    with pytest.raises(DailyQuotaExhausted):
        await store.reserve("isbndb", 100)
    first_mark = (await store.state("isbndb")).exhausted_at
    clock.now += timedelta(hours=1)
    await store.mark_exhausted("isbndb")  # idempotent, keeps the first time
    assert (await store.state("isbndb")).exhausted_at == first_mark
    clock.now = datetime(2025, 6, 2, 0, 0, 1, tzinfo=UTC)
    assert await store.exhausted_until("isbndb") is None
    assert await store.reserve("isbndb", 100) == 1


async def test_pacific_quota_day_for_gemini(make_store: StoreFactory) -> None:
    # 06:59 UTC on 2 June is 23:59 PDT on 1 June; the Gemini day turns at 07:00 UTC.
    clock = Clock(datetime(2025, 6, 2, 6, 59, tzinfo=UTC))
    store = make_store(clock)
    reset = await store.mark_exhausted("gemini", tz=PACIFIC)
    assert reset == datetime(2025, 6, 2, 7, tzinfo=UTC)
    assert await store.exhausted_until("gemini", tz=PACIFIC) == reset
    clock.now = datetime(2025, 6, 2, 7, 0, tzinfo=UTC)
    assert await store.exhausted_until("gemini", tz=PACIFIC) is None


async def test_concurrent_tasks_never_overshoot(make_store: StoreFactory) -> None:
    store = make_store(Clock(datetime(2025, 6, 1, 10, tzinfo=UTC)))

    async def hammer() -> int:
        won = 0
        for _ in range(30):
            try:
                await store.reserve("isbndb", 50)
                won += 1
            except DailyQuotaExhausted:
                pass
        return won

    results = await asyncio.gather(*(hammer() for _ in range(8)))
    assert sum(results) == 50
    assert (await store.state("isbndb")).used == 50


async def test_processes_racing_never_exceed_the_limit(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """Four OS processes x four connections each race for 120 calls: exactly 120 are won."""
    limit, processes, tasks = 120, 4, 4
    start_at = time.time() + 1.5  # after every process has connected
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.providers.quota_worker",
            database_url,
            "isbndb",
            str(limit),
            str(tasks),
            str(start_at),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    won = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()
        won.append(int(out.decode().strip()))
    assert sum(won) == limit
    assert sum(1 for count in won if count) >= 2, f"no real race happened: {won}"
    row = await pool.fetchrow(
        "SELECT used, exhausted_at FROM provider_quota WHERE provider = 'isbndb'"
    )
    assert row is not None and row["used"] == limit and row["exhausted_at"] is None
