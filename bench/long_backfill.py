"""A long backfill (>= 120 months) through the five services as real processes, against the
sandbox enforcing per-key rate limits as the real APIs do (a call early for its slot gets a
429). Prints the binding provider's achieved call rate as a ratio of its limit (goal >= 0.9),
the 429s our bursts caused (goal 0) and each service's steady-state RSS (goal < 200 MB).

ISBNdb binds at its Pro plan's 5/s, as its limit does in production; the others are set above
their real limits so the run finishes in minutes. The services are paced at the same limits,
shared by all replicas through PostgreSQL. The floor is the limit itself.

    python -m bench.long_backfill [--months 120] [--isbndb-rate 12]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import Figure, fresh_world, machine, stack_settings
from ops.devstack import processes
from ops.devstack.services_proc import SERVICES
from shared.months import YearMonth, months_between
from shared.settings import Settings
from tests.harness import Pipeline

# Calls per second per key, client and sandbox alike. ISBNdb is the one meant to bind: it is
# called for every book and its real limit is the tightest (5/s is its Pro plan). The others are
# set above their real limits so the run finishes in minutes, with room to spare.
RATES = {
    "isbndb": 5.0,  # ISBNdb's Pro plan
    "google_books": 10.0,
    "openlibrary": 10.0,
    "archive": 10.0,
    "wikidata": 10.0,
    "gemini": 10.0,
    "xai": 10.0,
}
# The sandbox's slack: calls may come up to two intervals early, as a token bucket of three
# allows (a process descheduled on this shared 2-core machine wakes late). An unpaced burst of
# eight at once still draws five 429s.
BURST = 3.0
STEADY = (0.2, 0.8)  # the binding provider's calls between these shares of its total


@dataclass
class Sample:
    at: float
    calls: dict[str, int]
    rss_mb: dict[str, float]


@dataclass
class Run:
    months: int
    settled_s: float
    status: dict[str, int]
    samples: list[Sample] = field(default_factory=list)
    injected_429: dict[str, int] = field(default_factory=dict)
    status_429: dict[str, int] = field(default_factory=dict)


def rss_mb(pid: int) -> float | None:
    """The process's resident set (VmRSS) in MB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def steady_window(samples: list[Sample], provider: str) -> tuple[Sample, Sample]:
    """The samples where the provider's calls pass STEADY's shares of its total: past the
    start-up and before the tail, where it has a backlog and its limit binds."""
    total = samples[-1].calls[provider]
    low = next(s for s in samples if s.calls[provider] >= STEADY[0] * total)
    high = next(s for s in samples if s.calls[provider] >= STEADY[1] * total)
    return low, high


def achieved_rate(samples: list[Sample], provider: str) -> float:
    low, high = steady_window(samples, provider)
    if high.at <= low.at:
        return 0.0
    return (high.calls[provider] - low.calls[provider]) / (high.at - low.at)


def steady_rss(samples: list[Sample], provider: str) -> dict[str, float]:
    """Each service's median RSS over the steady window (its peak would catch start-up)."""
    low, high = steady_window(samples, provider)
    inside = [s for s in samples if low.at <= s.at <= high.at] or samples
    return {
        service: statistics.median(s.rss_mb[service] for s in inside if service in s.rss_mb)
        for service in SERVICES
        if any(service in s.rss_mb for s in inside)
    }


async def run(base: Settings, months: list[YearMonth], rates: dict[str, float]) -> Run:
    async with fresh_world(base) as world:
        with tempfile.TemporaryDirectory() as folder:
            pipeline = Pipeline(world, Path(folder))
            pipeline.env.update(
                {f"ALEXANDRIA_{p.upper()}_RATE_PER_S": str(r) for p, r in rates.items()}
            )
            pipeline.env["ALEXANDRIA_LOG_LEVEL"] = "WARNING"
            pipeline.start_sandbox()
            try:
                pipeline.knobs(
                    {p: {"rate_per_s": r, "rate_burst": BURST} for p, r in rates.items()}
                )
                pipeline.start()
                await asyncio.sleep(3)  # let every consumer join its group first
                started = time.monotonic()
                await pipeline.plan(months)
                samples: list[Sample] = []
                sampler = asyncio.create_task(sample(pipeline, Path(folder), started, samples))
                try:
                    status = await pipeline.wait_until_settled(timeout_s=900)
                finally:
                    sampler.cancel()
                    await asyncio.gather(sampler, return_exceptions=True)
                settled = time.monotonic() - started
                async with httpx.AsyncClient(timeout=5) as http:
                    stats = (await http.get(f"{pipeline.sandbox}/_sandbox/stats")).json()
            finally:
                pipeline.stop()
    result = Run(len(months), settled, status, samples)
    for provider, counters in stats["providers"].items():
        result.injected_429[provider] = int(counters["injected"].get("rate_per_key", 0))
        result.status_429[provider] = int(counters["by_status"].get("429", 0))
    return result


