"""One month end to end: from its MonthScheduled to the moment it is completed in the tables,
p50/p95 over several months, with the sandbox at zero latency and at 100 ms per API call.
The floor is the broker round trip of one event, measured in the same run.

    python -m bench.month_latency [--months 12]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.common import fresh_world, machine, percentile, stack_settings
from shared.events import Codec
from shared.kafka.producer import EventProducer
from shared.months import YearMonth, months_between
from shared.settings import Settings
from tests.harness import Pipeline
from tests.samples import all_samples


async def completion_times(
    settings: Settings, n: int, timeout_s: float
) -> dict[tuple[int, int], float]:
    """Seconds from each month's start (scheduler claim) to it being completed, by polling."""
    conn = await asyncpg.connect(settings.dsn)
    done: dict[tuple[int, int], float] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(done) < n and time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT year, month, started_at FROM backfill_log WHERE status = 'completed'"
            )
            now = datetime.now(UTC)
            for r in rows:
                key = (r["year"], r["month"])
                if key not in done and r["started_at"] is not None:
                    done[key] = (now - r["started_at"]).total_seconds()
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return done


async def run(base: Settings, months: list[YearMonth], latency_ms: int) -> list[float]:
    async with fresh_world(base) as world:
        with tempfile.TemporaryDirectory() as folder:
            pipeline = Pipeline(world, Path(folder))
            pipeline.start_sandbox()
            try:
                pipeline.knobs({"*": {"latency_ms": latency_ms}})
                pipeline.start()
                await asyncio.sleep(3)  # let every consumer join its group first
                await pipeline.plan(months)
                times = await completion_times(world, len(months), 600)
            finally:
                pipeline.stop()
    return list(times.values())


async def broker_round_trip(base: Settings) -> float:
    async with fresh_world(base) as world, EventProducer(world, Codec()) as producer:
        started = time.perf_counter()
        for _ in range(20):
            await producer.send(all_samples()[0])
        return (time.perf_counter() - started) / 20


async def main(base: Settings, count: int) -> None:
    months = months_between(YearMonth(2019, 1), YearMonth(2019, 12))[:count]
    floor = await broker_round_trip(base)
    print(f"machine: {machine()}")
    print(f"floor: one event's broker round trip {floor * 1000:.1f} ms")
    for latency in (0, 100):
        times = await run(base, months, latency)
        print(
            f"sandbox latency {latency:>3} ms: {len(times)} months, "
            f"p50 {percentile(times, 50):.2f}s, p95 {percentile(times, 95):.2f}s "
            f"(MonthScheduled to completed in the tables)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=12)
    asyncio.run(main(stack_settings(), parser.parse_args().months))
