"""A reusable fault harness for the pipeline on the real stack.

`FaultPipeline` is the tests' `Pipeline` (sandbox + the five services as real processes) plus
replicas (N schedulers) and a liveness check. `Faults` injects faults into it and keeps a
timeline of what it did, so a red test says what happened when:

- `kill_randomly`: kill -9 a service chosen by a seeded RNG at seeded moments, restart it;
- `broker_outage` / `database_outage`: stop the shared Kafka broker / PostgreSQL server of the
  local stack and start it again (always back up when the context ends, even on failure);
- `poison`: publish valid-Avro events with impossible content (`impossible_events`);
- `chaos`: sandbox fault knobs (5xx, timeouts, 429 storms, malformed JSON).

The end of every fault test is the same (`assert_recovered`): no month stuck, the tables equal
to a clean run of the same input (`Reference`), and `alexandria replay verify` identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import time
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from ops.devstack import kafka, postgres, processes
from ops.devstack.services_proc import SERVICES
from shared.events import (
    BooksGenerated,
    Codec,
    DeadLetter,
    EditionFacts,
    GeneratedBook,
    ISBNResolved,
    LLMCall,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
    WorkFacts,
    WorkMatch,
    make_envelope,
)
from shared.events.generated import Event
from shared.kafka.options import client_options
from shared.kafka.producer import EventProducer
from shared.kafka.topics import partitions_of
from shared.months import YearMonth, months_between
from shared.settings import Settings
from tests.harness import Pipeline, table_contents

# Twelve months, every other month of 2018-2019. Not twelve adjacent months: the sandbox's LLMs
# sometimes name a book of the adjacent month, and the pipeline's result for such a book depends
# on which of the two months it happens to resolve first (README, limits: "what the world looked
# like when a decision was made"), so two clean runs of adjacent months can differ and no fault
# test could tell its fault from that race. Switch to ADJACENT_MONTHS once that is fixed.
TWELVE_MONTHS = [YearMonth(2018 + i // 6, 1 + 2 * (i % 6)) for i in range(12)]
ADJACENT_MONTHS = months_between(YearMonth(2019, 1), YearMonth(2019, 12))
# Sandbox latency that stretches a twelve-month run from ~5 s to tens of seconds, so faults land
# while every service is busy. Latency changes no answer.
SLOW = {"*": {"latency_ms": 60, "latency_jitter_ms": 60}}
STUCK = ("pending", "processing", "retry")


def timestamp() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]


# --- the pipeline ------------------------------------------------------------------------------


class FaultPipeline(Pipeline):
    """A Pipeline whose services can also run as extra replicas (`start_replica`), that can say
    which of its processes died on their own (`dead`), and whose env can be extended."""

    def __init__(
        self, settings: Settings, folder: Path, seed: int = 7, env: dict[str, str] | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(settings, folder, seed)
        self.env.update(env or {})
        self.replicas: list[str] = []
        self.expected: set[str] = set()  # processes that should be running now

    def start(self, *services: str) -> None:
        super().start(*services)
        self.expected.update(services or SERVICES)

    def start_replica(self, service: str, index: int) -> str:
        """One more copy of `service`, with its own log and pid file (`<service>-<index>`)."""
        name = f"{service}-{index}"
        log, pid = self._paths(name)
        processes.spawn([sys.executable, "-m", f"services.{service}"], log, pid, env=self.env)
        self.replicas.append(name)
        self.expected.add(name)
        return name

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        self.expected.discard(service)
        super().kill(service, sig)

    def pid(self, name: str) -> int | None:
        return processes.read_pid(self._paths(name)[1])

    def dead(self) -> list[str]:
        """Processes that should be running but are not (they exited on their own)."""
        return sorted(name for name in self.expected if self.pid(name) is None)

    def stop(self) -> None:
        for name in self.replicas:
            processes.stop(self._paths(name)[1], timeout_s=15)
        super().stop()

    def all_logs(self, lines: int = 12) -> str:
        names = [*SERVICES, *self.replicas]
        return "\n".join(f"--- {name}\n{self.logs(name, lines)}" for name in names)

    def log_text(self, name: str) -> str:
        try:
            return self._paths(name)[0].read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- the faults --------------------------------------------------------------------------------


@dataclass
class Faults:
    """Injects faults into a FaultPipeline; every action is appended to `timeline`."""

    pipeline: FaultPipeline
    stack: Settings  # the local stack's settings (ports, state folder) for broker/database
    seed: int = 20190101
    timeline: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.started = time.monotonic()

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:7.2f}s {what}")

    def report(self) -> str:
        return "fault timeline:\n" + "\n".join(self.timeline)

    # kill -9 -----------------------------------------------------------------------------------

    def kill9(self, service: str) -> None:
        pid = self.pipeline.pid(service)
        self.pipeline.kill(service, signal.SIGKILL)
        self.note(f"kill -9 {service} (pid {pid})")

    def restart(self, service: str) -> None:
        self.pipeline.start(service)
        self.note(f"started {service} (pid {self.pipeline.pid(service)})")

    async def kill_randomly(
        self,
        duration_s: float,
        services: Sequence[str] = SERVICES,
        every_s: tuple[float, float] = (1.0, 2.0),
        down_s: tuple[float, float] = (0.0, 0.5),
        until_settled: bool = True,
    ) -> Counter[str]:
        """For `duration_s`, every `every_s` kill -9 one of `services` and start it again after
        `down_s`. The victims are drawn by the seeded RNG from shuffled rounds of `services`, so
        each is hit once per round. Stops early once every month is settled (a kill after that
        proves nothing about the run). Returns how often each service was killed."""
        kills: Counter[str] = Counter()
        bag: list[str] = []
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self.rng.uniform(*every_s))
            progress = await self.progress()
            if until_settled and progress["settled"]:
                self.note(f"every month settled ({progress['by_status']}): no more kills")
                break
            if not bag:
                bag = list(services)
                self.rng.shuffle(bag)
            service = bag.pop()
            self.note(f"months {progress['by_status']}")
            self.kill9(service)
            kills[service] += 1
            await asyncio.sleep(self.rng.uniform(*down_s))
            self.restart(service)
        return kills

    async def progress(self) -> dict[str, Any]:
        """Months by status, and whether none is pending, processing or retry."""
        conn = await asyncpg.connect(self.pipeline.settings.dsn)
        try:
            rows = await conn.fetch("SELECT status, count(*) AS n FROM backfill_log GROUP BY 1")
        finally:
            await conn.close()
        by_status = {r["status"]: r["n"] for r in rows}
        return {
            "by_status": by_status,
            "settled": bool(by_status) and not set(STUCK) & set(by_status),
        }

    async def until_completed(self, at_least: int, timeout_s: float = 60) -> dict[str, int]:
        """Wait until `at_least` months are completed (a moment that is surely mid-run when
        fewer than all are); returns months by status."""
        deadline = time.monotonic() + timeout_s
        while True:
            progress = await self.progress()
            if progress["by_status"].get("completed", 0) >= at_least:
                self.note(f"months {progress['by_status']}")
                return dict(progress["by_status"])
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not {at_least} months completed after {timeout_s}s: {progress}\n"
                    f"{self.pipeline.all_logs()}\n{self.report()}"
                )
            await asyncio.sleep(0.2)

    # broker and database outages ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def broker_outage(self) -> AsyncIterator[None]:
        """Stop the shared Kafka broker; it is started again when the block ends, whatever
        happened in it. Use `async with faults.broker_outage(): await asyncio.sleep(down)`."""
        self.note("stopping the Kafka broker")
        stopped = await asyncio.to_thread(kafka.stop, self.stack)
        self.note(f"Kafka broker stopped ({stopped})")
        assert stopped, "no broker of this stack's state folder was running: nothing injected"
        try:
            yield
        finally:
            self.note("starting the Kafka broker")
            result = await asyncio.to_thread(kafka.start, self.stack)
            self.note(f"Kafka broker {result}")

    @contextlib.asynccontextmanager
    async def database_outage(self) -> AsyncIterator[None]:
        """Stop the shared PostgreSQL server (fast shutdown: sessions are cut); it is started
        again when the block ends, whatever happened in it."""
        self.note("stopping PostgreSQL")
        stopped = await asyncio.to_thread(postgres.stop, self.stack)
        self.note(f"PostgreSQL stopped ({stopped})")
        assert stopped, "no PostgreSQL of this stack's state folder was running: nothing injected"
        try:
            yield
        finally:
            self.note("starting PostgreSQL")
            result = await asyncio.to_thread(postgres.start, self.stack)
            self.note(f"PostgreSQL {result}")

    # N schedulers ------------------------------------------------------------------------------

    def schedulers(self, n: int) -> list[str]:
        """Start n-1 more schedulers next to the pipeline's own (which `start()` runs)."""
        names = [self.pipeline.start_replica("scheduler", i) for i in range(2, n + 1)]
        self.note(f"started {len(names)} extra schedulers: {', '.join(names)}")
        return names

    # poison ------------------------------------------------------------------------------------

    async def poison(self, events: Iterable[Event]) -> list[tuple[str, int, int]]:
        """Publish each event with the real producer; returns (topic, partition, offset)."""
        placed = []
        async with EventProducer(self.pipeline.settings) as producer:
            for event in events:
                meta = await producer.send(event)
                placed.append((meta.topic, meta.partition, meta.offset))
                self.note(
                    f"poison {type(event).__name__} at {meta.topic}/{meta.partition}/{meta.offset}"
                )
        return placed

    # sandbox chaos -----------------------------------------------------------------------------

    def chaos(self, knobs: dict[str, Any]) -> None:
        self.pipeline.knobs(knobs)
        self.note(f"sandbox knobs {knobs}")


