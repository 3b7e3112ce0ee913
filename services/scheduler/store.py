"""The scheduler's PostgreSQL side: planning months, claiming them with an outbox, relaying it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
from opentelemetry import trace

from services.scheduler.logic import month_scheduled
from shared.events import Codec, event_type_of
from shared.kafka.producer import EventProducer
from shared.months import YearMonth
from shared.telemetry import inject_headers

tracer = trace.get_tracer("alexandria.scheduler")


@dataclass(frozen=True)
class Claim:
    year: int
    month: int
    attempt: int


async def plan_months(pool: asyncpg.Pool | asyncpg.Connection, months: list[YearMonth]) -> int:
    """Insert missing months as pending; existing months keep their state. Returns how many new."""
    rows = await pool.fetch(
        "INSERT INTO backfill_log (year, month) SELECT * FROM unnest($1::int[], $2::int[]) "
        "ON CONFLICT (year, month) DO NOTHING RETURNING id",
        [m.year for m in months],
        [m.month for m in months],
    )
    return len(rows)


async def claim_months(
    pool: asyncpg.Pool,
    codec: Codec,
    topic_prefix: str,
    limit: int,
    batch_size: int,
    now: datetime | None = None,
) -> list[Claim]:
    """Claim up to `limit` due pending/retry months, newest first, and write their events to the
    outbox in the same transaction: the claim and the event cannot diverge. SKIP LOCKED makes
    concurrent schedulers take disjoint months."""
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            WITH due AS (
                SELECT id FROM backfill_log
                WHERE status IN ('pending', 'retry')
                  AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
                ORDER BY year DESC, month DESC
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE backfill_log b
               SET status = 'processing', started_at = COALESCE(b.started_at, $2),
                   batch_size = $3, updated_at = $2
              FROM due WHERE b.id = due.id
            RETURNING b.year, b.month, b.retry_count
            """,
            limit,
            now,
            batch_size,
        )
        claims = [Claim(r["year"], r["month"], r["retry_count"] + 1) for r in rows]
        outbox = []
        for claim in claims:
            event = month_scheduled(claim.year, claim.month, claim.attempt, batch_size, now)
            # Each month run is one trace: its root span starts here and its context travels
            # in the outbox row's headers to every service downstream.
            attributes: dict[str, str | int] = {
                "month": f"{claim.year}-{claim.month:02d}",
                "attempt": claim.attempt,
            }
            with tracer.start_as_current_span("schedule month", attributes=attributes):
                headers = json.dumps({k: v.decode() for k, v in inject_headers()})
            event_type = event_type_of(event)
            outbox.append(
                (
                    event_type.topic(topic_prefix),
                    event_type.key(event).encode(),
                    codec.encode(event),
                    headers,
                )
            )
        await conn.executemany(
            "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4::jsonb)",
            outbox,
        )
    return sorted(claims, key=lambda c: (c.year, c.month), reverse=True)


async def relay_outbox(pool: asyncpg.Pool, producer: EventProducer, limit: int = 500) -> int:
    """Publish unpublished outbox rows in order and mark them. A crash between the broker's ack
    and the mark re-publishes the same bytes (same event id): a duplicate, never a loss."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL "
            "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        for row in rows:
            headers = [(k, v.encode()) for k, v in json.loads(row["headers"]).items()]
            await producer.send_raw(row["topic"], row["key"], row["value"], headers)
        if rows:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
    return len(rows)


async def requeue_stuck(pool: asyncpg.Pool, stuck_after_s: float, max_attempts: int) -> int:
    """A month left 'processing' with no progress for too long goes back to retry (or failed
    after the last attempt), so no month stays processing forever."""
    rows = await pool.fetch(
        """
        UPDATE backfill_log
           SET status = CASE WHEN retry_count + 1 >= $2 THEN 'failed' ELSE 'retry' END,
               retry_count = retry_count + 1,
               error_message = 'no progress for ' || $1::int || 's while processing',
               last_retry_at = now(), next_attempt_at = now(), updated_at = now()
         WHERE status = 'processing' AND updated_at < now() - make_interval(secs => $1)
        RETURNING id
        """,
        int(stuck_after_s),
        max_attempts,
    )
    return len(rows)


@dataclass(frozen=True)
class TableFigures:
    """What the table-derived gauges show (shared.metrics.set_table_gauges)."""

    months: dict[str, int]  # backfill_log rows per status
    found: int  # resolved or already-known books, over every month
    generated: int  # generated books, over every month
    quota_used: dict[str, tuple[int, bool]]  # provider -> (used today, exhausted today)


async def table_figures(pool: asyncpg.Pool, quota_days: dict[str, date]) -> TableFigures:
    """Months by status, the book totals, and each provider's use of its quota day (one snapshot,
    one round trip per query)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        months = await conn.fetch("SELECT status, count(*) AS n FROM backfill_log GROUP BY status")
        totals = await conn.fetchrow(
            "SELECT coalesce(sum(isbns_resolved), 0) AS found, "
            "coalesce(sum(books_generated), 0) AS generated FROM backfill_log"
        )
        quotas = await conn.fetch(
            "SELECT q.provider, q.used, q.exhausted_at IS NOT NULL AS exhausted "
            "FROM provider_quota q JOIN unnest($1::text[], $2::date[]) AS d(provider, day) "
            "ON q.provider = d.provider AND q.day = d.day",
            list(quota_days),
            list(quota_days.values()),
        )
    assert totals is not None
    used = {p: (0, False) for p in quota_days}
    used.update({r["provider"]: (int(r["used"]), bool(r["exhausted"])) for r in quotas})
    return TableFigures(
        months={r["status"]: int(r["n"]) for r in months},
        found=int(totals["found"]),
        generated=int(totals["generated"]),
        quota_used=used,
    )
