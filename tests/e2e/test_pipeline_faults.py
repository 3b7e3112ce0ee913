"""The pipeline under faults, on the real stack: spent quotas, LLM outages, 5xx storms,
a projector restart, and poison messages on every topic."""

from __future__ import annotations

import asyncio
import signal

import asyncpg

from shared.events import BooksGenerated, Codec, DeadLetter, ISBNResolved
from shared.events.catalog import EVENT_TYPES
from shared.kafka.producer import EventProducer
from shared.months import YearMonth
from tests.harness import Pipeline, table_contents
from tests.kafka_helpers import read_topic

MARCH = [YearMonth(2019, 3)]


async def events_of(settings, topic: str, model: type, expected: int) -> list:
    records = await read_topic(settings, f"{settings.topics.prefix}.{topic}", expected, 10)
    return [e for e in (Codec().decode(r.value) for r in records) if isinstance(e, model)]


async def fetch(settings, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def test_isbndb_quota_spent_the_month_completes_on_free_sources(pipeline, settings) -> None:
    pipeline.knobs({"isbndb": {"daily_quota": 0}})
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(120) == {"completed": 1}
    resolved = await events_of(settings, "isbn-resolved", ISBNResolved, 10)
    assert any(
        a.provider == "isbndb" and a.status == "skipped_quota" for e in resolved for a in e.attempts
    )
    assert all(e.provider != "isbndb" for e in resolved)
    editions = await fetch(settings, "SELECT primary_provider, contributors FROM enriched_editions")
    assert editions and all("isbndb" not in r["contributors"] for r in editions)


async def test_one_llm_down_the_month_completes_with_the_other(pipeline, settings) -> None:
    pipeline.knobs({"xai": {"error_rate": 1.0}})
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(120) == {"completed": 1}
    (generated,) = await events_of(settings, "books-generated", BooksGenerated, 1)
    calls = {c.provider: c for c in generated.provider_calls}
    assert calls["xai"].error and calls["gemini"].error is None
    assert generated.books and all(b.source_providers == ["gemini"] for b in generated.books)


async def test_both_llms_down_retries_then_fails(pipeline, settings) -> None:
    pipeline.knobs({"gemini": {"error_rate": 1.0}, "xai": {"error_rate": 1.0}})
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(180) == {"failed": 1}
    (row,) = await fetch(settings, "SELECT * FROM backfill_log")
    assert row["retry_count"] == 5
    assert "every LLM failed" in row["error_message"]
    assert await fetch(settings, "SELECT 1 FROM enriched_works") == []


async def test_5xx_storm_gives_the_same_tables_as_a_clean_run(
    pipeline, settings, another_settings, tmp_path
) -> None:
    months = [YearMonth(2019, 1), YearMonth(2019, 2)]
    await pipeline.plan(months)
    pipeline.start()
    assert await pipeline.wait_until_settled(180) == {"completed": 2}

    stormy = Pipeline(another_settings, tmp_path / "storm", seed=pipeline.seed)
    (tmp_path / "storm").mkdir()
    stormy.start_sandbox()
    try:
        stormy.knobs({"*": {"error_rate": 0.2}})
        await stormy.plan(months)
        stormy.start()
        assert await stormy.wait_until_settled(240) == {"completed": 2}
    finally:
        stormy.stop()
    clean = await table_contents(settings.dsn)
    storm = await table_contents(another_settings.dsn)
    for table in clean:
        assert storm[table] == clean[table], table


async def test_projector_killed_mid_run_applies_nothing_twice(pipeline, settings) -> None:
    await pipeline.plan([YearMonth(2019, 1), YearMonth(2019, 2), YearMonth(2019, 3)])
    pipeline.start()
    for _ in range(3):
        await asyncio.sleep(1.0)
        pipeline.kill("projector", signal.SIGKILL)
        pipeline.start("projector")
    assert await pipeline.wait_until_settled(180) == {"completed": 3}
    doubled = await fetch(
        settings,
        "SELECT entity_type, entity_key, event_id FROM enrichment_log "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    assert doubled == []
    creates = await fetch(
        settings,
        "SELECT entity_key FROM enrichment_log "
        "WHERE operation = 'create' GROUP BY entity_type, entity_key "
        "HAVING count(*) > 1",
    )
    assert creates == []
    months = await fetch(settings, "SELECT books_generated, isbns_resolved FROM backfill_log")
    resolved = await events_of(settings, "isbn-resolved", ISBNResolved, 30)
    assert sum(r["books_generated"] for r in months) == len(resolved)


async def test_poison_on_every_topic_is_dead_lettered_and_the_pipeline_goes_on(
    pipeline, settings
) -> None:
    topics = [t.topic(settings.topics.prefix) for t in EVENT_TYPES if t.model is not DeadLetter]
    async with EventProducer(settings) as producer:
        for topic in topics:
            await producer.send_raw(topic, b"poison", b"\xc3\x01" + b"\x07" * 8 + b"junk")
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(120) == {"completed": 1}
    letters = await events_of(settings, "dead-letter", DeadLetter, 9)
    seen = {(d.source_topic, d.consumer) for d in letters}
    for topic in topics:
        assert (topic, "projector") in seen
    consumers = {
        "month-scheduled": "generator",
        "books-generated": "resolver",
        "isbn-resolved": "enricher",
    }
    for suffix, consumer in consumers.items():
        assert (f"{settings.topics.prefix}.{suffix}", consumer) in seen
    assert all(
        "unknown schema fingerprint" in d.reason and d.payload.endswith(b"junk") for d in letters
    )
