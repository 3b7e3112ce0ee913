"""The projector's PostgreSQL side: load the rows a batch touches, fold, write back, track offsets.

One transaction per batch: the rows are read with FOR UPDATE (one query per table), folded in
Python, written back with COPY into session temp tables and one set-based statement per table,
and the tracking rows (`projector_offsets`) are upserted in the same transaction. A record whose
offset is below the stored next offset was applied already and is skipped, so a redelivered
batch changes nothing. Rows that were absent when read are inserted with ON CONFLICT DO NOTHING;
if another projector inserted one meanwhile, the batch is retried rather than overwriting it.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.projector.fold import Keys, MonthKey, Record, Reject, State, fold, keys_of
from services.projector.merge import (
    AUTHOR_RANKED,
    EDITION_RANKED,
    EMPTY_AUTHOR,
    EMPTY_EDITION,
    EMPTY_MONTH_BOOK,
    EMPTY_WORK,
    WORK_RANKED,
    Row,
    adopt_legacy,
    derive_author,
    derive_edition,
    derive_work,
    work_author_rows,
)
from services.projector.months import MONTH_COLUMNS, MonthRules

Conn = asyncpg.Connection | PoolConnectionProxy
MAX_ATTEMPTS = 5
RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


class LostRace(Exception):
    """Another transaction inserted a row this batch read as absent; the batch is retried."""


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[str, ...]
    jsonb: tuple[str, ...]

    @property
    def stage(self) -> str:
        return f"_projector_{self.name}"


EDITIONS = Table(
    "enriched_editions", "isbn", tuple(EMPTY_EDITION), ("related_isbns", "metadata", "provenance")
)
WORKS = Table("enriched_works", "work_key", tuple(EMPTY_WORK), ("metadata", "provenance"))
AUTHORS = Table("enriched_authors", "author_key", tuple(EMPTY_AUTHOR), ("provenance",))
MONTHS = Table("backfill_log", "year, month", ("year", "month", *MONTH_COLUMNS), ("provenance",))
MONTH_BOOKS = Table("month_books", "year, month, book_id", tuple(EMPTY_MONTH_BOOK), ())
LOG_COLUMNS = (
    "entity_type",
    "entity_key",
    "provider",
    "operation",
    "fields_updated",
    "response_time_ms",
    "event_id",
    "created_at",
)
LOG_STAGE = "_projector_enrichment_log"


@dataclass(frozen=True)
class BatchResult:
    """What one apply_batch did. `rejects` are for the caller to dead-letter."""

    applied: int
    skipped: int
    rejects: list[Reject] = field(default_factory=list)
    written: Mapping[str, int] = field(default_factory=dict)
    log_rows: int = 0


def _stage_sql() -> str:
    """Session temp tables shaped like their targets, emptied at every commit."""
    statements = [
        f"CREATE TEMP TABLE IF NOT EXISTS {t.stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(t.columns)}, false AS _new FROM {t.name} WITH NO DATA"
        for t in (EDITIONS, WORKS, AUTHORS, MONTHS, MONTH_BOOKS)
    ]
    statements.append(
        f"CREATE TEMP TABLE IF NOT EXISTS {LOG_STAGE} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(LOG_COLUMNS)}, 0 AS seq FROM enrichment_log WITH NO DATA"
    )
    return ";\n".join(statements)


STAGE_SQL = _stage_sql()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _row(record: asyncpg.Record, jsonb: tuple[str, ...]) -> Row:
    row = dict(record)
    for name in jsonb:
        value = row[name]
        row[name] = json.loads(value) if isinstance(value, str) else value
    return row


async def load_offsets(
    db: asyncpg.Pool | asyncpg.Connection, consumer_name: str
) -> dict[tuple[str, int], int]:
    """Where to resume: (topic, partition) -> next offset to read, as of the last commit."""
    rows = await db.fetch(
        "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer = $1",
        consumer_name,
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def apply_batch(
    db: asyncpg.Pool | asyncpg.Connection,
    consumer_name: str,
    records: Sequence[Record],
    *,
    rules: MonthRules | None = None,
) -> BatchResult:
    """Apply the records and advance the offsets in one transaction; exactly once per offset."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _apply_with_retries(conn, consumer_name, records, rules)
    return await _apply_with_retries(db, consumer_name, records, rules)


