"""The metrics an operator reads, scraped from each service's own /metrics port after a two-month
backfill through the five service processes, checked against the topics and the tables."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from ops.devstack.services_proc import SERVICES
from shared.events import DEAD_LETTER, EVENT_TYPES, Codec
from shared.kafka.options import client_options
from shared.kafka.topics import partitions_of
from shared.metrics import MONTH_STATUSES, samples
from shared.months import YearMonth, months_between
from shared.providers.quota import quota_day
from shared.settings import Settings
from tests.harness import Pipeline

MONTHS = months_between(YearMonth(2019, 4), YearMonth(2019, 5))
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def events_on(settings: Settings, topics: list[str]) -> Counter[str]:
    """Committed events on `topics`, by event type, read from the start to the end offsets."""
    assignment = await partitions_of(settings, topics)
    consumer = AIOKafkaConsumer(
        **client_options(settings), enable_auto_commit=False, isolation_level="read_committed"
    )
    codec = Codec()
    counts: Counter[str] = Counter()
    await consumer.start()
    try:
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        end = await consumer.end_offsets(assignment)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                counts.update(codec.decode_raw(r.value)[0].name for r in part)
            positions = [await consumer.position(tp) for tp in assignment]
            if all(p >= end[tp] for p, tp in zip(positions, assignment, strict=True)):
                break
        return counts
    finally:
        await consumer.stop()


def series(page: Samples, name: str, **match: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of `name` whose labels include `match`."""
    return {
        labels: v
        for (sample, labels), v in page.items()
        if sample == name and set(match.items()) <= set(labels)
    }


def by_label(page: Samples, name: str, label: str, **match: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for labels, v in series(page, name, **match).items():
        totals[dict(labels)[label]] += v
    return dict(totals)


async def scrape_until(
    pipeline: Pipeline, problems: Callable[[dict[str, Samples]], list[str]], timeout_s: float
) -> dict[str, Samples]:
    """Scrape every service until `problems` finds none (gauges refresh on the next poll or
    tick), or fail with what is still wrong."""
    deadline = time.monotonic() + timeout_s
    while True:
        pages = {s: samples(pipeline.metrics(s)) for s in SERVICES}
        found = problems(pages)
        if not found:
            return pages
        if time.monotonic() > deadline:
            raise AssertionError("metrics disagree with the run:\n" + "\n".join(found))
        await asyncio.sleep(0.5)


async def test_metrics_agree_with_the_topics_and_the_tables(
    settings: Settings, tmp_path: Path
) -> None:
    pipeline = Pipeline(settings, tmp_path, metrics=True)
    pipeline.env["ALEXANDRIA_SYNTHETIC_PER_RUN"] = "0"  # no upgrades: the run is only the months
    pipeline.start_sandbox()
    try:
        await pipeline.plan(MONTHS)
        pipeline.start()
        assert await pipeline.wait_until_settled(240) == {"completed": len(MONTHS)}
        await check_metrics(pipeline, settings)
    finally:
        pipeline.stop()


async def check_metrics(pipeline: Pipeline, settings: Settings) -> None:
    prefix = settings.topics.prefix
    topic = {t.name: t.topic(prefix) for t in EVENT_TYPES}
    projected = [t.topic(prefix) for t in EVENT_TYPES if t is not DEAD_LETTER]
    inputs = {
        "generator": await events_on(settings, [topic["MonthScheduled"]]),
        "resolver": await events_on(settings, [topic["BooksGenerated"]]),
        "enricher": await events_on(settings, [topic["ISBNResolved"]]),
        "projector": await events_on(settings, projected),
    }
    db = await asyncpg.connect(settings.dsn)
    try:
        months = {
            r["status"]: r["n"]
            for r in await db.fetch("SELECT status, count(*) AS n FROM backfill_log GROUP BY 1")
        }
        totals = await db.fetchrow(
            "SELECT sum(isbns_resolved) AS found, sum(books_generated) AS generated "
            "FROM backfill_log"
        )
        books = {
            r["outcome"]: r["n"]
            for r in await db.fetch("SELECT outcome, count(*) AS n FROM month_books GROUP BY 1")
        }
        used = await db.fetchval(
            "SELECT used FROM provider_quota WHERE provider = 'isbndb' AND day = $1",
            quota_day(datetime.now(UTC)),
        )
    finally:
        await db.close()
    assert totals is not None and used is not None and used > 0
    assert inputs["generator"] == {"MonthScheduled": len(MONTHS)}
    assert inputs["enricher"]["ISBNResolved"] == totals["generated"] == sum(books.values()) > 0

    def problems(pages: dict[str, Samples]) -> list[str]:
        found = []
        for service, expected in inputs.items():
            page = pages[service]
            handled = by_label(page, "alexandria_events_total", "event", outcome="ok")
            if handled != dict(expected):
                found.append(f"{service}: events_total {handled} != on its topics {expected}")
            # The projector may be handed a record again after a rebalance: a duplicate.
            outcomes = set(by_label(page, "alexandria_events_total", "outcome", service=service))
            allowed = {"ok", "duplicate"} if service == "projector" else {"ok"}
            if outcomes - allowed:
                found.append(f"{service}: events_total outcomes {outcomes}")
            group = f"{prefix}.{service}"
            lag = series(pages[service], "alexandria_consumer_lag", group=group)
            if not lag or any(lag.values()):
                found.append(f"{service}: consumer_lag {lag}")
            if series(pages[service], "alexandria_handle_seconds_count", service=service) == {}:
                found.append(f"{service}: no handle_seconds")
        for service, page in pages.items():
            dead = series(page, "alexandria_dead_letters_total")
            if any(dead.values()):
                found.append(f"{service}: dead letters {dead}")
        scheduler = pages["scheduler"]
        gauge = by_label(scheduler, "alexandria_months", "status")
        if gauge != {s: months.get(s, 0) for s in MONTH_STATUSES}:
            found.append(f"months {gauge} != backfill_log {months}")
        left = by_label(scheduler, "alexandria_quota_remaining", "provider")
        if left != {"isbndb": settings.isbndb.daily_quota - used}:
            found.append(f"quota_remaining {left} != {settings.isbndb.daily_quota} - {used}")
        rate = series(scheduler, "alexandria_resolution_rate")
        if list(rate.values()) != [totals["found"] / totals["generated"]]:
            found.append(f"resolution_rate {rate} != {totals['found']} / {totals['generated']}")
        decided = by_label(pages["resolver"], "alexandria_books_total", "outcome")
        if decided != books:
            found.append(f"books_total {decided} != month_books {books}")
        return found

    pages = await scrape_until(pipeline, problems, timeout_s=30)

    # Every provider is counted where it is called, the LLMs included, once per request.
    llm_calls = by_label(pages["generator"], "alexandria_provider_calls_total", "provider")
    assert llm_calls["gemini"] >= len(MONTHS) and llm_calls["xai"] >= len(MONTHS), llm_calls
    isbndb: Counter[str] = Counter()
    for service in ("resolver", "enricher"):
        isbndb.update(
            by_label(
                pages[service], "alexandria_provider_calls_total", "outcome", provider="isbndb"
            )
        )
    # One quota unit is reserved per attempt, and a request counts once with its retries.
    assert 0 < sum(n for o, n in isbndb.items() if o != "quota") <= used, (isbndb, used)
    for service in ("scheduler", "projector"):
        assert series(pages[service], "alexandria_provider_calls_total") == {}