# --- impossible events -------------------------------------------------------------------------


def _envelope(model: type[Event], tag: str) -> Any:
    return make_envelope(
        model,
        producer="fault-injector",
        correlation_id=f"poison:{tag}",
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"alexandria-poison/{tag}")),
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def _book(tag: str, isbn: str | None = None) -> GeneratedBook:
    return GeneratedBook(
        book_id=f"poison-{tag}",
        title=f"The Impossible Book {tag}",
        authors=["Nobody Atall"],
        isbn=isbn,
        source_providers=["gemini"],
    )


def _llm_call() -> LLMCall:
    return LLMCall(
        provider="gemini", model="gemini-2.5-flash", calls=1, books_returned=1, duration_ms=1
    )


# Impossible ISBNs: letters, wrong check digit (13 characters both), and too short.
BAD_ISBNS = ("978ABCDEFGHIJ", "9780000000001", "97800")
VALID_UNKNOWN_ISBN = "9780000000002"


def impossible_events(year: int = 2019) -> dict[str, list[Event]]:
    """Valid Avro, impossible content, per topic suffix. Months that exist in the run (so a
    poison applied by mistake would show in the tables), but month 13 or an impossible ISBN."""
    month_13: dict[str, list[Event]] = {
        "month-scheduled": [
            MonthScheduled(
                envelope=_envelope(MonthScheduled, "scheduled-13"),
                year=year,
                month=13,
                prompt_variant="baseline",
                batch_size=20,
                attempt=1,
            )
        ],
        "books-generated": [
            BooksGenerated(
                envelope=_envelope(BooksGenerated, "generated-13"),
                year=year,
                month=13,
                prompt_variant="baseline",
                attempt=1,
                books=[_book("generated-13")],
                provider_calls=[_llm_call()],
            )
        ],
        "month-generation-failed": [
            MonthGenerationFailed(
                envelope=_envelope(MonthGenerationFailed, "failed-13"),
                year=year,
                month=13,
                attempt=1,
                reason="poison",
                provider_calls=[_llm_call()],
            )
        ],
    }
    resolved = [
        ISBNResolved(
            envelope=_envelope(ISBNResolved, f"resolved-{isbn}"),
            year=year,
            month=3,
            book=_book(f"resolved-{isbn}", isbn),
            month_book_count=1,
            outcome="resolved",
            isbn13=isbn,
            provider="isbndb",
            confidence=1.0,
            attempts=[],
        )
        for isbn in BAD_ISBNS
    ]
    fetched = [
        MetadataFetched(
            envelope=_envelope(MetadataFetched, f"fetched-{isbn}"),
            year=year,
            month=3,
            book_id=f"poison-fetched-{isbn}",
            isbn13=isbn,
            editions=[EditionFacts(provider="isbndb", quality=90, title="Impossible")],
            works=[WorkFacts(provider="isbndb", quality=90, title="Impossible")],
            authors=[],
            work_match=WorkMatch(work_key=f"poison-work-{isbn}", confidence=1.0, source="isbn"),
            fetch_ms=1,
        )
        for isbn in BAD_ISBNS
    ]
    # Month 13 with a well-formed ISBN (known to no catalogue), so only the month is impossible.
    resolved.append(
        ISBNResolved(
            envelope=_envelope(ISBNResolved, "resolved-13"),
            year=year,
            month=13,
            book=_book("resolved-13", VALID_UNKNOWN_ISBN),
            month_book_count=1,
            outcome="resolved",
            isbn13=VALID_UNKNOWN_ISBN,
            provider="isbndb",
            confidence=1.0,
            attempts=[],
        )
    )
    fetched.append(
        MetadataFetched(
            envelope=_envelope(MetadataFetched, "fetched-13"),
            year=year,
            month=13,
            book_id="poison-fetched-13",
            isbn13=VALID_UNKNOWN_ISBN,
            editions=[EditionFacts(provider="isbndb", quality=90, title="Impossible")],
            works=[WorkFacts(provider="isbndb", quality=90, title="Impossible")],
            authors=[],
            work_match=WorkMatch(work_key="poison-work-13", confidence=1.0, source="isbn"),
            fetch_ms=1,
        )
    )
    return {**month_13, "isbn-resolved": resolved, "metadata-fetched": fetched}


