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
from services.resolver.store import known_rows
from shared.events import GeneratedBook
from shared.settings import Settings

SYLLABLES = [
    "an",
    "bel",
    "cor",
    "da",
    "el",
    "fen",
    "gar",
    "hol",
    "is",
    "jor",
    "ka",
    "lin",
    "mor",
    "nea",
    "or",
    "pel",
    "quin",
    "ros",
    "sal",
    "tor",
    "ul",
    "ven",
    "wyn",
    "xa",
    "yel",
    "zor",
    "ber",
    "cla",
    "dre",
    "fro",
    "gri",
    "sha",
    "tha",
    "ste",
    "ple",
    "vor",
    "min",
    "tes",
    "lo",
]
# A long-tailed vocabulary, like real titles: ~59,000 invented words of 2-3 syllables.
WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in ["", *SYLLABLES]]


def title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 5)))


def isbn13(n: int) -> str:
    body = f"979{n:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


async def fill(dsn: str, n: int) -> list[str]:
    """n editions with distinct generated titles, loaded with COPY; returns the titles."""
    conn = await asyncpg.connect(dsn)
    rng = random.Random(7)
    titles = [title(rng) for _ in range(n)]
    await conn.execute(
        "INSERT INTO enriched_works (work_key, title, created_at, updated_at) "
        "VALUES ('wk-bench', 'Bench', now(), now())"
    )
    at = datetime.now(UTC)
    for start in range(0, n, 100_000):
        await conn.copy_records_to_table(
            "enriched_editions",
            records=[
                (isbn13(i), titles[i], "wk-bench", at, at)
                for i in range(start, min(n, start + 100_000))
            ],
            columns=("isbn", "title", "work_key", "created_at", "updated_at"),
        )
    await conn.execute("ANALYZE enriched_editions")
    await conn.close()
    return titles


async def main(base: Settings, n: int, runs: int) -> None:
    async with fresh_world(base) as world:
        started = time.perf_counter()
        stored = await fill(world.dsn, n)
        print(f"loaded {n:,} editions in {time.perf_counter() - started:.0f}s")
        pool = await asyncpg.create_pool(world.dsn, min_size=1, max_size=1)
        rng = random.Random(11)
        query_ms, floor_ms = [], []
        for _ in range(runs):
            picks = [rng.randrange(n) for _ in range(50)]
            books = [
                GeneratedBook(
                    book_id=f"b{i}",
                    # a third known by ISBN, a third by a stored title, a third new
                    title=stored[p] if i % 3 == 1 else title(rng),
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
