"""Rebuilding the projected tables from the topics: into a fresh schema, compared with the live
tables (`verify`), or swapped in atomically (`replay`), keeping the previous version.

The live tables keep serving while a rebuild runs in its own schema. The swap moves tables
between schemas in one transaction (`ALTER TABLE ... SET SCHEMA`), so a reader sees either the
old set or the new one. The rebuilt `projector_offsets` come along, and a running projector that
notices its stored offsets moved rewinds to them (services/projector/app.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import TopicPartition

from services.projector.app import consumer_name, projected_topics
from services.projector.logic.events import Positioned
from services.projector.logic.months import MonthRules
from services.projector.store import apply_batch
from shared.db.migrate import apply_migrations
from shared.events import Codec, CodecError
from shared.kafka.consumer import make_consumer
from shared.kafka.topics import partitions_of
from shared.settings import Settings

BATCH = 2000
PREVIOUS_PREFIX = "alexandria_prev_"

# Tables a swap moves, by group (foreign keys never cross groups); projector_offsets always.
GROUPS: dict[str, tuple[str, ...]] = {
    "catalogue": ("enriched_works", "enriched_editions", "enriched_authors", "work_authors"),
    "months": ("backfill_log", "month_books"),
    "audit": (
        "enrichment_log",
        "enrichment_log_edition",
        "enrichment_log_work",
        "enrichment_log_author",
    ),
}
# What "the same table" means for verify: the key, and columns that are not projections.
KEYS = {
    "enriched_works": ("work_key",),
    "enriched_editions": ("isbn",),
    "enriched_authors": ("author_key",),
    "work_authors": ("work_key", "author_key"),
    "backfill_log": ("year", "month"),
    "month_books": ("year", "month", "book_id"),
}
UNCOMPARED_COLUMNS = {"backfill_log": ("id", "updated_at", "next_attempt_at", "last_retry_at")}

Progress = Callable[[int, int], None]  # (events done, events total)


@dataclass(frozen=True)
class RebuildResult:
    schema: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class TableDiff:
    table: str
    live_rows: int
    rebuilt_rows: int
    identical: bool
    first_differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyReport:
    tables: tuple[TableDiff, ...]
    audit_rows: tuple[int, int]  # enrichment_log rows: live, rebuilt (order-dependent)
    rebuild: RebuildResult

    @property
    def identical(self) -> bool:
        return all(t.identical for t in self.tables)


@dataclass(frozen=True)
class SwapResult:
    previous_schema: str | None
    tables: tuple[str, ...]
    carried_claims: int = 0
    carried_plans: int = 0


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _connect(settings: Settings, schema: str | None = None) -> asyncpg.Connection:
    search_path = f"{quoted(schema)}, public" if schema else settings.database.schema_name
    return await asyncpg.connect(settings.dsn, server_settings={"search_path": search_path})


async def end_offsets(
    settings: Settings, until_offset: int | None = None, until_time: datetime | None = None
) -> dict[TopicPartition, int]:
    """Where a rebuild stops, per partition: the end of each topic (committed events only),
    or earlier if an offset or a time is given."""
    partitions = await partitions_of(settings, projected_topics(settings))
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        if until_time is not None:
            found = await consumer.offsets_for_times(
                {tp: int(until_time.timestamp() * 1000) for tp in partitions}
            )
            ends = {
                tp: min(ends[tp], found[tp].offset if found[tp] else ends[tp]) for tp in partitions
            }
        if until_offset is not None:
            ends = {tp: min(end, until_offset) for tp, end in ends.items()}
        return dict(ends)
    finally:
        await consumer.stop()


async def rebuild(
    settings: Settings,
    schema: str,
    ends: dict[TopicPartition, int] | None = None,
    progress: Progress | None = None,
) -> RebuildResult:
    """Fold every topic from offset 0 up to `ends` into the tables of a new `schema`.

    Planned months are not events: they are copied from the live backfill_log first, so months
    that were planned but never scheduled survive a rebuild."""
    ends = ends if ends is not None else await end_offsets(settings)
    admin = await _connect(settings)
    try:
        await admin.execute(f"CREATE SCHEMA {quoted(schema)}")
    finally:
        await admin.close()
    await asyncio.to_thread(apply_migrations, settings.dsn, schema)
    conn = await _connect(settings, schema)
    try:
        await conn.execute(
            f"INSERT INTO {quoted(schema)}.backfill_log (year, month, created_at, updated_at) "
            f"SELECT year, month, created_at, created_at "
            f"FROM {quoted(settings.database.schema_name)}.backfill_log"
        )
        started = time.monotonic()
        events = await _fold_topics(settings, conn, ends, progress)
        return RebuildResult(schema, events, time.monotonic() - started)
    finally:
        await conn.close()


async def _fold_topics(
    settings: Settings,
    conn: asyncpg.Connection,
    ends: dict[TopicPartition, int],
    progress: Progress | None,
) -> int:
    total = sum(ends.values())
    wanted = {tp: end for tp, end in ends.items() if end > 0}
    if not wanted:
        return 0
    codec, name = Codec(), consumer_name(settings)
    rules = MonthRules(
        max_attempts=settings.scheduler.max_attempts,
        backoff_base_minutes=settings.scheduler.retry_backoff_base_s / 60,
        backoff_max_minutes=settings.scheduler.retry_backoff_max_s / 60,
    )
    consumer = make_consumer(settings, max_poll_records=BATCH)
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        while wanted:
            batch = await consumer.getmany(*wanted, timeout_ms=1000, max_records=BATCH)
            records: list[Positioned] = []
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        break
                    try:
                        kind, event = codec.decode_raw(message.value)
                        records.append(
                            Positioned(
                                message.topic, message.partition, message.offset, kind.name, event
                            )
                        )
                    except CodecError:  # parked by the live consumer too: skip it the same way
                        records.append(
                            Positioned.skipped(message.topic, message.partition, message.offset)
                        )
            if records:
                await apply_batch(conn, name, records, rules=rules)
            for tp in list(wanted):
                if await consumer.position(tp) >= ends[tp]:
                    del wanted[tp]
                    consumer.pause(tp)
            if progress is not None:
                done = [min(await consumer.position(tp), end) for tp, end in ends.items() if end]
                progress(sum(done), total)
        return total
    finally:
        await consumer.stop()


async def stored_offsets(
    settings: Settings, conn: asyncpg.Connection | None = None
) -> dict[TopicPartition, int]:
    """The live projector's position: verify rebuilds exactly what the live tables applied."""
    own = conn is None
    conn = conn or await _connect(settings)
    try:
        rows = await conn.fetch(
            "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer = $1",
            consumer_name(settings),
        )
    finally:
        if own:
            await conn.close()
    ends = {tp: 0 for tp in await end_offsets(settings)}
    ends.update({TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows})
    return ends


