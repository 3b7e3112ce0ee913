"""The scheduler service: every interval, requeue stuck months, claim due ones, relay the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg

from services.scheduler.store import claim_months, relay_outbox, requeue_stuck, table_figures
from shared.db.pool import create_pool
from shared.events import Codec
from shared.kafka.producer import EventProducer
from shared.metrics import set_table_gauges
from shared.providers import isbndb
from shared.providers.quota import quota_day
from shared.service import until_signalled
from shared.settings import Settings

log = logging.getLogger(__name__)


async def tick(settings: Settings, pool: asyncpg.Pool, producer: EventProducer) -> tuple[int, int]:
    """One round: returns (months claimed, events relayed)."""
    requeued = await requeue_stuck(
        pool, settings.scheduler.stuck_after_s, settings.scheduler.max_attempts
    )
    if requeued:
        log.warning("requeued %d months stuck in processing", requeued)
    claims = await claim_months(
        pool,
        producer.codec,
        settings.topics.prefix,
        settings.scheduler.months_per_tick,
        settings.llm.batch_size,
    )
    relayed = await relay_outbox(pool, producer)
    if claims:
        log.info("claimed %s", ", ".join(f"{c.year}-{c.month:02d}#{c.attempt}" for c in claims))
    await refresh_gauges(settings, pool)
    return len(claims), relayed


async def refresh_gauges(
    settings: Settings, pool: asyncpg.Pool, now: datetime | None = None
) -> None:
    """The gauges read from the tables: months by status, the resolution rate, and what is left
    of ISBNdb's shared daily quota (the only provider with a daily limit of ours)."""
    spec = isbndb.spec_from_settings(settings)
    assert spec.daily_limit is not None
    figures = await table_figures(
        pool, {spec.name: quota_day(now or datetime.now(UTC), spec.quota_tz)}
    )
    used, exhausted = figures.quota_used[spec.name]
    set_table_gauges(
        figures.months,
        figures.found,
        figures.generated,
        {spec.name: (spec.daily_limit, used, exhausted)},
    )


async def run(settings: Settings) -> None:
    stop = until_signalled()
    pool = await create_pool(settings, max_size=2)
    try:
        async with EventProducer(settings, Codec()) as producer:
            log.info("scheduler ticking every %.0fs", settings.scheduler.interval_s)
            while not stop.is_set():
                try:
                    await tick(settings, pool, producer)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning(
                        "tick failed (%s: %s); next tick will retry", type(exc).__name__, exc
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.scheduler.interval_s)
    finally:
        await pool.close()
