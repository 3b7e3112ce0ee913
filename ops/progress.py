"""Backfill progress read from the tables: months by status, books, ISBNs, rows, provider calls."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ops.calendar import MonthCell

TABLES = (
    "enriched_editions",
    "enriched_works",
    "enriched_authors",
    "work_authors",
    "enrichment_log",
    "backfill_log",
)


@dataclass(frozen=True)
class Progress:
    months: dict[str, int]
    books_generated: int
    isbns_resolved: int
    isbns_queued: int
    synthetic_works: int
    rows: dict[str, int]
    calls: dict[str, int]
    failures: list[tuple[str, str]]

    @property
    def resolution_rate(self) -> float:
        return 100.0 * self.isbns_resolved / self.books_generated if self.books_generated else 0.0

    @property
    def months_open(self) -> int:
        return sum(n for s, n in self.months.items() if s in ("pending", "processing", "retry"))


async def read_progress(conn: asyncpg.Connection | asyncpg.Pool) -> Progress:
    months = {
        r["status"]: r["n"]
        for r in await conn.fetch("SELECT status, count(*) AS n FROM backfill_log GROUP BY status")
    }
    totals = await conn.fetchrow(
        "SELECT coalesce(sum(books_generated), 0) AS books, "
        "coalesce(sum(isbns_resolved), 0) AS resolved, coalesce(sum(isbns_queued), 0) AS queued, "
        "coalesce(sum(gemini_calls), 0) AS gemini, coalesce(sum(xai_calls), 0) AS xai, "
        "coalesce(sum(isbndb_calls), 0) AS isbndb FROM backfill_log"
    )
    assert totals is not None  # an aggregate always returns a row
    rows = {}
    for table in TABLES:
        rows[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    synthetic = await conn.fetchval("SELECT count(*) FROM enriched_works WHERE synthetic")
    quota = {
        r["provider"]: r["used"]
        for r in await conn.fetch(
            "SELECT provider, sum(used)::int AS used FROM provider_quota GROUP BY provider"
        )
    }
    failures = [
        (f"{r['year']}-{r['month']:02d}", r["error_message"] or "")
        for r in await conn.fetch(
            "SELECT year, month, error_message FROM backfill_log WHERE status = 'failed' "
            "ORDER BY year DESC, month DESC LIMIT 10"
        )
    ]
    return Progress(
        months=months,
        books_generated=totals["books"],
        isbns_resolved=totals["resolved"],
        isbns_queued=totals["queued"],
        synthetic_works=synthetic,
        rows=rows,
        calls={
            "gemini": totals["gemini"],
            "xai": totals["xai"],
            "isbndb": max(totals["isbndb"], quota.get("isbndb", 0)),
            **{k: v for k, v in quota.items() if k != "isbndb"},
        },
        failures=failures,
    )


async def read_months(conn: asyncpg.Connection | asyncpg.Pool) -> list[MonthCell]:
    """Every month of backfill_log, for the calendar (ops/calendar.py)."""
    return [
        MonthCell(
            year=r["year"],
            month=r["month"],
            status=r["status"],
            books_generated=r["books_generated"],
            isbns_resolved=r["isbns_resolved"],
        )
        for r in await conn.fetch(
            "SELECT year, month, status, books_generated, isbns_resolved FROM backfill_log "
            "ORDER BY year DESC, month"
        )
    ]


def progress_line(p: Progress) -> str:
    done = p.months.get("completed", 0)
    total = sum(p.months.values())
    return (
        f"months {done}/{total} done ({p.months.get('processing', 0)} processing, "
        f"{p.months.get('retry', 0)} retry, {p.months.get('failed', 0)} failed) | "
        f"books {p.books_generated} | ISBNs {p.isbns_resolved} | "
        f"synthetic works {p.synthetic_works}"
    )


def summary(p: Progress, elapsed_s: float | None = None) -> str:
    lines = [progress_line(p), f"resolution rate {p.resolution_rate:.1f}%", "rows per table:"]
    lines += [f"  {table:<20} {count}" for table, count in p.rows.items()]
    lines.append("provider calls: " + ", ".join(f"{k} {v}" for k, v in sorted(p.calls.items())))
    for month, error in p.failures:
        lines.append(f"failed {month}: {error}")
    if elapsed_s is not None:
        lines.append(f"elapsed {elapsed_s:.1f}s")
    return "\n".join(lines)
