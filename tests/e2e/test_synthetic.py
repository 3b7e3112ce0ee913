"""Synthetic upgrades on the real pipeline: books left synthetic while no provider knew them are
re-resolved once the providers do, and their works are upgraded in place, never duplicated."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import asyncpg

from shared.events import Codec, ISBNResolved
from shared.months import YearMonth
from tests.harness import Pipeline
from tests.kafka_helpers import read_topic

MARCH = [YearMonth(2019, 3)]
BOOK_PROVIDERS = ("isbndb", "google_books", "openlibrary", "archive", "wikidata")
SUMMARY = re.compile(r"(\d+) synthetic works tried: (\d+) resolved \((\d+) ISBNResolved")


def enhance(pipeline: Pipeline, *args: str) -> tuple[int, int, str]:
    """Run `alexandria synthetic enhance`; (works tried, resolved, output)."""
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "synthetic", "enhance", *args],
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = SUMMARY.search(result.stdout)
    assert match is not None, result.stdout
    return int(match.group(1)), int(match.group(2)), result.stdout


async def works(db: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM enriched_works")
    return {r["work_key"]: r for r in rows}


async def settled_upgrade(db: asyncpg.Connection, keys: set[str], timeout_s: float = 30) -> None:
    """Until every key is a real work with an edition and the month is complete again."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending = await db.fetchval(
            "SELECT count(*) FROM enriched_works w WHERE w.work_key = ANY($1::text[]) AND "
            "(w.synthetic OR NOT EXISTS (SELECT 1 FROM enriched_editions e "
            "WHERE e.work_key = w.work_key))",
            list(keys),
        )
        status = await db.fetchval("SELECT status FROM backfill_log")
        if pending == 0 and status == "completed":
            return
        assert time.monotonic() < deadline, f"{pending} works not upgraded, month {status}"
        await asyncio.sleep(0.3)


async def test_synthetic_works_are_upgraded_in_place_once_a_week(pipeline, settings) -> None:
    pipeline.knobs({p: {"coverage": 0} for p in BOOK_PROVIDERS})
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(60) == {"completed": 1}

    db = await asyncpg.connect(settings.dsn)
    try:
        before = await works(db)
        assert before and all(w["synthetic"] for w in before.values())
        assert all(w["completeness_score"] == 30 for w in before.values())
        month = await db.fetchrow("SELECT * FROM backfill_log")
        assert month["isbns_resolved"] == 0

        pipeline.knobs({p: {"coverage": None} for p in BOOK_PROVIDERS})
        tried, resolved, out = enhance(pipeline, "--limit", "100")
        assert tried == len(before) and 0 < resolved < tried, out
        upgraded = set(re.findall(r"^resolved (\S+)$", out, re.MULTILINE))
        assert len(upgraded) == resolved and upgraded <= set(before)

        await settled_upgrade(db, upgraded)
        after = await works(db)
        assert set(after) == set(before), "upgraded in place: no new work, none lost"
        for key in upgraded:
            work = after[key]
            assert not work["synthetic"] and work["completeness_score"] > 30, key
            assert work["primary_provider"] not in ("gemini", "xai")
        assert sum(not w["synthetic"] for w in after.values()) == resolved
        editions = await db.fetch("SELECT isbn, work_key FROM enriched_editions")
        assert {e["work_key"] for e in editions} == upgraded
        month = await db.fetchrow("SELECT * FROM backfill_log")
        assert month["isbns_resolved"] == resolved
        assert month["books_generated"] == len(before)

        # The upgrades are ordinary resolved events of the month, from the synthetic job.
        records = await read_topic(
            settings, f"{settings.topics.prefix}.isbn-resolved", len(before) + resolved
        )
        events = [Codec().decode(r.value) for r in records]
        upgrades = [
            e
            for e in events
            if isinstance(e, ISBNResolved) and e.envelope.producer == "synthetic-upgrade"
        ]
        assert len(upgrades) == resolved
        assert all((e.year, e.month, e.outcome) == (2019, 3, "resolved") for e in upgrades)

        # Within the week nothing is tried again, the books still unresolved included.
        assert enhance(pipeline)[:2] == (0, 0)
        attempts = await db.fetch(
            "SELECT outcome, count(*) AS n FROM synthetic_attempts GROUP BY 1"
        )
        assert {r["outcome"]: r["n"] for r in attempts} == {
            "resolved": resolved,
            "unresolved": tried - resolved,
        }
        # A week later the ones still synthetic are due again (and only those).
        await db.execute(
            "UPDATE synthetic_attempts SET attempted_at = attempted_at - '8 days'::interval"
        )
        again, resolved_again, _ = enhance(pipeline)
        assert (again, resolved_again) == (tried - resolved, 0)
        assert set(await works(db)) == set(before)
    finally:
        await db.close()


async def test_the_resolver_timer_upgrades_them_on_free_providers(pipeline, settings) -> None:
    """With ISBNdb's daily quota spent, the timer still resolves through the free providers."""
    pipeline.knobs({p: {"coverage": 0} for p in BOOK_PROVIDERS})
    await pipeline.plan(MARCH)
    pipeline.start()
    assert await pipeline.wait_until_settled(60) == {"completed": 1}
    db = await asyncpg.connect(settings.dsn)
    try:
        before = await works(db)
        pipeline.knobs({p: {"coverage": None} for p in BOOK_PROVIDERS})
        await db.execute(
            "INSERT INTO provider_quota (provider, day, exhausted_at) VALUES ('isbndb', $1, now()) "
            "ON CONFLICT (provider, day) DO UPDATE SET exhausted_at = now()",
            datetime.now(UTC).date(),
        )
        pipeline.kill("resolver", signal.SIGTERM)
        pipeline.env["ALEXANDRIA_SYNTHETIC_INTERVAL_S"] = "1"
        pipeline.start("resolver")  # the timer runs at start-up, then every second

        deadline = time.monotonic() + 30
        done = "SELECT count(*) FROM synthetic_attempts WHERE outcome <> 'claimed'"
        while await db.fetchval(done) < len(before):
            assert time.monotonic() < deadline, pipeline.logs("resolver")
            await asyncio.sleep(0.3)
        upgraded = {
            r["work_key"]
            for r in await db.fetch(
                "SELECT work_key FROM synthetic_attempts WHERE outcome = 'resolved'"
            )
        }
        assert upgraded
        await settled_upgrade(db, upgraded)
        after = await works(db)
        assert set(after) == set(before)
        assert all(after[k]["completeness_score"] > 30 for k in upgraded)
        assert "ISBNdb skipped (daily quota spent)" in pipeline.logs("resolver", 200)
        records = await read_topic(
            settings, f"{settings.topics.prefix}.isbn-resolved", len(before) + len(upgraded)
        )
        upgrades = [
            e
            for e in (Codec().decode(r.value) for r in records)
            if isinstance(e, ISBNResolved) and e.envelope.producer == "synthetic-upgrade"
        ]
        assert len(upgrades) == len(upgraded)
        for event in upgrades:
            assert event.provider != "isbndb"
            assert (event.attempts[0].provider, event.attempts[0].status) == (
                "isbndb",
                "skipped_quota",
            )
    finally:
        await db.close()