async def _apply_with_retries(
    conn: Conn, consumer: str, records: Sequence[Record], rules: MonthRules | None
) -> BatchResult:
    if conn.is_in_transaction():
        raise ValueError("apply_batch runs its own transaction; call it outside one")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                return await _apply(conn, consumer, records, rules or MonthRules())
        except (LostRace, *RETRYABLE):
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _apply(
    conn: Conn, consumer: str, records: Sequence[Record], rules: MonthRules
) -> BatchResult:
    partitions = sorted({(r.topic, r.partition) for r in records})
    if not partitions:
        return BatchResult(applied=0, skipped=0)
    stored = {
        (r["topic"], r["partition"]): r["next_offset"]
        for r in await conn.fetch(
            "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer = $1 "
            "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) "
            "ORDER BY topic, partition FOR UPDATE",
            consumer,
            [t for t, _ in partitions],
            [p for _, p in partitions],
        )
    }
    fresh = [r for r in records if r.offset >= stored.get((r.topic, r.partition), 0)]
    result = BatchResult(applied=len(fresh), skipped=len(records) - len(fresh))
    if fresh:
        await conn.execute(STAGE_SQL)
        state, originals = await _load(conn, keys_of(fresh))
        with _gc_paused():  # the fold makes many small acyclic objects: no cycles to collect
            rejects = fold(state, fresh, rules)
        written = await _write(conn, state, originals)
        result = BatchResult(
            applied=len(fresh),
            skipped=result.skipped,
            rejects=rejects,
            written=written,
            log_rows=written.get("enrichment_log", 0),
        )
    await _save_offsets(conn, consumer, records)
    return result


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _save_offsets(conn: Conn, consumer: str, records: Iterable[Record]) -> None:
    last: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        last[key] = max(last.get(key, -1), r.offset)
    keys = sorted(last)
    await conn.execute(
        "INSERT INTO projector_offsets (consumer, topic, partition, next_offset) "
        "SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, o) "
        "ON CONFLICT (consumer, topic, partition) DO UPDATE SET "
        "next_offset = GREATEST(projector_offsets.next_offset, EXCLUDED.next_offset), "
        "updated_at = now()",
        consumer,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [last[k] + 1 for k in keys],
    )


# --- load --------------------------------------------------------------------------------------


@dataclass
class _Originals:
    """The rows as read (canonicalised), to write back only what the fold changed."""

    editions: dict[str, Row]
    works: dict[str, Row]
    authors: dict[str, Row]
    months: dict[MonthKey, Row]
    month_books: dict[tuple[int, int, str], Row]


async def _fetch_keyed(conn: Conn, table: Table, keys: Iterable[str]) -> list[Row]:
    wanted = sorted(keys)
    if not wanted:
        return []
    records = await conn.fetch(
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {table.key} = ANY($1::text[]) "
        f"ORDER BY {table.key} FOR UPDATE",
        wanted,
    )
    return [_row(r, table.jsonb) for r in records]


async def _load(conn: Conn, keys: Keys) -> tuple[State, _Originals]:
    months = sorted(keys.months)
    years, numbers = [y for y, _ in months], [m for _, m in months]
    month_rows: list[Row] = []
    book_rows: list[Row] = []
    if months:
        month_rows = [
            _row(r, MONTHS.jsonb)
            for r in await conn.fetch(
                f"SELECT {', '.join(MONTHS.columns)} FROM backfill_log "
                "WHERE (year, month) IN (SELECT * FROM unnest($1::int[], $2::int[])) "
                "ORDER BY year, month FOR UPDATE",
                years,
                numbers,
            )
        ]
        book_rows = [
            dict(r)
            for r in await conn.fetch(
                f"SELECT {', '.join(MONTH_BOOKS.columns)} FROM month_books "
                "WHERE (year, month) IN (SELECT * FROM unnest($1::int[], $2::int[]))",
                years,
                numbers,
            )
        ]
    editions = {
        r["isbn"]: derive_edition(adopt_legacy(r, EDITION_RANKED))
        for r in await _fetch_keyed(conn, EDITIONS, keys.isbns)
    }
    works = {
        r["work_key"]: derive_work(adopt_legacy(r, WORK_RANKED))
        for r in await _fetch_keyed(conn, WORKS, keys.work_keys)
    }
    authors = {
        r["author_key"]: derive_author(adopt_legacy(r, AUTHOR_RANKED))
        for r in await _fetch_keyed(conn, AUTHORS, keys.author_keys)
    }
    state = State(
        editions=dict(editions),
        works=dict(works),
        authors=dict(authors),
        months={(r["year"], r["month"]): r for r in month_rows},
    )
    for book in book_rows:
        state.month_books.setdefault((book["year"], book["month"]), {})[book["book_id"]] = book
    originals = _Originals(
        editions=editions,
        works=works,
        authors=authors,
        months=dict(state.months),
        month_books={(b["year"], b["month"], b["book_id"]): b for b in book_rows},
    )
    return state, originals


# --- write -------------------------------------------------------------------------------------