# Who consumes each topic (and so must dead-letter a poison on it).
CONSUMERS = {
    "month-scheduled": ("generator", "projector"),
    "books-generated": ("resolver", "projector"),
    "month-generation-failed": ("projector",),
    "isbn-resolved": ("enricher", "projector"),
    "metadata-fetched": ("projector",),
}


# --- reading the topics ------------------------------------------------------------------------


async def read_all(settings: Settings, topic: str, timeout_s: float = 30) -> list[Any]:
    """Every committed record of `topic`, from the start: read until the end offsets are passed
    and nothing more came for half a second. (Not until a count: transaction markers take offsets
    but are never delivered; and an end offset read once can be stale.)"""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",  # with "latest" a seek to the beginning may land at the end
    )
    await consumer.start()
    try:
        partitions = await partitions_of(settings, [topic])
        assert partitions, f"{topic} has no partitions"
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while True:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(part)
                quiet_since = time.monotonic()
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind and time.monotonic() - quiet_since >= 0.5:
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {timeout_s}s")
    finally:
        await consumer.stop()


async def events_on(settings: Settings, suffix: str) -> list[tuple[Any, Event]]:
    """Every committed (record, decoded event) on `<prefix>.<suffix>`, from the start."""
    codec = Codec()
    out = []
    for record in await read_all(settings, f"{settings.topics.prefix}.{suffix}"):
        with contextlib.suppress(Exception):
            out.append((record, codec.decode(record.value)))
    return out