async def compare(
    settings: Settings,
    rebuilt: str,
    live_conn: asyncpg.Connection | None = None,
    tables: Sequence[str] = tuple(KEYS),
) -> list[TableDiff]:
    """Row-by-row comparison of projected columns (a digest per row, keyed), with the first
    differing keys. `live_conn` may hold a snapshot of the live tables."""
    own = live_conn is None
    live_conn = live_conn or await _connect(settings)
    new_conn = await _connect(settings)
    try:
        diffs = []
        for table in tables:
            columns = ", ".join(await _projected_columns(new_conn, rebuilt, table))
            key = ", ".join(KEYS[table])
            sql = (
                f"SELECT {key}, md5(r::text) AS digest FROM (SELECT {columns} FROM "
                f"{{schema}}.{table}) r"
            )
            live = await _digests(
                live_conn, sql.format(schema=quoted(settings.database.schema_name))
            )
            new = await _digests(new_conn, sql.format(schema=quoted(rebuilt)))
            differing = sorted(k for k in live.keys() | new.keys() if live.get(k) != new.get(k))
            first = tuple(_side(k, live, new) + ", ".join(map(str, k)) for k in differing[:5])
            diffs.append(TableDiff(table, len(live), len(new), not differing, first))
        return diffs
    finally:
        await new_conn.close()
        if own:
            await live_conn.close()


async def _digests(conn: asyncpg.Connection, sql: str) -> dict[tuple[object, ...], str]:
    return {tuple(r)[:-1]: r["digest"] for r in await conn.fetch(sql)}


def _side(
    key: tuple[object, ...], live: dict[tuple[object, ...], str], new: dict[tuple[object, ...], str]
) -> str:
    if key in live and key in new:
        return "both differ: "
    return "only live: " if key in live else "only rebuilt: "


