"""The scheduler on real PostgreSQL and Kafka: plans, claims without overlap, outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg

from services.scheduler.store import claim_months, plan_months, relay_outbox, requeue_stuck
from shared.events import Codec, MonthScheduled
from shared.kafka.producer import EventProducer
from shared.months import YearMonth, months_between
from tests.kafka_helpers import read_topic

MONTHS = months_between(YearMonth(2018, 1), YearMonth(2019, 12))


async def test_plan_is_idempotent(db: asyncpg.Pool) -> None:
    assert await plan_months(db, MONTHS) == 24
    assert await plan_months(db, MONTHS) == 0
    assert await db.fetchval("SELECT count(*) FROM backfill_log WHERE status = 'pending'") == 24


async def test_four_concurrent_schedulers_claim_every_month_exactly_once(db: asyncpg.Pool) -> None:
    await plan_months(db, MONTHS)
    codec = Codec()

    async def scheduler() -> list[tuple[int, int]]:
        claimed = []
        while batch := await claim_months(db, codec, "t", limit=3, batch_size=20):
            claimed += [(c.year, c.month) for c in batch]
        return claimed

    results = await asyncio.gather(*(scheduler() for _ in range(4)))
    everything = [m for r in results for m in r]
    assert sorted(everything) == sorted((m.year, m.month) for m in MONTHS)
    assert len(everything) == len(set(everything))
    assert await db.fetchval("SELECT count(*) FROM outbox") == 24
    assert await db.fetchval("SELECT count(*) FROM backfill_log WHERE status = 'processing'") == 24


async def test_claims_newest_first_and_respects_retry_backoff(db: asyncpg.Pool) -> None:
    await plan_months(db, MONTHS)
    later = datetime.now(UTC) + timedelta(hours=1)
    await db.execute(
        "UPDATE backfill_log SET status = 'retry', retry_count = 1, "
        "next_attempt_at = $1 WHERE year = 2019 AND month = 12",
        later,
    )
    claims = await claim_months(db, Codec(), "t", limit=2, batch_size=20)
    assert [(c.year, c.month, c.attempt) for c in claims] == [(2019, 11, 1), (2019, 10, 1)]
    due = await claim_months(
        db, Codec(), "t", limit=1, batch_size=20, now=later + timedelta(seconds=1)
    )
    assert [(c.year, c.month, c.attempt) for c in due] == [(2019, 12, 2)]


async def test_outbox_relay_publishes_the_claimed_months(settings, db: asyncpg.Pool) -> None:
    await plan_months(db, MONTHS[-3:])
    codec = Codec()
    await claim_months(db, codec, settings.topics.prefix, limit=10, batch_size=20)
    async with EventProducer(settings, codec) as producer:
        assert await relay_outbox(db, producer) == 3
        assert await relay_outbox(db, producer) == 0
    records = await read_topic(settings, f"{settings.topics.prefix}.month-scheduled", 3)
    events = sorted((codec.decode(r.value) for r in records), key=lambda e: e.month)
    assert all(isinstance(e, MonthScheduled) for e in events)
    assert [(e.year, e.month, e.attempt, e.prompt_variant, e.batch_size) for e in events] == [
        (2019, 10, 1, "baseline", 20),
        (2019, 11, 1, "baseline", 20),
        (2019, 12, 1, "baseline", 20),
    ]
    assert [r.key for r in sorted(records, key=lambda r: r.key)] == [
        b"2019-10",
        b"2019-11",
        b"2019-12",
    ]


async def test_a_failed_publish_leaves_the_event_in_the_outbox(settings, db: asyncpg.Pool) -> None:
    await plan_months(db, MONTHS[-1:])
    await claim_months(db, Codec(), f"{settings.topics.prefix}-missing", limit=1, batch_size=20)
    async with EventProducer(settings) as producer:
        # The topic does not exist (and is never auto-created): the send cannot complete.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(relay_outbox(db, producer), 3)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1


async def test_stuck_months_are_requeued_then_failed(db: asyncpg.Pool) -> None:
    await plan_months(db, MONTHS[-1:])
    await db.execute(
        "UPDATE backfill_log SET status = 'processing', retry_count = 3, "
        "updated_at = now() - interval '3 hours'"
    )
    assert await requeue_stuck(db, stuck_after_s=3600, max_attempts=5) == 1
    row = await db.fetchrow("SELECT status, retry_count, error_message FROM backfill_log")
    assert (row["status"], row["retry_count"]) == ("retry", 4)
    assert "no progress" in row["error_message"]
    await db.execute(
        "UPDATE backfill_log SET status = 'processing', updated_at = now() - interval '3 hours'"
    )
    await requeue_stuck(db, stuck_after_s=3600, max_attempts=5)
    assert await db.fetchval("SELECT status FROM backfill_log") == "failed"
