"""The resolver's known-books query: 50 asked books against N stored editions, p50/p95, against
the floor of a plain primary-key lookup of 50 ISBNs measured in the same run, with precision and
recall on a labelled set, next to today's (before issue 10) query on the same asked books.

    python -m bench.dedup_query [--editions 1000000] [--runs 30] [--growth]

The stored catalogue looks like one: works with one or two authors (surnames long-tailed, so
some are common), two editions a work on average, some titled with a subtitle, some with a
leading article, authors attached through work_authors/enriched_authors as the projector does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.common import Figure, fresh_world, machine, percentile, stack_settings
from services.resolver.logic.resolution import KNOWN_TITLE_THRESHOLD, KnownRow, known_book_match
from services.resolver.store import known_rows
from shared import isbn as isbn_lib
from shared.events import GeneratedBook
from shared.settings import Settings
from shared.text import author_key_for, normalise_author

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
GIVEN = [(a + b).capitalize() for a in SYLLABLES[:20] for b in SYLLABLES[20:]]  # 380 names
SUBTITLES = ["A Novel", "A Memoir", "Stories", "The Definitive Edition", "A History"]

# Today's query (before issue 10), kept to measure the recall the new one must keep.
TODAY_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS a(idx, title, isbn)
)
SELECT a.idx, e.isbn, e.title, e.work_key, e.related_isbns, e.alternate_isbns,
       similarity(lower(e.title), lower(a.title)) AS sim,
       coalesce((SELECT array_agg(au.name ORDER BY wa.author_order)
                   FROM work_authors wa JOIN enriched_authors au USING (author_key)
                  WHERE wa.work_key = e.work_key), '{}') AS authors
  FROM asked a
  CROSS JOIN LATERAL (
      SELECT isbn FROM enriched_editions WHERE isbn = a.isbn
      UNION
      SELECT isbn FROM enriched_editions WHERE alternate_isbns @> ARRAY[a.isbn]
      UNION
      SELECT isbn FROM enriched_editions WHERE related_isbns ? a.isbn
      UNION
      (SELECT isbn FROM enriched_editions WHERE lower(title) % lower(a.title)
        ORDER BY similarity(lower(title), lower(a.title)) DESC, isbn LIMIT 5)
  ) hit
  CROSS JOIN LATERAL (SELECT * FROM enriched_editions WHERE isbn = hit.isbn) e
"""


async def today_known_rows(
    pool: asyncpg.Pool, books: Sequence[GeneratedBook]
) -> dict[int, list[KnownRow]]:
    isbns = [isbn_lib.isbn13_or_none(b.isbn) for b in books]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL pg_trgm.similarity_threshold = {KNOWN_TITLE_THRESHOLD}")
        await conn.execute("SET LOCAL jit = off")
        rows = await conn.fetch(TODAY_SQL, list(range(len(books))), [b.title for b in books], isbns)
    found: dict[int, list[KnownRow]] = defaultdict(list)
    for row in rows:
        related = json.loads(row["related_isbns"]) if row["related_isbns"] else {}
        found[row["idx"]].append(
            KnownRow(row["isbn"], row["title"] or "", tuple(row["authors"]), float(row["sim"]),
                     tuple(related), tuple(row["alternate_isbns"] or ()), row["work_key"])
        )  # fmt: skip
    return found


def isbn13(n: int) -> str:
    body = f"979{n:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(low, high)))


@dataclass(frozen=True, slots=True)
class Work:
    key: str
    title: str  # as stored on its first edition
    authors: tuple[str, ...]
    first_isbn: str


@dataclass
class Catalogue:
    works: list[Work]
    surnames: list[str]


Rows = list[tuple[Any, ...]]