def _changes(rows: Mapping[Any, Row], originals: Mapping[Any, Row]) -> list[tuple[Row, bool]]:
    """(row, is_new) for each row the fold replaced with different content."""
    out = []
    for key, row in rows.items():
        before = originals.get(key)
        if before is None:
            out.append((row, True))
        elif row is not before and row != before:
            out.append((row, False))
    return out


async def _stage(conn: Conn, table: Table, changes: list[tuple[Row, bool]]) -> None:
    jsonb = set(table.jsonb)
    records = [
        (*(_dumps(row[c]) if c in jsonb else row[c] for c in table.columns), is_new)
        for row, is_new in changes
    ]
    await conn.copy_records_to_table(table.stage, records=records, columns=[*table.columns, "_new"])


async def _upsert_entities(conn: Conn, table: Table, changes: list[tuple[Row, bool]]) -> None:
    if not changes:
        return
    await _stage(conn, table, changes)
    columns = ", ".join(table.columns)
    updated = [c for c in table.columns if c not in table.key.split(", ")]
    if any(not is_new for _, is_new in changes):
        match = " AND ".join(f"t.{k} = s.{k}" for k in table.key.split(", "))
        await conn.execute(
            f"UPDATE {table.name} AS t SET ({', '.join(updated)}) = "
            f"({', '.join('s.' + c for c in updated)}) FROM {table.stage} AS s "
            f"WHERE {match} AND NOT s._new"
        )
    expected = sum(1 for _, is_new in changes if is_new)
    if expected:
        status = await conn.execute(
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.stage} "
            f"WHERE _new ORDER BY {table.key} ON CONFLICT ({table.key}) DO NOTHING"
        )
        if int(status.rsplit(" ", 1)[1]) != expected:
            raise LostRace(f"{table.name}: a row read as absent was inserted concurrently")


async def _write(conn: Conn, state: State, originals: _Originals) -> dict[str, int]:
    written: dict[str, int] = {}
    months = _changes(state.months, originals.months)
    await _upsert_entities(conn, MONTHS, months)
    written[MONTHS.name] = len(months)

    current_books = {
        (b["year"], b["month"], b["book_id"]): b
        for books in state.month_books.values()
        for b in books.values()
    }
    books = _changes(current_books, originals.month_books)
    if books:
        await _stage(conn, MONTH_BOOKS, books)
        columns = ", ".join(MONTH_BOOKS.columns)
        updated = [c for c in MONTH_BOOKS.columns if c not in ("year", "month", "book_id")]
        await conn.execute(
            f"INSERT INTO month_books ({columns}) SELECT {columns} FROM {MONTH_BOOKS.stage} "
            "ORDER BY year, month, book_id ON CONFLICT (year, month, book_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
        )
    written[MONTH_BOOKS.name] = len(books)

    for table, rows, before in (
        (EDITIONS, state.editions, originals.editions),
        (WORKS, state.works, originals.works),
        (AUTHORS, state.authors, originals.authors),
    ):
        changes = _changes(rows, before)
        await _upsert_entities(conn, table, changes)
        written[table.name] = len(changes)

    written["work_authors"] = await _write_work_authors(conn, state.works, originals.works)
    written["enrichment_log"] = await _write_log(conn, state.log)
    return written


async def _write_work_authors(
    conn: Conn, works: Mapping[str, Row], originals: Mapping[str, Row]
) -> int:
    """Replace the author lists of the works whose best-ranked list changed."""
    replaced: list[str] = []
    rows: list[tuple[str, str, int]] = []
    for key, work in works.items():
        before = originals.get(key)
        entry = work["provenance"].get("authors")
        if entry == (before["provenance"].get("authors") if before is not None else None):
            continue
        if before is not None:
            replaced.append(key)
        rows.extend(work_author_rows(work))
    if replaced:
        await conn.execute(
            "DELETE FROM work_authors WHERE work_key = ANY($1::text[])", sorted(replaced)
        )
    if rows:
        await conn.copy_records_to_table(
            "work_authors", records=sorted(rows), columns=["work_key", "author_key", "author_order"]
        )
    return len(rows)


async def _write_log(conn: Conn, log: list[Row]) -> int:
    if not log:
        return 0
    records = [(*(row[c] for c in LOG_COLUMNS), seq) for seq, row in enumerate(log)]
    await conn.copy_records_to_table(LOG_STAGE, records=records, columns=[*LOG_COLUMNS, "seq"])
    columns = ", ".join(LOG_COLUMNS)
    status = await conn.execute(
        f"INSERT INTO enrichment_log ({columns}) SELECT {columns} FROM {LOG_STAGE} ORDER BY seq "
        "ON CONFLICT (entity_type, event_id, entity_key) DO NOTHING"
    )
    return int(status.rsplit(" ", 1)[1])
