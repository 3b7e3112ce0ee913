"""One month end to end: from its MonthScheduled to the moment it is completed in the tables,
p50/p95: one month alone on an idle pipeline, and 12 scheduled together, with the sandbox at
zero latency and at 100 ms per API call. The floor is the broker round trip of one event,
measured in the same run; at 100 ms per call, the providers' own chain (a month's generate,
resolve and enrich calls, one after another, at the least one call each) plus that round trip.

    python -m bench.month_latency [--months 12] [--alone 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.common import Figure, fresh_world, machine, percentile, stack_settings
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


@asynccontextmanager
async def idle_pipeline(base: Settings, latency_ms: int) -> AsyncIterator[Pipeline]:
    """The five services on a world of their own, the sandbox at `latency_ms` per call, every
    consumer in its group before the first month is planned."""
    async with fresh_world(base) as world:
        with tempfile.TemporaryDirectory() as folder:
            pipeline = Pipeline(world, Path(folder))
            pipeline.start_sandbox()
            try:
                pipeline.knobs({"*": {"latency_ms": latency_ms}})
                pipeline.start()
                await asyncio.sleep(3)  # let every consumer join its group first
                yield pipeline
            finally:
                pipeline.stop()


async def run(base: Settings, months: list[YearMonth], latency_ms: int) -> list[float]:
    """Every month planned at once; each one's latency."""
    async with idle_pipeline(base, latency_ms) as pipeline:
        await pipeline.plan(months)
        times = await completion_times(pipeline.settings, len(months), 600)
    return list(times.values())


async def run_alone(base: Settings, months: list[YearMonth], latency_ms: int) -> list[float]:
    """The months one after another, each planned once the one before it is completed, so
    each runs alone on an idle pipeline."""
    times: dict[tuple[int, int], float] = {}
    async with idle_pipeline(base, latency_ms) as pipeline:
        for done, month in enumerate(months, start=1):
            await pipeline.plan([month])
            times = await completion_times(pipeline.settings, done, 120)
            await asyncio.sleep(0.5)  # idle again
    return list(times.values())


async def broker_round_trip(base: Settings) -> float:
    async with fresh_world(base) as world, EventProducer(world, Codec()) as producer:
        started = time.perf_counter()
        for _ in range(20):
            await producer.send(all_samples()[0])
        return (time.perf_counter() - started) / 20


CALLS_PER_MONTH = 3  # generate, resolve, enrich: a month's calls one after another, at least


def describe(label: str, times: list[float]) -> str:
    return (
        f"{label}: {len(times)} months, p50 {percentile(times, 50):.2f}s, "
        f"p95 {percentile(times, 95):.2f}s (MonthScheduled to completed in the tables)"
    )


async def figures(base: Settings, quick: bool) -> list[Figure]:
    """The issue's three goals; quick times 3 months alone instead of 5."""
    year = months_between(YearMonth(2019, 1), YearMonth(2019, 12))
    floor = await broker_round_trip(base)
    chain = CALLS_PER_MONTH * 0.1 + floor
    print(f"machine: {machine()}")
    print(f"floor: one event's broker round trip {floor * 1000:.1f} ms")
    alone = await run_alone(base, year[: 3 if quick else 5], 0)
    print(describe("one month alone, sandbox latency   0 ms", alone))
    together = await run(base, year, 0)
    print(describe("12 months together, sandbox latency   0 ms", together))
    slow = await run(base, year, 100)
    print(describe("12 months together, sandbox latency 100 ms", slow))
    a, t, s = (percentile(x, 50) for x in (alone, together, slow))
    return [
        Figure("month latency p50, 1 month alone, sandbox 0 ms", a, "s", "< 1 s", a < 1.0,
               floor, "one event's broker round trip"),
        Figure("month latency p50, 12 months together, sandbox 0 ms", t, "s", "< 2 s",
               t < 2.0 and len(together) == 12, floor, "one event's broker round trip"),
        Figure("month latency p50, 12 months together, 100 ms per API call", s, "s", "< 4 s",
               s < 4.0 and len(slow) == 12, chain,
               f"{CALLS_PER_MONTH} API calls in a row + broker round trip"),
    ]  # fmt: skip


async def main(base: Settings, count: int, alone: int) -> None:
    months = months_between(YearMonth(2019, 1), YearMonth(2019, 12))[:count]
    floor = await broker_round_trip(base)
    print(f"machine: {machine()}")
    print(f"floor: one event's broker round trip {floor * 1000:.1f} ms")
    if alone:
        times = await run_alone(base, months[:alone], 0)
        print(describe("one month alone, sandbox latency   0 ms", times))
    for latency in (0, 100):
        times = await run(base, months, latency)
        print(describe(f"{count} months together, sandbox latency {latency:>3} ms", times))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--alone", type=int, default=5, help="months timed one at a time")
    args = parser.parse_args()
    asyncio.run(main(stack_settings(), args.months, args.alone))