EVENT_TOPICS = (
    "month-scheduled",
    "books-generated",
    "month-generation-failed",
    "isbn-resolved",
    "metadata-fetched",
    "dead-letter",
)


def _what(event: Event) -> str:
    where = [f"{getattr(event, 'year', '?')}-{getattr(event, 'month', '?')}"]
    for name in ("attempt", "outcome", "isbn13"):
        if getattr(event, name, None) is not None:
            where.append(f"{name}={getattr(event, name)}")
    book = getattr(event, "book", None)
    if book is not None:
        where.append(f"book={book.title!r}")
    return " ".join(where)


async def census(settings: Settings) -> str:
    """Per topic: committed records, distinct event ids, and every event id published more than
    once (with whether the copies differ in content): what redeliveries left on the log."""
    lines = []
    for suffix in EVENT_TOPICS:
        events = await events_on(settings, suffix)
        by_id: dict[str, list[Event]] = {}
        for _, event in events:
            by_id.setdefault(event.envelope.event_id, []).append(event)
        repeated = {k: v for k, v in by_id.items() if len(v) > 1}
        lines.append(
            f"{suffix}: {len(events)} records, {len(by_id)} event ids, {len(repeated)} repeated"
        )
        for copies in list(repeated.values())[:6]:
            contents = {c.model_dump_json(exclude={"envelope": {"occurred_at"}}) for c in copies}
            same = "same content" if len(contents) == 1 else f"{len(contents)} different contents"
            lines.append(f"  x{len(copies)} {type(copies[0]).__name__} {_what(copies[0])}: {same}")
    return "\n".join(lines)


