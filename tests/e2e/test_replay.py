"""Replay on the real stack: rebuild from the topics, verify, swap while the pipeline runs."""

from __future__ import annotations

import signal

import asyncpg

from ops import replay
from shared.months import YearMonth, months_between
from tests.harness import Pipeline, table_contents

MONTHS = months_between(YearMonth(2019, 1), YearMonth(2019, 3))
PLANNED_ONLY = [YearMonth(2018, 11), YearMonth(2018, 12)]


async def statuses(dsn: str) -> dict[tuple[int, int], str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT year, month, status FROM backfill_log")
        return {(r["year"], r["month"]): r["status"] for r in rows}
    finally:
        await conn.close()


async def test_rebuild_verify_and_swap_while_the_pipeline_runs(
    pipeline: Pipeline, settings
) -> None:
    await pipeline.plan(MONTHS)
    pipeline.start()
    assert await pipeline.wait_until_settled(180) == {"completed": 3}
    pipeline.kill("scheduler", signal.SIGTERM)
    await pipeline.plan(PLANNED_ONLY)  # planned, never scheduled: not in any topic

    report = await replay.verify(settings)
    assert report.identical, report.tables
    assert report.rebuild.events > 40
    live_audit, rebuilt_audit = report.audit_rows
    assert live_audit == rebuilt_audit

    before = await table_contents(settings.dsn)
    schema = f"alexandria_rebuild_{replay.stamp()}"
    seen: list[tuple[int, int]] = []
    result = await replay.rebuild(settings, schema, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == result.events
    swapped = await replay.swap(settings, schema)
    assert swapped.previous_schema in await replay.previous_schemas(settings)

    after = await table_contents(settings.dsn)
    for table in before:
        if table != "enrichment_log":  # an audit of arrival order; its size is compared
            assert after[table] == before[table], table
    assert len(after["enrichment_log"]) == len(before["enrichment_log"])
    assert {m: s for m, s in (await statuses(settings.dsn)).items() if m[0] == 2018} == {
        (2018, 11): "pending",
        (2018, 12): "pending",
    }

    # The projector (still running) notices its offsets moved and carries on in the new tables.
    pipeline.start("scheduler")
    assert await pipeline.wait_until_settled(180) == {"completed": 5}
    assert (await replay.verify(settings)).identical

    for previous in await replay.previous_schemas(settings):
        await replay.drop_schema(settings, previous)
    assert await replay.previous_schemas(settings) == []


async def test_verify_reports_the_first_differing_keys(pipeline: Pipeline, settings) -> None:
    await pipeline.plan(MONTHS[:1])
    pipeline.start()
    assert await pipeline.wait_until_settled(120) == {"completed": 1}
    conn = await asyncpg.connect(settings.dsn)
    try:
        isbn = await conn.fetchval("SELECT min(isbn) FROM enriched_editions")
        await conn.execute("UPDATE enriched_editions SET title = 'tampered' WHERE isbn = $1", isbn)
    finally:
        await conn.close()
    report = await replay.verify(settings)
    assert not report.identical
    (editions,) = [t for t in report.tables if t.table == "enriched_editions"]
    assert not editions.identical
    assert editions.first_differences == (f"both differ: {isbn}",)
    assert [t for t in report.tables if t.table != "enriched_editions" and not t.identical] == []


async def test_rebuild_up_to_an_offset(pipeline: Pipeline, settings) -> None:
    await pipeline.plan(MONTHS[:1])
    pipeline.start()
    assert await pipeline.wait_until_settled(120) == {"completed": 1}
    ends = await replay.end_offsets(settings, until_offset=0)
    assert ends and set(ends.values()) == {0}
    schema = f"alexandria_rebuild_{replay.stamp()}"
    try:
        result = await replay.rebuild(settings, schema, ends)
        assert result.events == 0
        conn = await asyncpg.connect(settings.dsn)
        try:
            assert await conn.fetchval(f"SELECT count(*) FROM {schema}.enriched_editions") == 0
            planned = await conn.fetch(f"SELECT status FROM {schema}.backfill_log")
            assert [r["status"] for r in planned] == ["pending"]
        finally:
            await conn.close()
    finally:
        await replay.drop_schema(settings, schema)
