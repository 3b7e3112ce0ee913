"""A separate process that hammers the quota store: `python -m tests.providers.quota_worker`.

Prints how many reservations it won. Used to prove replicas never overshoot the daily limit.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

import asyncpg

from shared.providers.errors import DailyQuotaExhausted
from shared.providers.quota import PostgresQuotaStore

FIXED_NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def _task(store: PostgresQuotaStore, provider: str, limit: int) -> int:
    won = 0
    while True:
        try:
            await store.reserve(provider, limit)
        except DailyQuotaExhausted:
            return won
        won += 1


async def main(dsn: str, provider: str, limit: int, tasks: int, start_at: float) -> int:
    pool = await asyncpg.create_pool(dsn, min_size=tasks, max_size=tasks)
    assert pool is not None
    try:
        store = PostgresQuotaStore(pool, clock=lambda: FIXED_NOW)
        # Every process starts at the same wall-clock instant, so reservations really race.
        await asyncio.sleep(max(0.0, start_at - time.time()))
        results = await asyncio.gather(*(_task(store, provider, limit) for _ in range(tasks)))
        return sum(results)
    finally:
        await pool.close()


if __name__ == "__main__":
    dsn, provider, limit, tasks, start_at = sys.argv[1:6]
    print(asyncio.run(main(dsn, provider, int(limit), int(tasks), float(start_at))))
