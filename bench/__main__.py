"""`make bench`: every benchmark at the size that fits in about 15 minutes on 2 cores, then one
table of figure, floor from the same run, ratio, goal and whether it was met.

    python -m bench [--only dedup_query,projector] [--full]

Each benchmark module exposes `figures(base, quick) -> list[Figure]`; `--full` runs them at
their full size (much longer). The machine's load average is printed before and after, since
absolute figures on a shared machine are noisy and the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from collections.abc import Sequence

from bench.common import Figure, machine, stack_settings
from shared.settings import Settings

BENCHMARKS = ("dedup_query", "projector", "month_latency", "long_backfill")


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table, the form docs/benchmarks.md keeps."""
    lines = [
        "| figure | value | floor (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        floor = f"{_number(f.floor)} {f.unit} ({f.floor_name})" if f.floor is not None else ""
        lines.append(
            f"| {f.name} | {_number(f.value)} {f.unit} | {floor} | {_number(f.ratio)} "
            f"| {f.goal} | {'yes' if f.met else '**no**'} |"
        )
    return "\n".join(lines)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


async def _run(base: Settings, names: Sequence[str], quick: bool) -> list[Figure]:
    collected: list[Figure] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name} ({_load()})", flush=True)
        got = await module.figures(base, quick)
        print(f"   {len(got)} figures in {time.perf_counter() - started:.0f} s", flush=True)
        collected.extend(got)
    return collected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--full", action="store_true", help="full sizes instead of quick ones")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    print(f"machine: {machine()}; {_load()}")
    base = stack_settings()  # starts the stack if needed: outside the event loop
    figures = asyncio.run(_run(base, names, quick=not args.full))
    print()
    print(table(figures))
    print()
    print(f"after: {_load()}")
    missed = [f.name for f in figures if not f.met]
    print(f"{len(figures) - len(missed)} of {len(figures)} goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
