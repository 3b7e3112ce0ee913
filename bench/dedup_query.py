"""The resolver's known-books query: 50 generated titles against N stored editions, p50/p95,
against the floor of a plain primary-key lookup of 50 ISBNs measured in the same run.

    python -m bench.dedup_query [--editions 1000000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime

import asyncpg

from bench.common import fresh_world, machine, percentile, stack_settings
from services.resolver.known import known_rows
from shared.events import GeneratedBook
from shared.settings import Settings

WORDS = [
    "river",
    "night",
    "garden",
    "silent",
    "empire",
    "glass",
    "winter",
    "daughter",
    "house",
    "shadow",
    "light",
    "year",
    "city",
    "war",
    "stone",
    "secret",
    "ocean",
    "paper",
    "fire",
    "song",
    "memory",
    "north",
    "wolf",
    "crown",
    "salt",
    "iron",
    "summer",
    "bird",
    "golden",
    "broken",
    "last",
    "hidden",
    "lost",
    "wild",
]


def title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 5)))


def isbn13(n: int) -> str:
    body = f"979{n:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


async def fill(dsn: str, n: int) -> None:
    """n editions with generated titles, loaded with one INSERT ... SELECT (fast)."""
    conn = await asyncpg.connect(dsn)
    rng = random.Random(7)
    titles = [title(rng) for _ in range(5000)]
    await conn.execute(
        "INSERT INTO enriched_works (work_key, title, created_at, updated_at) "
        "VALUES ('wk-bench', 'Bench', now(), now())"
    )
    batch = 100_000
    at = datetime.now(UTC)
    for start in range(0, n, batch):
        rows = [
            (isbn13(i), f"{titles[i % len(titles)]} {i // len(titles)}", "wk-bench")
            for i in range(start, min(n, start + batch))
        ]
        await conn.copy_records_to_table(
            "enriched_editions",
            records=[(*r, at, at) for r in rows],
            columns=("isbn", "title", "work_key", "created_at", "updated_at"),
        )
    await conn.execute("ANALYZE enriched_editions")
    await conn.close()


async def main(base: Settings, n: int, runs: int) -> None:
    async with fresh_world(base) as world:
        started = time.perf_counter()
        await fill(world.dsn, n)
        print(f"loaded {n:,} editions in {time.perf_counter() - started:.0f}s")
        pool = await asyncpg.create_pool(world.dsn, min_size=1, max_size=1)
        rng = random.Random(11)
        query_ms, floor_ms = [], []
        for _ in range(runs):
            picks = [rng.randrange(n) for _ in range(50)]
            books = [
                GeneratedBook(
                    book_id=f"b{i}",
                    title=f"{title(rng)}",
                    authors=["A. Writer"],
                    isbn=isbn13(p) if i % 3 == 0 else None,
                )
                for i, p in enumerate(picks)
            ]
            t = time.perf_counter()
            await known_rows(pool, books)
            query_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await pool.fetch(
                "SELECT isbn, title FROM enriched_editions WHERE isbn = ANY($1)",
                [isbn13(p) for p in picks],
            )
            floor_ms.append((time.perf_counter() - t) * 1000)
        await pool.close()
    print(f"machine: {machine()}")
    print(
        f"known-books query, 50 titles vs {n:,} editions: p50 {percentile(query_ms, 50):.1f} ms, "
        f"p95 {percentile(query_ms, 95):.1f} ms over {runs} runs"
    )
    print(
        f"floor (primary-key lookup of 50 ISBNs): p50 {percentile(floor_ms, 50):.2f} ms; "
        f"ratio {percentile(query_ms, 50) / percentile(floor_ms, 50):.0f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--editions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(stack_settings(), args.editions, args.runs))