def _generate(n: int) -> tuple[Rows, Rows, Rows, Rows, Catalogue]:
    """(authors, works, work_authors, editions) rows for n editions, and what the labels need."""
    rng = random.Random(7)
    surnames = sorted({w.capitalize() for w in WORDS[::2]})
    rng.shuffle(surnames)
    # Zipf-like, so common surnames ("Smith") have thousands of editions, as in a catalogue.
    cumulative = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(surnames))))
    picked = rng.choices(surnames, cum_weights=cumulative, k=max(n // 6, 10))
    names = sorted(
        {
            f"{rng.choice(GIVEN)} {rng.choice(GIVEN)[0]}. {surname}"
            if rng.random() < 0.3
            else f"{rng.choice(GIVEN)} {surname}"
            for surname in picked
        }
    )
    at = datetime.now(UTC)
    keys = {name: author_key_for(name) for name in names}
    authors = [(keys[nm], nm, normalise_author(nm), at, at) for nm in names]
    works: Rows = []
    links: Rows = []
    editions: Rows = []
    kept: list[Work] = []
    i = 0
    while i < n:
        key = f"wk-{len(works):08d}"
        title = words(rng, 1, 4)
        if rng.random() < 0.15:
            title = f"The {title}"
        by = [rng.choice(names)]
        if rng.random() < 0.1:
            by.append(rng.choice(names))
        by = list(dict.fromkeys(by))
        works.append((key, title, at, at))
        links.extend((key, keys[nm], order) for order, nm in enumerate(by))
        first = i
        for _ in range(rng.choice((1, 1, 2, 3, 3))):
            shown = (
                title if i == first or rng.random() < 0.5 else f"{title}: {rng.choice(SUBTITLES)}"
            )
            editions.append((isbn13(i), shown, key, at, at))
            i += 1
        if len(kept) < 20_000:
            kept.append(Work(key, title, tuple(by), isbn13(first)))
    return authors, works, links, editions, Catalogue(kept, surnames)


async def fill(dsn: str, n: int) -> Catalogue:
    """The catalogue loaded with COPY, its secondary indexes dropped during the load and built
    again from their own definitions (the migrations'), then ANALYZEd."""
    authors, works, links, editions, catalogue = await asyncio.to_thread(_generate, n)
    conn = await asyncpg.connect(dsn)
    tables = ["enriched_authors", "enriched_works", "work_authors", "enriched_editions"]
    indexes = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY($1) AND "
        "NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        tables,
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    await conn.execute("SET session_replication_role = replica")  # no per-row FK triggers
    await conn.execute("SET maintenance_work_mem = '512MB'")
    columns = {
        "enriched_authors": ("author_key", "name", "normalized_name", "created_at", "updated_at"),
        "enriched_works": ("work_key", "title", "created_at", "updated_at"),
        "work_authors": ("work_key", "author_key", "author_order"),
        "enriched_editions": ("isbn", "title", "work_key", "created_at", "updated_at"),
    }
    for table, rows in zip(tables, (authors, works, links, editions), strict=True):
        await conn.copy_records_to_table(table, records=rows, columns=columns[table])
    for index in indexes:
        await conn.execute(index["indexdef"])
    await conn.execute("ANALYZE")
    await conn.close()
    return catalogue


CATEGORIES = (
    "isbn", "exact", "subtitle variant", "case and punctuation", "leading article",
    "author initials", "similar title, same author", "same title, other author", "invented",
)  # fmt: skip


def _initials(name: str) -> str:
    *given, surname = name.replace(".", "").split()
    return " ".join(f"{g[0]}." for g in given) + f" {surname}"


def _other_author(rng: random.Random, catalogue: Catalogue, work: Work) -> str:
    """Another person: a surname none of the work's authors has."""
    theirs = {a.split()[-1] for a in work.authors}
    surname = rng.choice([s for s in rng.sample(catalogue.surnames, 3) if s not in theirs])
    return f"{rng.choice(GIVEN)} {surname}"


Asked = tuple[str, GeneratedBook, str | None]


def labelled(rng: random.Random, catalogue: Catalogue) -> list[Asked]:
    """50 asked books, (category, book, the work it is or None): six of each category."""
    out: list[Asked] = []
    for i in range(50):
        category = CATEGORIES[i % len(CATEGORIES)]
        work = rng.choice(catalogue.works)
        title, authors, isbn = work.title, list(work.authors), None
        expect: str | None = work.key
        bare = title.removeprefix("The ")
        if category == "isbn":
            isbn = work.first_isbn
        elif category == "subtitle variant":
            title = f"{title}: {rng.choice(SUBTITLES)}"
        elif category == "case and punctuation":
            title = f"{title.upper()}!" if i % 2 else title.lower().replace(" ", ", ", 1)
        elif category == "leading article":
            title = bare if title.startswith("The ") else f"The {title}"
        elif category == "author initials":
            authors = [_initials(a) for a in authors]
        elif category == "similar title, same author":
            title, expect = f"{bare.split()[0]} {rng.choice(WORDS).capitalize()}", None
        elif category == "same title, other author":
            authors, expect = [_other_author(rng, catalogue, work)], None
        elif category == "invented":
            title, expect = words(rng, 2, 4) + " Qz", None
            authors = [_other_author(rng, catalogue, work)]
        out.append((category, GeneratedBook(book_id=f"b{i}", title=title, authors=authors,
                                            isbn=isbn), expect))  # fmt: skip
    return out


@dataclass
class Score:
    true_known: int = 0
    said_known: int = 0
    correct: int = 0

    def add(self, expect: str | None, got: str | None) -> None:
        self.true_known += expect is not None
        self.said_known += got is not None
        self.correct += got is not None and got == expect

    @property
    def precision(self) -> float:
        return self.correct / self.said_known if self.said_known else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_known if self.true_known else 1.0


@dataclass
class Result:
    n: int
    p50: float
    p95: float
    floor: float
    new: Score
    today: Score | None
    today_p50: float | None
    paired: Score  # the new query on the same books as today's
    misses: dict[str, int]


async def measure(base: Settings, n: int, runs: int, today_runs: int) -> Result:
    async with fresh_world(base) as world:
        started = time.perf_counter()
        catalogue = await fill(world.dsn, n)
        print(f"loaded {n:,} editions in {time.perf_counter() - started:.0f}s")
        pool = await asyncpg.create_pool(world.dsn, min_size=1, max_size=1)
        rng = random.Random(11)
        query_ms, floor_ms, today_ms = [], [], []
        new, today, paired = Score(), Score(), Score()
        misses: dict[str, int] = defaultdict(int)
        for run in range(runs):
            asked = labelled(rng, catalogue)
            books = [b for _, b, _ in asked]
            t = time.perf_counter()
            rows = await known_rows(pool, books)
            query_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await pool.fetch(
                "SELECT isbn, title FROM enriched_editions WHERE isbn = ANY($1)",
                [isbn13(rng.randrange(n)) for _ in range(50)],
            )
            floor_ms.append((time.perf_counter() - t) * 1000)
            old = None
            if run < today_runs:
                t = time.perf_counter()
                old = await today_known_rows(pool, books)
                today_ms.append((time.perf_counter() - t) * 1000)
            for idx, (category, book, expect) in enumerate(asked):
                hit = known_book_match(book, rows.get(idx, []))
                got = hit.work_key if hit else None
                new.add(expect, got)
                if got != expect:
                    misses[category] += 1
                    if got is not None:  # a false "already known": show it
                        shown = [r.title for r in rows[idx]]
                        print(f"  false match ({category}): {book.title!r} {book.authors} "
                              f"-> {got} {shown}")  # fmt: skip
                if old is not None:
                    paired.add(expect, got)
                    hit = known_book_match(book, old.get(idx, []))
                    today.add(expect, hit.work_key if hit else None)
        await pool.close()
    return Result(
        n, percentile(query_ms, 50), percentile(query_ms, 95), percentile(floor_ms, 50), new,
        today if today_runs else None, percentile(today_ms, 50) if today_ms else None,
        paired, dict(misses),
    )  # fmt: skip


def report(r: Result) -> None:
    print(f"machine: {machine()}")
    print(
        f"known-books query, 50 asked books vs {r.n:,} editions: p50 {r.p50:.1f} ms, "
        f"p95 {r.p95:.1f} ms; floor (primary-key lookup of 50 ISBNs) p50 {r.floor:.2f} ms; "
        f"ratio {r.p50 / r.floor:.1f}x"
    )
    print(f"  labelled set: precision {r.new.precision:.1%}, recall {r.new.recall:.1%}; "
          f"wrong answers by category: {r.misses or 'none'}")  # fmt: skip
    if r.today is not None and r.today_p50 is not None:
        paired = f"precision {r.paired.precision:.1%}, recall {r.paired.recall:.1%}"
        print(f"  today's query on the same books: p50 {r.today_p50:.0f} ms, precision "
              f"{r.today.precision:.1%}, recall {r.today.recall:.1%} (new: {paired})")  # fmt: skip


async def figures(base: Settings, quick: bool) -> list[Figure]:
    """p50 at 1M editions (the goal's size, also in quick: the fill takes about 2 min),
    precision and recall against today's query; the 3M/1M growth outside quick."""
    one = await measure(base, 1_000_000, 10 if quick else 30, 2 if quick else 5)
    report(one)
    assert one.today is not None
    out = [
        Figure("known-books query p50, 50 vs 1M editions", one.p50, "ms", "< 50 ms",
               one.p50 < 50, one.floor, "50 primary-key lookups"),
        Figure("known-books precision (labelled set, 1M)", one.new.precision * 100, "%",
               "= 100 %", one.new.precision == 1.0),
        Figure("known-books recall (labelled set, 1M)", one.new.recall * 100, "%",
               f">= today's {one.today.recall:.0%} (same books: {one.paired.recall:.0%})",
               one.new.recall >= one.today.recall and one.paired.recall >= one.today.recall),
    ]  # fmt: skip
    if not quick:
        three = await measure(base, 3_000_000, 30, 0)
        report(three)
        growth = three.p50 / one.p50
        out.append(Figure("known-books p50 growth, 3M / 1M editions", growth, "ratio", "<= 2",
                          growth <= 2.0))  # fmt: skip
    return out


async def main(base: Settings, n: int, runs: int, today_runs: int, growth: bool) -> None:
    result = await measure(base, n, runs, today_runs)
    report(result)
    if growth:
        bigger = await measure(base, 3 * n, runs, 0)
        report(bigger)
        print(f"growth {3 * n:,} / {n:,} editions: p50 x{bigger.p50 / result.p50:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--editions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--today-runs", type=int, default=3, help="runs of today's query")
    parser.add_argument("--growth", action="store_true", help="then 3x the editions")
    args = parser.parse_args()
    asyncio.run(main(stack_settings(), args.editions, args.runs, args.today_runs, args.growth))
