"""The projector's PostgreSQL side: load the rows a batch touches, fold, write back, track offsets.

One transaction per batch: the rows are read with FOR UPDATE (one query per table), folded in
Python, and written back in bulk (new rows by COPY, changed rows by COPY into a session temp
table and one UPDATE per table), with the tracking rows (`projector_offsets`) upserted in the
same transaction. A record whose offset is below the stored next offset was applied already
and is skipped, so a redelivered batch changes nothing. If another projector inserted a row
this batch read as absent, the COPY fails on the key and the batch is retried on fresh reads
rather than overwriting that row.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.projector.logic.authors import EMPTY_AUTHOR, adopt_author
from services.projector.logic.editions import EMPTY_EDITION, adopt_edition
from services.projector.logic.events import BookKey, MonthKey, Positioned
from services.projector.logic.fold import FoldReject, Keys, State, fold, keys_of
from services.projector.logic.merging import Row
from services.projector.logic.month_books import EMPTY_MONTH_BOOK
from services.projector.logic.months import MONTH_COLUMNS, MonthRules
from services.projector.logic.works import EMPTY_WORK, adopt_work, work_author_rows

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
    rejects: list[FoldReject] = field(default_factory=list)
    written: Mapping[str, int] = field(default_factory=dict)
    log_rows: int = 0
    # (topic, partition, offset) of the records skipped as applied already (redelivered).
    stale: frozenset[tuple[str, int, int]] = frozenset()


def _stage_sql() -> str:
    """Session temp tables shaped like their targets, emptied at every commit."""
    statements = [
        f"CREATE TEMP TABLE IF NOT EXISTS {t.stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(t.columns)} FROM {t.name} WITH NO DATA"
        for t in (EDITIONS, WORKS, AUTHORS, MONTHS, MONTH_BOOKS)
    ]
    statements.append(
        f"CREATE TEMP TABLE IF NOT EXISTS {LOG_STAGE} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(LOG_COLUMNS)}, 0 AS seq FROM enrichment_log WITH NO DATA"
    )
    return ";\n".join(statements)


STAGE_SQL = _stage_sql()


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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
    records: Sequence[Positioned],
    *,
    rules: MonthRules | None = None,
) -> BatchResult:
    """Apply the records and advance the offsets in one transaction; exactly once per offset."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _apply_with_retries(conn, consumer_name, records, rules)
    return await _apply_with_retries(db, consumer_name, records, rules)