async def conflicting_duplicates(settings: Settings) -> list[str]:
    """Event ids committed more than once with different content. A redelivered input may be
    redone (same ids, by design), but only a step redone after its first outputs were committed
    can produce the same id with other content: a breach of exactly-once."""
    found = []
    for suffix in EVENT_TOPICS:
        by_id: dict[str, list[Event]] = {}
        for _, event in await events_on(settings, suffix):
            by_id.setdefault(event.envelope.event_id, []).append(event)
        for event_id, copies in by_id.items():
            contents = {c.model_dump_json(exclude={"envelope": {"occurred_at"}}) for c in copies}
            if len(contents) > 1:
                found.append(
                    f"{suffix}: {event_id} x{len(copies)}, {len(contents)} contents: "
                    f"{type(copies[0]).__name__} {_what(copies[0])}"
                )
    return found


async def dead_letters(settings: Settings) -> list[DeadLetter]:
    return [e for _, e in await events_on(settings, "dead-letter") if isinstance(e, DeadLetter)]


# --- the end of every fault test ---------------------------------------------------------------


class Reference:
    """Clean runs (no fault) of a given input, each in its own world (database + topics),
    cached for the session: every fault test of the same months and seed compares with one."""

    def __init__(self, stack: Settings, template: str, folder: Path) -> None:
        self.stack = stack
        self.template = template
        self.folder = folder
        self.cache: dict[tuple[tuple[YearMonth, ...], int], dict[str, list[tuple[Any, ...]]]] = {}
        self.databases: list[str] = []
        self.seconds: dict[tuple[tuple[YearMonth, ...], int], float] = {}

    async def world(self) -> Settings:
        from shared.kafka.topics import create_topics
        from shared.settings import load_settings

        name = f"test_ref_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(self.stack.dsn.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        self.databases.append(name)
        world = load_settings(
            kafka_bootstrap_servers=self.stack.kafka.bootstrap_servers,
            database_url=self.stack.dsn.rsplit("/", 1)[0] + f"/{name}",
            topic_prefix=f"test-ref-{uuid.uuid4().hex[:10]}",
            topic_partitions=3,
        )
        await create_topics(world)
        return world

    async def tables(
        self, months: Sequence[YearMonth], seed: int, timeout_s: float = 180
    ) -> dict[str, list[tuple[Any, ...]]]:
        key = (tuple(months), seed)
        if key not in self.cache:
            started = time.monotonic()
            world = await self.world()
            clean = FaultPipeline(world, self.folder / f"clean-{len(self.cache)}", seed=seed)
            clean.start_sandbox()
            try:
                await clean.plan(list(months))
                clean.start()
                status = await clean.wait_until_settled(timeout_s)
                assert status == {"completed": len(months)}, f"the clean run: {status}"
                self.cache[key] = await table_contents(world.dsn)
            finally:
                clean.stop()
            self.seconds[key] = time.monotonic() - started
        return self.cache[key]

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.stack.dsn.rsplit("/", 1)[0] + "/postgres")
        try:
            for name in self.databases:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def month_status(settings: Settings) -> dict[tuple[int, int], tuple[str, int]]:
    conn = await asyncpg.connect(settings.dsn)
    try:
        rows = await conn.fetch("SELECT year, month, status, retry_count FROM backfill_log")
    finally:
        await conn.close()
    return {(r["year"], r["month"]): (r["status"], r["retry_count"]) for r in rows}


