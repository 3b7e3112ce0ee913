"""The projector service: folds every event topic into PostgreSQL, its offsets kept in the same
transaction as its writes (docs/architecture.md §3).

Kafka only assigns partitions here (a consumer group, so replicas split them); nothing is
committed to Kafka. On assignment each partition is sought to the next offset recorded in
`projector_offsets`, so a crash at any point loses nothing and applies nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence

import asyncpg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from services.projector.logic.events import SKIPPED, Positioned
from services.projector.logic.months import MonthRules
from services.projector.store import BatchResult, LostRace, apply_batch, load_offsets
from shared.db.pool import create_pool
from shared.events import DEAD_LETTER, EVENT_TYPES, Codec, CodecError
from shared.kafka.consumer import make_consumer
from shared.kafka.dead_letter_sender import failed_message, send_to_dead_letter
from shared.kafka.producer import EventProducer
from shared.kafka.worker import TRANSIENT, UNDECODABLE, backoff
from shared.metrics import DEAD_LETTERS, EVENTS, HANDLE_SECONDS, LAST_COMMIT, ConsumerLag
from shared.service import until_signalled
from shared.settings import Settings
from shared.tracing import by_trace, links_to

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.projector")

SERVICE = "projector"
RETRIED: tuple[type[BaseException], ...] = (*TRANSIENT, LostRace)
BATCH = 2000


def consumer_name(settings: Settings) -> str:
    return f"{settings.topics.prefix}.{SERVICE}"


def projected_topics(settings: Settings) -> list[str]:
    return [t.topic(settings.topics.prefix) for t in EVENT_TYPES if t is not DEAD_LETTER]


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to do: a batch in flight commits its own offsets or none."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        attempt = 0
        while True:  # the database may be down: wait for it rather than guess a position
            try:
                await self.projector.seek(assigned)
                return
            except RETRIED as exc:
                attempt += 1
                delay = backoff(attempt, 0.5, 30.0)
                log.warning(
                    "cannot read stored offsets (%s); retrying in %.1fs", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)


class Projector:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        producer: EventProducer,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.name = consumer_name(settings)
        self.pool = pool
        self.producer = producer
        self.codec = producer.codec
        self.stopping = stopping or asyncio.Event()
        # A partition with no stored offset starts at its beginning (see make_consumer).
        self.consumer = make_consumer(settings, group_id=self.name, max_poll_records=BATCH)
        self.topics = projected_topics(settings)
        self.lag = ConsumerLag(self.name)
        # Next offset this consumer stored per partition, to notice when someone else moved it.
        self.applied: dict[tuple[str, int], int] = {}
        self.rules = MonthRules(
            max_attempts=settings.scheduler.max_attempts,
            backoff_base_minutes=settings.scheduler.retry_backoff_base_s / 60,
            backoff_max_minutes=settings.scheduler.retry_backoff_max_s / 60,
        )

    async def seek(self, assigned: Sequence[TopicPartition]) -> None:
        stored = await load_offsets(self.pool, self.name)
        for tp in assigned:
            self.applied.pop((tp.topic, tp.partition), None)
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)

    async def run(self) -> None:
        self.consumer.subscribe(self.topics, listener=SeekToStoredOffsets(self))
        await self.consumer.start()
        try:
            while not self.stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=1000, max_records=BATCH)
                records = [r for part in batch.values() for r in part]
                if records:
                    await self.apply(records)
                await self.lag.update(self.consumer)  # after each poll, and each commit
        finally:
            await self.consumer.stop()

    async def apply(self, raw: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply one batch, traced: an "apply batch" span of its own (linked to every event's
        context; the SQL statements nest under it) and, once committed, a "project month" span
        in each trace the batch's events came from, so a month's trace ends in the projector."""
        started = time.time_ns()
        with tracer.start_as_current_span(
            "apply batch",
            context=otel_context.Context(),
            links=links_to([m.headers for m in raw]),
            attributes={"events": len(raw)},
        ) as span:
            records, result = await self._apply(raw)
            span.set_attributes(
                {
                    "applied": result.applied,
                    "skipped": result.skipped,
                    "rejected": len(result.rejects),
                }
            )
        project_spans(raw, records, result, started, span.get_span_context())

    async def _apply(
        self, raw: list[ConsumerRecord[bytes, bytes]]
    ) -> tuple[list[Positioned], BatchResult]:
        started = time.monotonic()
        records = []
        for message in raw:
            try:
                event_type, event = self.codec.decode_raw(message.value)
            except CodecError as exc:
                await self.dead_letter(message, exc)
                # Parked: advance past it with the batch, so a restart does not park it again.
                records.append(Positioned.skipped(message.topic, message.partition, message.offset))
                continue
            records.append(
                Positioned(message.topic, message.partition, message.offset, event_type.name, event)
            )
        attempt = 0
        while True:
            try:
                records = await self.rewind_if_behind(records)
                result = await apply_batch(self.pool, self.name, records, rules=self.rules)
                break
            except RETRIED as exc:
                attempt += 1
                delay = backoff(attempt, 0.5, 30.0)
                log.warning(
                    "apply failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                # The pool may have lost connections; offsets in the database are still right.
        for record in records:
            key = (record.topic, record.partition)
            self.applied[key] = max(self.applied.get(key, 0), record.offset + 1)
        by_offset = {(m.topic, m.partition, m.offset): m for m in raw}
        for reject in result.rejects:
            r = reject.record
            await self.dead_letter(
                by_offset[(r.topic, r.partition, r.offset)], RejectedEvent(reject.reason)
            )
        rejected = {(r.record.topic, r.record.partition, r.record.offset) for r in result.rejects}
        for record in records:
            position = (record.topic, record.partition, record.offset)
            if record.kind == SKIPPED:  # undecodable, dead-lettered above
                EVENTS.labels(SERVICE, UNDECODABLE, "dead_letter").inc()
            else:  # a redelivery (after a rebalance) is a duplicate, not a second event
                outcome = (
                    "duplicate"
                    if position in result.stale
                    else "rejected"
                    if position in rejected
                    else "ok"
                )
                EVENTS.labels(SERVICE, record.kind, outcome).inc()
        HANDLE_SECONDS.labels(SERVICE).observe(time.monotonic() - started)
        LAST_COMMIT.labels(SERVICE).set_to_current_time()
        log.info(
            "applied %d events (%d already applied, %d rejected) in %.0f ms",
            result.applied,
            result.skipped,
            len(result.rejects),
            (time.monotonic() - started) * 1000,
        )
        return records, result

    async def rewind_if_behind(self, records: list[Positioned]) -> list[Positioned]:
        """If the stored offsets moved under this consumer (the tables were swapped by
        `alexandria replay`), seek back to them and drop those partitions' records from this
        batch: the events in between must be applied to the new tables too."""
        stored = await load_offsets(self.pool, self.name)
        moved = {
            key
            for key in {(r.topic, r.partition) for r in records}
            if key in self.applied and stored.get(key) != self.applied[key]
        }
        for topic, partition in moved:
            tp = TopicPartition(topic, partition)
            if (topic, partition) in stored:
                self.consumer.seek(tp, stored[(topic, partition)])
            else:
                await self.consumer.seek_to_beginning(tp)
            del self.applied[(topic, partition)]
            log.warning(
                "%s[%d]: stored offset moved to %s; rewound",
                topic,
                partition,
                stored.get((topic, partition), "the beginning"),
            )
        return [r for r in records if (r.topic, r.partition) not in moved]

    async def dead_letter(self, message: ConsumerRecord[bytes, bytes], error: Exception) -> None:
        DEAD_LETTERS.labels(SERVICE).inc()
        await send_to_dead_letter(self.producer, failed_message(message), SERVICE, error)


def project_spans(
    raw: Sequence[ConsumerRecord[bytes, bytes]],
    records: Sequence[Positioned],
    result: BatchResult,
    started_ns: int,
    batch: SpanContext,
) -> None:
    """One "project month" span per distinct trace among the batch's events, its parent that
    trace's context: the month (or months), its events by type, how many were rejected."""
    position = {(r.topic, r.partition, r.offset): r for r in records}
    rejected = {(r.record.topic, r.record.partition, r.record.offset) for r in result.rejects}
    for context, indexes in by_trace([m.headers for m in raw]).values():
        kinds: Counter[str] = Counter()
        months: set[str] = set()
        rejects = 0
        for i in indexes:
            key = (raw[i].topic, raw[i].partition, raw[i].offset)
            record = position.get(key)
            if record is None:  # dropped by a rewind: applied in a later batch
                continue
            kinds[record.kind] += 1
            rejects += key in rejected
            year, month = record.event.get("year"), record.event.get("month")
            if isinstance(year, int) and isinstance(month, int):
                months.add(f"{year:04d}-{month:02d}")
        if not kinds:
            continue
        attributes: dict[str, str | int | list[str]] = {
            f"events.{kind}": n for kind, n in sorted(kinds.items())
        }
        attributes["events"] = sum(kinds.values())
        attributes["rejected"] = rejects
        if len(months) == 1:
            attributes["month"] = next(iter(months))
        elif months:
            attributes["months"] = sorted(months)
        span = tracer.start_span(
            "project month",
            context=context,
            links=[Link(batch)],
            attributes=attributes,
            start_time=started_ns,
        )
        if rejects:
            span.add_event("events rejected", {"count": rejects})
        span.end()


class RejectedEvent(Exception):
    """An event the fold cannot apply (impossible content)."""


async def run(settings: Settings) -> None:
    pool = await create_pool(settings, max_size=4)
    try:
        async with EventProducer(settings, Codec()) as producer:
            projector = Projector(settings, pool, producer, until_signalled())
            log.info("projector folding %s", ", ".join(projector.topics))
            await projector.run()
    finally:
        await pool.close()