async def _apply_with_retries(
    conn: Conn, consumer: str, records: Sequence[Positioned], rules: MonthRules | None
) -> BatchResult:
    if conn.is_in_transaction():
        raise ValueError("apply_batch runs its own transaction; call it outside one")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with _gc_paused():
                async with conn.transaction():
                    return await _apply(conn, consumer, records, rules or MonthRules())
        except (LostRace, *RETRYABLE):
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _apply(
    conn: Conn, consumer: str, records: Sequence[Positioned], rules: MonthRules
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
    stale = frozenset(
        (r.topic, r.partition, r.offset)
        for r in records
        if r.offset < stored.get((r.topic, r.partition), 0)
    )
    result = BatchResult(applied=len(fresh), skipped=len(records) - len(fresh), stale=stale)
    if fresh:
        await conn.execute(STAGE_SQL)
        state, originals = await _load(conn, keys_of(fresh))
        rejects = fold(state, fresh, rules)
        written = await _write(conn, state, originals)
        result = BatchResult(
            applied=len(fresh),
            skipped=result.skipped,
            rejects=rejects,
            written=written,
            log_rows=written.get("enrichment_log", 0),
            stale=stale,
        )
    await _save_offsets(conn, consumer, records)
    return result


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector for a batch: it builds many small acyclic objects.

    With a large heap (a batch of decoded events), each full collection walks all of it; the
    rows, lists and tuples a batch makes hold no cycles, so pausing loses nothing and saves a
    large share of the CPU time of a big batch. Other coroutines only lose cycle collection
    (not reference counting) meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _save_offsets(conn: Conn, consumer: str, records: Iterable[Positioned]) -> None:
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
    month_books: dict[BookKey, Row]


async def _fetch(conn: Conn, table: Table, where: str, *args: Any) -> list[Row]:
    records = await conn.fetch(
        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE {where} "
        f"ORDER BY {table.key} FOR UPDATE",
        *args,
    )
    return [_row(r, table.jsonb) for r in records]


async def _fetch_keyed(conn: Conn, table: Table, keys: Iterable[str]) -> list[Row]:
    wanted = sorted(keys)
    if not wanted:
        return []
    return await _fetch(conn, table, f"{table.key} = ANY($1::text[])", wanted)


async def _load(conn: Conn, keys: Keys) -> tuple[State, _Originals]:
    """Months first: their lock serialises everything that counts towards them."""
    months: list[Row] = []
    books: list[Row] = []
    if keys.months:
        wanted = sorted(keys.months)
        months = await _fetch(
            conn,
            MONTHS,
            "(year, month) IN (SELECT * FROM unnest($1::int[], $2::int[]))",
            [y for y, _ in wanted],
            [m for _, m in wanted],
        )
    if keys.books:
        wanted_books = sorted(keys.books)
        books = await _fetch(
            conn,
            MONTH_BOOKS,
            "(year, month, book_id) IN (SELECT * FROM unnest($1::int[], $2::int[], $3::text[]))",
            [b[0] for b in wanted_books],
            [b[1] for b in wanted_books],
            [b[2] for b in wanted_books],
        )
    editions = {r["isbn"]: adopt_edition(r) for r in await _fetch_keyed(conn, EDITIONS, keys.isbns)}
    works = {r["work_key"]: adopt_work(r) for r in await _fetch_keyed(conn, WORKS, keys.work_keys)}
    authors = {
        r["author_key"]: adopt_author(r)
        for r in await _fetch_keyed(conn, AUTHORS, keys.author_keys)
    }
    originals = _Originals(
        editions=editions,
        works=works,
        authors=authors,
        months={(r["year"], r["month"]): r for r in months},
        month_books={(b["year"], b["month"], b["book_id"]): b for b in books},
    )
    state = State(
        editions=dict(editions),
        works=dict(works),
        authors=dict(authors),
        months=dict(originals.months),
        month_books=dict(originals.month_books),
    )
    return state, originals


# --- write -------------------------------------------------------------------------------------


def _changes(rows: Mapping[Any, Row], originals: Mapping[Any, Row]) -> tuple[list[Row], list[Row]]:
    """(new rows, changed rows): what the fold created, and what it replaced with new content."""
    created, changed = [], []
    for key, row in rows.items():
        before = originals.get(key)
        if before is None:
            created.append(row)
        elif row is not before and row != before:
            changed.append(row)
    return created, changed


def _tuples(table: Table, rows: Iterable[Row]) -> Iterator[tuple[Any, ...]]:
    """COPY records in column order, jsonb as JSON text.

    A generator: asyncpg sends each 512 kB as it fills, so PostgreSQL inserts while Python is
    still encoding the rest.
    """
    values = itemgetter(*table.columns)
    positions = [i for i, c in enumerate(table.columns) if c in table.jsonb]
    for row in rows:
        record = list(values(row))
        for i in positions:
            record[i] = _dumps(record[i])
        yield tuple(record)


async def _write_rows(
    conn: Conn, table: Table, rows: Mapping[Any, Row], originals: Mapping[Any, Row]
) -> int:
    """COPY new rows straight in; stage changed ones and UPDATE them in one statement.

    A new row that another transaction inserted meanwhile fails the COPY (unique violation):
    the batch is then retried on fresh reads instead of overwriting that row.
    """
    created, changed = _changes(rows, originals)
    if changed:
        await conn.copy_records_to_table(
            table.stage, records=_tuples(table, changed), columns=list(table.columns)
        )
        keys = table.key.split(", ")
        updated = [c for c in table.columns if c not in keys]
        await conn.execute(
            f"UPDATE {table.name} AS t SET ({', '.join(updated)}) = "
            f"({', '.join('s.' + c for c in updated)}) FROM {table.stage} AS s "
            f"WHERE {' AND '.join(f't.{k} = s.{k}' for k in keys)}"
        )
    if created:
        try:
            await conn.copy_records_to_table(
                table.name, records=_tuples(table, created), columns=list(table.columns)
            )
        except asyncpg.UniqueViolationError as exc:
            raise LostRace(f"{table.name}: a row read as absent was inserted meanwhile") from exc
    return len(created) + len(changed)


async def _write(conn: Conn, state: State, originals: _Originals) -> dict[str, int]:
    written = {
        MONTHS.name: await _write_rows(conn, MONTHS, state.months, originals.months),
        MONTH_BOOKS.name: await _write_rows(
            conn, MONTH_BOOKS, state.month_books, originals.month_books
        ),
        EDITIONS.name: await _write_rows(conn, EDITIONS, state.editions, originals.editions),
        WORKS.name: await _write_rows(conn, WORKS, state.works, originals.works),
        AUTHORS.name: await _write_rows(conn, AUTHORS, state.authors, originals.authors),
    }
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
    """COPY the log rows; should one exist already, insert them all skipping the duplicates."""
    if not log:
        return 0
    values = itemgetter(*LOG_COLUMNS)
    try:
        async with conn.transaction():  # a savepoint: a failed COPY must not end the batch
            await conn.copy_records_to_table(
                "enrichment_log", records=map(values, log), columns=list(LOG_COLUMNS)
            )
        return len(log)
    except asyncpg.UniqueViolationError:
        pass  # only if one event id was reused for different content: keep the first log rows
    records = [(*values(row), seq) for seq, row in enumerate(log)]
    await conn.copy_records_to_table(LOG_STAGE, records=records, columns=[*LOG_COLUMNS, "seq"])
    columns = ", ".join(LOG_COLUMNS)
    status = await conn.execute(
        f"INSERT INTO enrichment_log ({columns}) SELECT {columns} FROM {LOG_STAGE} ORDER BY seq "
        "ON CONFLICT (entity_type, event_id, entity_key) DO NOTHING"
    )
    return int(status.rsplit(" ", 1)[1])