def diff_tables(
    got: dict[str, list[tuple[Any, ...]]], want: dict[str, list[tuple[Any, ...]]], limit: int = 4
) -> str:
    """'' when equal; else per differing table the counts and the first rows only one side has."""
    out = []
    for table in want:
        mine, theirs = Counter(map(repr, got.get(table, []))), Counter(map(repr, want[table]))
        if mine == theirs:
            continue
        extra = sorted((mine - theirs).elements())[:limit]
        missing = sorted((theirs - mine).elements())[:limit]
        out.append(
            f"{table}: {sum(mine.values())} rows vs {sum(theirs.values())} in the clean run\n"
            + "".join(f"  only here:      {row:.600}\n" for row in extra)
            + "".join(f"  only in clean:  {row:.600}\n" for row in missing)
        )
    return "\n".join(out)


async def assert_replay_identical(settings: Settings) -> None:
    """`alexandria replay verify`: a rebuild from the topics equals the live tables.

    Calls ops.replay.verify(settings) (async or not) and asserts its report says
    identical, naming the first differences; only warns while that function does not exist."""
    try:
        from ops import replay
    except ImportError:
        warnings.warn("ops.replay does not exist: replay verify not checked", stacklevel=2)
        return
    verify = getattr(replay, "verify", None)
    if verify is None:
        warnings.warn("ops.replay has no verify(): not checked", stacklevel=2)
        return
    if asyncio.iscoroutinefunction(verify):
        report = await verify(settings)
    else:
        report = await asyncio.to_thread(verify, settings)
    if getattr(report, "identical", None) is not True:
        tables = getattr(report, "tables", ())
        details = "\n".join(
            f"  {t.table}: live {t.live_rows} rows, rebuilt {t.rebuilt_rows}; "
            f"first differences: {list(t.first_differences)[:3]}"
            for t in tables
            if not getattr(t, "identical", False)
        )
        raise AssertionError(f"replay verify is not identical:\n{details or report!r}")


async def assert_recovered(
    pipeline: FaultPipeline,
    reference: Reference,
    months: Sequence[YearMonth] = TWELVE_MONTHS,
    *,
    faults: Faults | None = None,
    timeout_s: float = 180,
    expect: dict[str, int] | None = None,
    allow_dead: bool = False,
) -> None:
    """No month stuck, nothing died unnoticed, tables equal to a clean run, replay identical."""
    context = faults.report() if faults is not None else ""
    deadline = time.monotonic() + timeout_s
    while True:
        dead = [] if allow_dead else pipeline.dead()
        assert not dead, (
            f"exited on their own: {dead}\n{pipeline.all_logs(30)}\n"
            f"months: {await month_status(pipeline.settings)}\n{context}"
        )
        months_now = await month_status(pipeline.settings)
        status = dict(Counter(s for s, _ in months_now.values()))
        if status and not set(STUCK) & set(status):
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"months not settled after {timeout_s}s: {months_now}\n"
                f"{pipeline.all_logs()}\n{context}"
            )
        await asyncio.sleep(0.5)
    assert status == (expect or {"completed": len(months)}), f"months: {months_now}\n{context}"
    want = await reference.tables(months, pipeline.seed)
    # Every month is done, but the projector may still fold a late duplicate: a few seconds.
    got: dict[str, list[tuple[Any, ...]]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = await table_contents(pipeline.settings.dsn)
        if not diff_tables(got, want):
            break
        await asyncio.sleep(0.5)
    problems = []
    difference = diff_tables(got, want)
    if difference:
        problems.append(f"tables differ from a clean run:\n{difference}")
    try:
        await assert_replay_identical(pipeline.settings)
    except AssertionError as exc:
        problems.append(str(exc))
    if problems:
        try:
            log = await census(pipeline.settings)
        except Exception as exc:  # the census is a diagnosis; never hide the problems with it
            log = f"(census failed: {type(exc).__name__}: {exc})"
        raise AssertionError("\n".join(problems) + f"\nthe topics:\n{log}\n{context}")
