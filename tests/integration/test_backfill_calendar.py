"""`alexandria backfill status --calendar` against a real PostgreSQL: months planned, statuses and
counts set as the scheduler and projector would leave them, the grid read back from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg

from services.scheduler.store import plan_months
from shared.months import YearMonth, months_between


def run_status(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALEXANDRIA_DATABASE_URL": database_url}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "backfill", "status", "--calendar", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def set_month(
    db: asyncpg.Pool, year: int, month: int, status: str, generated: int = 0, resolved: int = 0
) -> None:
    await db.execute(
        "UPDATE backfill_log SET status = $3, books_generated = $4, isbns_resolved = $5, "
        "started_at = CASE WHEN $3 <> 'pending' THEN now() END, "
        "completed_at = CASE WHEN $3 = 'completed' THEN now() END "
        "WHERE year = $1 AND month = $2",
        year,
        month,
        status,
        generated,
        resolved,
    )


async def test_calendar_shows_each_months_status_and_rate(
    database_url: str, db: asyncpg.Pool
) -> None:
    assert await plan_months(db, months_between(YearMonth(2022, 11), YearMonth(2024, 3))) == 17
    await set_month(db, 2024, 3, "processing", generated=20, resolved=5)
    await set_month(db, 2024, 2, "retry")
    await set_month(db, 2024, 1, "failed", generated=20, resolved=0)
    await set_month(db, 2023, 12, "completed", generated=20, resolved=19)
    await set_month(db, 2023, 6, "completed", generated=20, resolved=20)
    await set_month(db, 2022, 11, "completed", generated=3, resolved=2)

    result = run_status(database_url)  # stdout is a pipe: plain text
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].split() == [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
    ]  # fmt: skip
    assert lines[1] == "2024 F  0% R   - W 25%   .     .     .     .     .     .     .     .     ."
    assert lines[2] == (
        "2023 P   - P   - P   - P   - P   - C100% P   - P   - P   - P   - P   - C 95%"
    )
    assert (
        lines[3] == "2022   .     .     .     .     .     .     .     .     .     .   C 66% P   -"
    )
    assert lines[4] == ""
    assert lines[5].startswith("legend: C completed  W processing  P pending  R retry  F failed")
    assert lines[-1] == (
        "months 17: 3 completed, 1 processing, 11 pending, 1 retry, 1 failed | "
        "books 83, resolved 46 (55.4%)"
    )

    coloured = run_status(database_url, "--color", "always")
    assert coloured.returncode == 0, coloured.stderr
    assert "\x1b[32mC100%\x1b[0m" in coloured.stdout
    assert "\x1b[1;31mF  0%\x1b[0m" in coloured.stdout

    never = run_status(database_url, "--color", "never")
    assert never.stdout == out


async def test_calendar_of_an_empty_backfill(database_url: str) -> None:
    result = run_status(database_url)
    assert result.returncode == 0, result.stderr
    assert "no months planned" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("months 0:")
