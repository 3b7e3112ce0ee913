"""Projector throughput: fold N MetadataFetched events from the topic into an empty schema, and
compare with a raw batched upsert of the same final rows, measured in the same run.

    python -m bench.projector [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.common import Figure, fresh_world, machine, stack_settings
from ops import replay
from services.projector.app import Projector, consumer_name, projected_topics
from shared.events import (
    AuthorFacts,
    Codec,
    EditionFacts,
    MetadataFetched,
    WorkFacts,
    WorkMatch,
    make_envelope,
)
from shared.kafka.options import client_options
from shared.kafka.producer import EventProducer
from shared.scores import edition_quality, work_quality
from shared.settings import Settings

BATCH = 2000
FLOOR_TABLES = ("enriched_editions", "enriched_works", "enriched_authors")
FLOOR_COLUMNS = {
    "enriched_editions": (
        "isbn",
        "work_key",
        "title",
        "publisher",
        "publication_date",
        "page_count",
        "language",
        "subjects",
        "primary_provider",
        "contributors",
        "isbndb_quality",
        "completeness_score",
        "created_at",
        "updated_at",
    ),
    "enriched_works": (
        "work_key",
        "title",
        "description",
        "subject_tags",
        "primary_provider",
        "contributors",
        "completeness_score",
        "created_at",
        "updated_at",
    ),
    "enriched_authors": (
        "author_key",
        "name",
        "normalized_name",
        "primary_provider",
        "created_at",
        "updated_at",
    ),
}
KEYS = {"enriched_editions": "isbn", "enriched_works": "work_key", "enriched_authors": "author_key"}


def isbn13(n: int) -> str:
    body = f"978{n:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def event(i: int, rng: random.Random, at: datetime) -> MetadataFetched:
    isbn = isbn13(100_000_000 + i)
    author = rng.randrange(5000)
    title = f"Benchmark Book {i}"
    edition = EditionFacts(
        provider="isbndb",
        quality=0,
        title=title,
        publisher="Bench Press",
        publication_date="2019-03-05",
        page_count=200 + i % 300,
        language="en",
        subjects=["Fiction", f"Topic {i % 50}"],
    )
    work = WorkFacts(
        provider="wikidata",
        quality=0,
        title=title,
        subject_tags=["novel", f"genre {i % 20}"],
        first_publication_year=2019,
    )
    return MetadataFetched(
        envelope=make_envelope(
            MetadataFetched, producer="bench", correlation_id="bench", occurred_at=at
        ),
        year=2019,
        month=1 + i % 12,
        book_id=f"bk-{i}",
        isbn13=isbn,
        editions=[edition.model_copy(update={"quality": edition_quality(edition)})],
        works=[
            work.model_copy(update={"quality": work_quality(work)}),
            WorkFacts(
                provider="archive",
                quality=30,
                description=f"A description of book {i}, long enough to count. " * 3,
            ),
        ],
        authors=[
            AuthorFacts(
                provider="isbndb",
                author_key=f"au-{author:05d}",
                name=f"Author {author}",
                normalized_name=f"author {author}",
                author_order=1,
            )
        ],
        work_match=WorkMatch(
            work_key=f"wk-{uuid.UUID(int=i).hex[:16]}", confidence=1.0, source="new"
        ),
        fetch_ms=10,
    )


async def produce(settings: Settings, n: int) -> None:
    rng = random.Random(42)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    async with EventProducer(settings, Codec()) as producer:
        pending = []
        for i in range(n):
            e = event(i, rng, at)
            pending.append(
                producer._producer.send(
                    producer.topic_of(e), producer.codec.encode(e), key=e.isbn13.encode()
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*[await p for p in pending])
                pending.clear()
        await asyncio.gather(*[await p for p in pending])


async def fold_from_topic(settings: Settings, n: int) -> float:
    """Seconds for the projector to read, decode and apply all n events."""
    pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=2)
    async with EventProducer(settings, Codec()) as producer:
        projector = Projector(settings, pool, producer)
        consumer = AIOKafkaConsumer(
            *projected_topics(settings),
            **client_options(settings),
            group_id=consumer_name(settings),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=BATCH,
        )
        await consumer.start()
        done = 0
        started = time.perf_counter()
        while done < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            records = [r for part in batch.values() for r in part]
            if records:
                await projector.apply(records)
                done += len(records)
        elapsed = time.perf_counter() - started
        await consumer.stop()
    await pool.close()
    return elapsed


async def raw_upsert(source: Settings, target: Settings) -> float:
    """Seconds to upsert the projector's final rows in batches: COPY + INSERT ON CONFLICT."""
    src = await asyncpg.connect(source.dsn)
    dst = await asyncpg.connect(target.dsn)
    rows = {
        t: await src.fetch(f"SELECT {', '.join(FLOOR_COLUMNS[t])} FROM {t}") for t in FLOOR_TABLES
    }
    await src.close()
    started = time.perf_counter()
    for table in ("enriched_works", "enriched_authors", "enriched_editions"):
        columns = FLOOR_COLUMNS[table]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != KEYS[table])
        for start in range(0, len(rows[table]), BATCH):
            chunk = [tuple(r) for r in rows[table][start : start + BATCH]]
            async with dst.transaction():
                await dst.execute(
                    f"CREATE TEMP TABLE stage ON COMMIT DROP AS "
                    f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
                )
                await dst.copy_records_to_table("stage", records=chunk, columns=columns)
                await dst.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM stage "
                    f"ON CONFLICT ({KEYS[table]}) DO UPDATE SET {updates}"
                )
    elapsed = time.perf_counter() - started
    await dst.close()
    return elapsed


