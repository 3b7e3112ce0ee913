"""The consumer loop every stream service runs: decode, handle a batch, publish, commit.

Kafka-to-Kafka services are exactly-once: the events a batch produces, its dead letters and the
consumed offsets are committed in one Kafka transaction, so a crash aborts half-done work
instead of duplicating it (downstream consumers read `read_committed`). Nothing is skipped
silently: an undecodable message, an event of a type the service does not accept, or one the
handler rejects goes to the dead-letter topic with the reason; a transient failure (broker,
database or API down) aborts the transaction and retries the batch with backoff; an unexpected
error isolates the event that caused it.
This replaces faust's agents, whose acking (on raise, in `take()`'s finally, for messages
skipped across a rebalance) cannot give these guarantees (docs/architecture.md §8).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from shared.events import CodecError
from shared.events.catalog import BY_MODEL
from shared.events.generated import Event
from shared.kafka.consumer import make_consumer
from shared.kafka.dead_letter_sender import failed_message, send_to_dead_letter
from shared.kafka.producer import EventProducer
from shared.metrics import DEAD_LETTERS, EVENTS, HANDLE_SECONDS, LAST_COMMIT, ConsumerLag
from shared.providers.errors import ProviderStillFailing
from shared.service import until_signalled
from shared.settings import Settings

log = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    # A pooled connection left mid-operation when the server went away ("cannot switch to
    # state 12; another operation is in progress", seen once in the PostgreSQL outage test).
    asyncpg.InternalClientError,
    # A provider failing within its outage patience: the input waits for it (outage.py).
    ProviderStillFailing,
)


UNDECODABLE = "undecodable"  # the `event` label of a message that is no event at all


class Rejected(Exception):
    """An event that can never be applied (impossible content): dead-letter it, go on."""


@dataclass(frozen=True)
class Incoming:
    event: Event
    record: ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Reject:
    incoming: Incoming
    reason: str


Handler = Callable[[Sequence[Incoming], EventProducer], Awaitable[Sequence[Reject]]]


@dataclass(frozen=True)
class WorkerSpec:
    service: str
    topics: Sequence[str]
    handle: Handler  # publishes its outputs with the producer it is given; returns rejects
    accepts: tuple[type[Event], ...] | None = None  # event types `handle` gets (None: every type)
    max_batch: int = 100
    max_wait_s: float = 0.0  # wait up to this long to fill a batch (the enricher's flush time)
    # Ends that wait early: true once the events in hand make a whole batch (the enricher: every
    # book of each month in hand). Undecodable records are left out of what it is shown.
    complete: Callable[[Sequence[Event]], bool] | None = None
    retry_backoff_s: tuple[float, float] = (0.5, 30.0)
    # Called after each committed transaction: for counts that a retried batch must not double.
    committed: Callable[[], None] | None = None


def group_id(settings: Settings, service: str) -> str:
    return f"{settings.topics.prefix}.{service}"


def transactional_id(settings: Settings, service: str) -> str:
    """Stable per instance, so a restarted instance fences its predecessor's open transaction
    at once instead of readers waiting for its timeout."""
    instance = settings.kafka.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    return f"{group_id(settings, service)}.{instance}"


class Worker:
    def __init__(
        self,
        spec: WorkerSpec,
        settings: Settings,
        producer: EventProducer,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.group_id = group_id(settings, spec.service)
        self.producer = producer
        self.codec = producer.codec
        self.stopping = stopping or asyncio.Event()
        self.consumer = make_consumer(
            settings,
            *spec.topics,
            group_id=self.group_id,
            max_poll_records=spec.max_batch,
            max_poll_interval_ms=900_000,  # an LLM batch may legitimately take minutes
        )
        self.lag = ConsumerLag(self.group_id)

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while not self.stopping.is_set():
                records = await self._collect()
                if records:
                    await self._process(records)
                await self.lag.update(self.consumer)  # after each poll, and each commit
        finally:
            await self.consumer.stop()

    def stop(self) -> None:
        self.stopping.set()

    async def _collect(self) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to max_batch records; waits up to max_wait_s to fill the batch once one arrived,
        unless `spec.complete` says the events in hand are a whole batch already."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        events: list[Event] = []
        deadline: float | None = None
        while len(records) < self.spec.max_batch and not self.stopping.is_set():
            timeout = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            batch = await self.consumer.getmany(
                timeout_ms=int(timeout * 1000), max_records=self.spec.max_batch - len(records)
            )
            fresh = [r for part in batch.values() for r in part]
            records.extend(fresh)
            if not records:
                break
            if deadline is None:
                deadline = time.monotonic() + self.spec.max_wait_s
            if time.monotonic() >= deadline:
                break
            if self.spec.complete is not None:
                events.extend(self._peek(fresh))
                if self.spec.complete(events):
                    break
        return records

    def _peek(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Event]:
        """The decodable events among `records` (the transaction decodes them again and
        dead-letters the rest)."""
        events: list[Event] = []
        for record in records:
            try:
                events.append(self.codec.decode(record.value))
            except CodecError:
                continue
        return events

    async def _process(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        started = time.monotonic()
        attempt, isolate = 0, False
        while True:
            try:
                await self._transaction(records, isolate)
                break
            except TRANSIENT as exc:
                attempt += 1
                delay = backoff(attempt, *self.spec.retry_backoff_s)
                log.warning(
                    "%s: transient %s (%s); retrying the batch in %.1fs",
                    self.spec.service,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if self.stopping.is_set():
                    raise
                await asyncio.sleep(delay)
            except _HandlerBug:
                isolate = True  # retry one event per transaction to find the culprit
        HANDLE_SECONDS.labels(self.spec.service).observe(time.monotonic() - started)
        LAST_COMMIT.labels(self.spec.service).set_to_current_time()

    async def _transaction(
        self, records: list[ConsumerRecord[bytes, bytes]], isolate: bool
    ) -> None:
        groups = [[r] for r in records] if isolate else [records]
        for group in groups:
            async with self.producer.transaction():
                incoming = [i for r in group if (i := await self._decode(r)) is not None]
                accepted, unhandled = sort_accepted(self.spec, incoming)
                rejects = [*unhandled, *await self._handle(accepted, isolated=isolate)]
                for reject in rejects:
                    await self._dead_letter(reject.incoming.record, Rejected(reject.reason))
                await self.producer.send_offsets(next_offsets(group), self.group_id)
            if self.spec.committed is not None:
                self.spec.committed()
            rejected = {id(r.incoming) for r in rejects}
            for item in incoming:
                outcome = "rejected" if id(item) in rejected else "ok"
                EVENTS.labels(self.spec.service, type(item.event).__name__, outcome).inc()
            if undecodable := len(group) - len(incoming):
                EVENTS.labels(self.spec.service, UNDECODABLE, "dead_letter").inc(undecodable)

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> Incoming | None:
        try:
            return Incoming(self.codec.decode(record.value), record)
        except CodecError as exc:
            await self._dead_letter(record, exc)
            return None

    async def _handle(self, incoming: list[Incoming], isolated: bool) -> Sequence[Reject]:
        if not incoming:
            return ()
        try:
            return await self.spec.handle(incoming, self.producer)
        except TRANSIENT:
            raise
        except Exception as exc:
            if not isolated:
                log.warning(
                    "%s: handler error in a batch of %d (%s); isolating",
                    self.spec.service,
                    len(incoming),
                    type(exc).__name__,
                )
                raise _HandlerBug from exc
            log.exception("%s: handler failed on one event", self.spec.service)
            return [Reject(incoming[0], f"handler error: {type(exc).__name__}: {exc}")]

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        DEAD_LETTERS.labels(self.spec.service).inc()
        await send_to_dead_letter(self.producer, failed_message(record), self.spec.service, error)


class _HandlerBug(Exception):
    """An unexpected (non-transient) handler error in a batch of several events."""


def sort_accepted(
    spec: WorkerSpec, incoming: Sequence[Incoming]
) -> tuple[list[Incoming], list[Reject]]:
    """(the events the service handles, a reject for each event of a type it does not), in
    order: the handler only ever sees the types in `spec.accepts`."""
    if spec.accepts is None:
        return list(incoming), []
    accepted: list[Incoming] = []
    unhandled: list[Reject] = []
    for item in incoming:
        if isinstance(item.event, spec.accepts):
            accepted.append(item)
        else:
            reason = f"{spec.service} does not handle {type(item.event).__name__}"
            unhandled.append(Reject(item, reason))
    return accepted, unhandled


def next_offsets(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return float(random.uniform(0, min(cap, base * 2 ** (attempt - 1))))


def topic_for(settings: Settings, model: type[Event]) -> str:
    return BY_MODEL[model].topic(settings.topics.prefix)


async def run_worker(spec: WorkerSpec, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the batch in hand finishes and commits before exit."""
    producer = EventProducer(settings, transactional_id=transactional_id(settings, spec.service))
    async with producer:
        worker = Worker(spec, settings, producer, until_signalled())
        log.info("%s consuming %s", spec.service, ", ".join(spec.topics))
        await worker.run()
