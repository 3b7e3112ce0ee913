"""The consumer loop every stream service runs: decode, handle a batch, publish, then commit.

Offsets are committed only after the handler returned, i.e. after everything it published was
acknowledged by the broker, so a crash redelivers rather than loses (at-least-once; derived event
ids make the redelivered outputs recognisable duplicates). Nothing is skipped silently: an
undecodable message or an event the handler rejects goes to the dead-letter topic with the
reason; a transient failure (broker, database or API down) retries the batch with backoff.
This replaces faust's agents, whose acking (on raise, in `take()`'s finally, for messages skipped
across a rebalance) cannot give that guarantee; see README "Why not faust agents".
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord

from shared.events import CodecError
from shared.events.catalog import BY_MODEL
from shared.events.generated import _Record
from shared.kafka.dead_letter import failed_message, send_to_dead_letter
from shared.kafka.options import client_options
from shared.kafka.producer import EventProducer
from shared.settings import Settings
from shared.telemetry import DEAD_LETTERS, EVENTS, HANDLE_SECONDS, LAST_COMMIT

log = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
)


class Rejected(Exception):
    """An event that can never be applied (impossible content): dead-letter it, go on."""


@dataclass(frozen=True)
class Incoming:
    event: _Record
    record: ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Reject:
    incoming: Incoming
    reason: str


Handler = Callable[[Sequence[Incoming]], Awaitable[Sequence[Reject]]]


@dataclass(frozen=True)
class WorkerSpec:
    service: str
    topics: Sequence[str]
    handle: Handler
    group_id: str = ""
    max_batch: int = 100
    max_wait_s: float = 0.0  # wait up to this long to fill a batch (the enricher's flush time)
    retry_backoff_s: tuple[float, float] = (0.5, 30.0)
    attributes: dict[str, str] = field(default_factory=dict)


class Worker:
    def __init__(self, spec: WorkerSpec, settings: Settings, producer: EventProducer) -> None:
        self.spec = spec
        self.settings = settings
        self.producer = producer
        self.codec = producer.codec
        self.stopping = asyncio.Event()
        self.consumer = AIOKafkaConsumer(
            *spec.topics,
            **client_options(settings),
            group_id=spec.group_id or f"{settings.topic_prefix}.{spec.service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=spec.max_batch,
            max_poll_interval_ms=900_000,  # an LLM batch may legitimately take minutes
        )

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while not self.stopping.is_set():
                records = await self._collect()
                if records:
                    await self._process(records)
                    await self._commit(records)
        finally:
            await self.consumer.stop()

    def stop(self) -> None:
        self.stopping.set()

    async def _collect(self) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to max_batch records; waits up to max_wait_s to fill the batch once one arrived."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline: float | None = None
        while len(records) < self.spec.max_batch and not self.stopping.is_set():
            timeout = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            batch = await self.consumer.getmany(
                timeout_ms=int(timeout * 1000), max_records=self.spec.max_batch - len(records)
            )
            for part in batch.values():
                records.extend(part)
            if records and deadline is None:
                deadline = time.monotonic() + self.spec.max_wait_s
            if deadline is not None and time.monotonic() >= deadline:
                break
            if not records:
                break
        return records

    async def _process(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        incoming: list[Incoming] = []
        for record in records:
            try:
                incoming.append(Incoming(self.codec.decode(record.value), record))
            except CodecError as exc:
                await self._dead_letter(record, exc)
        if not incoming:
            return
        started = time.monotonic()
        rejects = await self._handle_with_retries(incoming)
        HANDLE_SECONDS.labels(self.spec.service).observe(time.monotonic() - started)
        rejected = {id(r.incoming) for r in rejects}
        for reject in rejects:
            await self._dead_letter(reject.incoming.record, Rejected(reject.reason))
        for item in incoming:
            outcome = "rejected" if id(item) in rejected else "ok"
            EVENTS.labels(self.spec.service, type(item.event).__name__, outcome).inc()

    async def _handle_with_retries(self, incoming: list[Incoming]) -> list[Reject]:
        attempt = 0
        while True:
            try:
                return list(await self.spec.handle(incoming))
            except TRANSIENT as exc:
                attempt += 1
                delay = backoff(attempt, *self.spec.retry_backoff_s)
                log.warning(
                    "%s: transient %s (%s); retrying in %.1fs",
                    self.spec.service,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if self.stopping.is_set():
                    raise
                await asyncio.sleep(delay)
            except Exception as exc:
                if len(incoming) == 1:
                    log.exception("%s: handler failed on one event", self.spec.service)
                    return [Reject(incoming[0], f"handler error: {type(exc).__name__}: {exc}")]
                # A bug or bad content somewhere in the batch: find the event, keep the rest.
                rejects: list[Reject] = []
                for item in incoming:
                    rejects.extend(await self._handle_with_retries([item]))
                return rejects

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        DEAD_LETTERS.labels(self.spec.service).inc()
        await send_to_dead_letter(self.producer, failed_message(record), self.spec.service, error)

    async def _commit(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await self.consumer.commit(offsets)
            LAST_COMMIT.labels(self.spec.service).set_to_current_time()
        except CommitFailedError as exc:
            # A rebalance took the partitions: the new owner redelivers; outputs are idempotent.
            log.warning("%s: commit failed after a rebalance: %s", self.spec.service, exc)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return float(random.uniform(0, min(cap, base * 2 ** (attempt - 1))))


async def publish_all(
    producer: EventProducer, events: Sequence[_Record], headers: Sequence[tuple[str, bytes]] = ()
) -> None:
    """Send events concurrently and return once the broker acknowledged every one."""
    await asyncio.gather(*(producer.send(e, headers) for e in events))


async def run_worker(spec: WorkerSpec, settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the current batch finishes and is committed before exit."""
    async with EventProducer(settings) as producer:
        worker = Worker(spec, settings, producer)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        log.info("%s consuming %s", spec.service, ", ".join(spec.topics))
        await worker.run()


def topic_for(settings: Settings, model: type[_Record]) -> str:
    return BY_MODEL[model].topic(settings.topic_prefix)