@dataclass(frozen=True)
class Measured:
    """Events/s of the fold, of the floor (raw upsert of the same final rows) and of a replay
    rebuild, all from one run."""

    events: int
    fold: float
    floor: float
    replay: float


async def measure(base: Settings, n: int) -> Measured:
    async with fresh_world(base) as world, fresh_world(base) as floor_world:
        await produce(world, n)
        gc.freeze()
        folded = await fold_from_topic(world, n)
        floor = await raw_upsert(world, floor_world)
        rebuilt = await replay.rebuild(world, f"alexandria_rebuild_{replay.stamp()}")
    return Measured(n, n / folded, n / floor, rebuilt.events / rebuilt.seconds)


def report(m: Measured) -> None:
    print(f"machine: {machine()}")
    print(f"projector: {m.events} MetadataFetched at {m.fold:,.0f} events/s")
    print(f"raw batched upsert of the same final rows: {m.floor:,.0f} events/s")
    print(f"ratio (projector / raw upsert): {m.fold / m.floor:.2f}  (goal >= 0.5)")
    print(f"replay rebuild: {m.replay:,.0f} events/s, ratio to raw upsert {m.replay / m.floor:.2f}")


async def figures(base: Settings, quick: bool) -> list[Figure]:
    """Fold and replay rates against the raw upsert of the same run; quick folds 30,000 events
    (15 batches of 2,000, well past the first batch's warm-up), the full run 100,000."""
    m = await measure(base, 30_000 if quick else 100_000)
    report(m)
    floor_name = "raw COPY + INSERT ON CONFLICT of the same final rows"
    size = f"{m.events:,} MetadataFetched"
    return [
        Figure(f"projector fold, {size}", m.fold, "events/s", ">= 0.5 of floor",
               m.fold >= 0.5 * m.floor, m.floor, floor_name),
        Figure(f"replay rebuild, {size}", m.replay, "events/s", ">= 0.5 of floor",
               m.replay >= 0.5 * m.floor, m.floor, floor_name),
    ]  # fmt: skip


async def main(base: Settings, n: int) -> None:
    report(await measure(base, n))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    asyncio.run(main(stack_settings(), parser.parse_args().events))