async def _projected_columns(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name = $2 ORDER BY ordinal_position",
        schema,
        table,
    )
    skip = UNCOMPARED_COLUMNS.get(table, ())
    return [quoted(r["column_name"]) for r in rows if r["column_name"] not in skip]


async def drop_schema(settings: Settings, schema: str) -> None:
    conn = await _connect(settings)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
    finally:
        await conn.close()


async def verify(
    settings: Settings, progress: Progress | None = None, keep_scratch: bool = False
) -> VerifyReport:
    """Rebuild what the live projector has applied into a scratch schema and compare. The live
    side is read in one snapshot together with the offsets it reflects, so a projector that is
    still running cannot make the comparison race."""
    scratch = f"alexandria_verify_{stamp()}"
    snapshot = await _connect(settings)
    transaction = snapshot.transaction(isolation="repeatable_read", readonly=True)
    await transaction.start()
    try:
        offsets = await stored_offsets(settings, snapshot)
        live_audit = await snapshot.fetchval("SELECT count(*) FROM enrichment_log")
        result = await rebuild(settings, scratch, offsets, progress)
        tables = await compare(settings, scratch, snapshot)
        conn = await _connect(settings)
        try:
            rebuilt_audit = await conn.fetchval(
                f"SELECT count(*) FROM {quoted(scratch)}.enrichment_log"
            )
        finally:
            await conn.close()
        return VerifyReport(tuple(tables), (live_audit, rebuilt_audit), result)
    finally:
        await transaction.rollback()
        await snapshot.close()
        if not keep_scratch:
            await drop_schema(settings, scratch)


async def swap(
    settings: Settings,
    rebuilt: str,
    groups: Sequence[str] = tuple(GROUPS),
    keep_previous: bool = True,
) -> SwapResult:
    """Move the rebuilt tables in and the live ones out, in one transaction.

    Claims and plans the rebuild could not see (made while it ran, not yet events) are carried
    over from the old backfill_log, so no month is scheduled twice or forgotten."""
    live, new = quoted(settings.database.schema_name), quoted(rebuilt)
    previous = f"{PREVIOUS_PREFIX}{stamp()}"
    tables = [t for g in groups for t in GROUPS[g]] + ["projector_offsets"]
    conn = await _connect(settings)
    try:
        async with conn.transaction():
            await conn.execute(f"CREATE SCHEMA {quoted(previous)}")
            for table in tables:  # lock everything first, in a fixed order
                await conn.execute(f"LOCK TABLE {live}.{table} IN ACCESS EXCLUSIVE MODE")
            claims = plans = 0
            if "months" in groups:
                claims, plans = await _carry_month_state(conn, live, new)
            for table in tables:
                await conn.execute(f"ALTER TABLE {live}.{table} SET SCHEMA {quoted(previous)}")
                await conn.execute(f"ALTER TABLE {new}.{table} SET SCHEMA {live}")
        await conn.execute(f"DROP SCHEMA {new} CASCADE")
        if not keep_previous:
            await conn.execute(f"DROP SCHEMA {quoted(previous)} CASCADE")
        return SwapResult(previous if keep_previous else None, tuple(tables), claims, plans)
    finally:
        await conn.close()


async def _carry_month_state(conn: asyncpg.Connection, live: str, new: str) -> tuple[int, int]:
    claimed = await conn.execute(
        f"UPDATE {new}.backfill_log n SET status = l.status, started_at = l.started_at, "
        f"batch_size = l.batch_size, retry_count = l.retry_count, updated_at = l.updated_at "
        f"FROM {live}.backfill_log l WHERE (n.year, n.month) = (l.year, l.month) "
        f"AND l.status = 'processing' AND n.status = 'pending'"
    )
    planned = await conn.execute(
        f"INSERT INTO {new}.backfill_log (year, month, created_at, updated_at) "
        f"SELECT year, month, created_at, created_at FROM {live}.backfill_log "
        f"ON CONFLICT (year, month) DO NOTHING"
    )
    return int(claimed.split()[-1]), int(planned.split()[-1])


async def previous_schemas(settings: Settings) -> list[str]:
    conn = await _connect(settings)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname",
            f"{PREVIOUS_PREFIX}%",
        )
        return [r["nspname"] for r in rows]
    finally:
        await conn.close()