async def sample(pipeline: Pipeline, folder: Path, started: float, out: list[Sample]) -> None:
    """Every half second: the sandbox's call counts per provider and each service's RSS."""
    pids = {s: processes.read_pid(folder / f"{s}.pid") for s in SERVICES}
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            stats = (await http.get(f"{pipeline.sandbox}/_sandbox/stats")).json()["providers"]
            rss = {s: mb for s, pid in pids.items() if pid and (mb := rss_mb(pid)) is not None}
            calls = {p: int(c["calls"]) for p, c in stats.items()}
            out.append(Sample(time.monotonic() - started, calls, rss))
            await asyncio.sleep(0.5)


def binding(run: Run, rates: dict[str, float]) -> str:
    """The provider nearest its limit over the run: the one whose limit binds."""
    last = run.samples[-1]
    return max(rates, key=lambda p: last.calls.get(p, 0) / rates[p])


async def measure(base: Settings, months: int, isbndb_rate: float) -> tuple[Run, str, float, float]:
    rates = {**RATES, "isbndb": isbndb_rate}
    # The sandbox's catalogue covers 2015-2025: 132 months with books to resolve.
    span = months_between(YearMonth(2015, 1), YearMonth(2025, 12))[:months]
    result = await run(base, span, rates)
    provider = binding(result, rates)
    return result, provider, achieved_rate(result.samples, provider), rates[provider]


async def figures(base: Settings, quick: bool) -> list[Figure]:
    result, provider, rate, limit = await measure(base, 120 if quick else 132, RATES["isbndb"])
    rss = steady_rss(result.samples, provider)
    bursts = sum(result.injected_429.values())
    size = f"{result.months} months"
    out = [
        Figure(
            f"{provider} calls/s at its limit, {size}",
            rate,
            "calls/s",
            ">= 0.9 of limit",
            rate >= 0.9 * limit,
            floor=limit,
            floor_name=f"{provider}'s limit, per key",
        ),
        Figure(f"429s from bursts, {size}", bursts, "429s", "0", bursts == 0),
    ]
    out += [
        Figure(f"{service} steady RSS, {size}", mb, "MB", "< 200 MB", mb < 200)
        for service, mb in rss.items()
    ]
    return out


async def main(base: Settings, months: int, isbndb_rate: float) -> None:
    print(f"machine: {machine()}")
    result, provider, rate, limit = await measure(base, months, isbndb_rate)
    last = result.samples[-1].calls if result.samples else {}
    print(f"{result.months} months settled in {result.settled_s:.0f}s: {result.status}")
    print("calls per provider: " + ", ".join(f"{p} {n}" for p, n in sorted(last.items()) if n))
    print(
        f"binding provider {provider}: {rate:.2f} calls/s over the steady window, limit "
        f"{limit:g}/s per key: ratio {rate / limit:.3f} (goal >= 0.9)"
    )
    print(
        f"429s from bursts (sandbox per-key limit): {sum(result.injected_429.values())} "
        f"(goal 0); all 429s: {sum(result.status_429.values())}"
        + "".join(f"; {p} {n}" for p, n in sorted(result.injected_429.items()) if n)
    )
    for service, mb in steady_rss(result.samples, provider).items():
        print(f"{service:>10} steady RSS {mb:6.1f} MB (goal < 200 MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--isbndb-rate", type=float, default=RATES["isbndb"])
    args = parser.parse_args()
    asyncio.run(main(stack_settings(), args.months, args.isbndb_rate))
