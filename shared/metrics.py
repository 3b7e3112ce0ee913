"""Every Prometheus metric the services export, in one place, with the small helpers that keep
their values right. Names and labels are what the Helm dashboard and alerts query: change them
only together with `deploy/helm`.

Each service process serves its own registry on `ALEXANDRIA_METRICS_PORT` (`serve`). The
scheduler, which holds no consumer, also refreshes the gauges read from the tables (months by
status, ISBNdb's quota left, the resolution rate) every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS = Counter(
    "alexandria_events_total",
    "Events a service consumed and handled, by event type and outcome (ok: handled and "
    "committed; rejected: dead-lettered as impossible or of a type the service does not take)",
    ["service", "event", "outcome"],
)
DEAD_LETTERS = Counter(
    "alexandria_dead_letters_total",
    "Messages a service sent to the dead-letter topic (undecodable or rejected)",
    ["service"],
)
HANDLE_SECONDS = Histogram(
    "alexandria_handle_seconds",
    "Time to handle and commit one batch, retries included",
    ["service"],
)
LAST_COMMIT = Gauge(
    "alexandria_last_commit_timestamp_seconds",
    "Unix time a service last committed a batch (its offsets advanced): the stall watch",
    ["service"],
)
PROVIDER_CALLS = Counter(
    "alexandria_provider_calls_total",
    "External API requests, retries included in one, by outcome "
    "(ok, not_found, error, unavailable, rate_limited, quota, malformed)",
    ["provider", "outcome"],
)
PROVIDER_OUTAGE = Gauge(
    "alexandria_provider_outage_seconds",
    "How long a provider has failed transiently without one answer in between (0: answering); "
    "inputs wait for it up to HTTP_OUTAGE_PATIENCE_S, then it counts as down",
    ["provider"],
)
CONSUMER_LAG = Gauge(
    "alexandria_consumer_lag",
    "Records a consumer group has still to read: high-water mark minus the consumer's position",
    ["group", "topic", "partition"],
)
QUOTA_REMAINING = Gauge(
    "alexandria_quota_remaining",
    "Calls left today in a provider's shared daily quota (limit - used; 0 once exhausted)",
    ["provider"],
)
MONTHS = Gauge(
    "alexandria_months",
    "Months in backfill_log by status",
    ["status"],
)
BOOKS = Counter(
    "alexandria_books_total",
    "Generated books the resolver decided, by outcome (resolved, unresolved, already_known)",
    ["outcome"],
)
RESOLUTION_RATE = Gauge(
    "alexandria_resolution_rate",
    "Share of generated books found (resolved or already known) over every month in "
    "backfill_log, 0-1; NaN before any book was generated",
)

MONTH_STATUSES = ("pending", "processing", "completed", "failed", "retry")


def serve(port: int, host: str) -> None:
    """Serve this process's metrics at http://host:port/metrics (0: not at all)."""
    if port:
        start_http_server(port, addr=host)


# --- consumer lag --------------------------------------------------------------------------------


class LagSource(Protocol):
    """What `ConsumerLag` needs of an AIOKafkaConsumer."""

    def assignment(self) -> Collection[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    async def position(self, partition: TopicPartition) -> int: ...


def lag(highwater: int | None, position: int | None) -> int | None:
    """Records not yet read; None while either end is unknown (nothing fetched yet)."""
    if highwater is None or position is None:
        return None
    return max(0, highwater - position)


class ConsumerLag:
    """`alexandria_consumer_lag` for one consumer group's assigned partitions. Call `update`
    after each poll and commit; a partition no longer assigned loses its series."""

    def __init__(self, group: str, position_timeout_s: float = 0.2) -> None:
        self.group = group
        self.position_timeout_s = position_timeout_s
        self.labelled: set[tuple[str, int]] = set()

    async def update(self, consumer: LagSource) -> None:
        seen: set[tuple[str, int]] = set()
        for tp in consumer.assignment():
            with contextlib.suppress(IllegalStateError, AssertionError):
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue  # not fetched yet: no high-water mark to compare with
                # position() waits while a seek is being resolved; never stall the loop for it
                with contextlib.suppress(TimeoutError):
                    position = await asyncio.wait_for(
                        consumer.position(tp), self.position_timeout_s
                    )
                    behind = lag(highwater, position)
                    if behind is not None:
                        CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(behind)
                        seen.add((tp.topic, tp.partition))
        assigned = _keys(consumer.assignment())
        for topic, partition in self.labelled - assigned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.group, topic, str(partition))
        self.labelled = (self.labelled & assigned) | seen


def _keys(tps: Iterable[TopicPartition]) -> set[tuple[str, int]]:
    return {(tp.topic, tp.partition) for tp in tps}


# --- gauges from the tables (refreshed by the scheduler) -----------------------------------------


def months_by_status(counts: Mapping[str, int]) -> dict[str, int]:
    """Every status, 0 where no month has it (a gauge must drop to 0, not vanish)."""
    return {status: int(counts.get(status, 0)) for status in MONTH_STATUSES}


def quota_remaining(limit: int, used: int, exhausted: bool) -> int:
    """Calls left today: none once the day is marked exhausted."""
    return 0 if exhausted else max(0, limit - used)


def resolution_rate(found: int, generated: int) -> float:
    """Found (resolved or already known) over generated; NaN with nothing generated, so an
    alert on a low rate stays quiet before the first month."""
    return found / generated if generated > 0 else math.nan


def set_table_gauges(
    months: Mapping[str, int],
    found: int,
    generated: int,
    quotas: Mapping[str, tuple[int, int, bool]],
) -> None:
    """Set the table-derived gauges: months per status, the resolution rate, and per provider
    (limit, used today, exhausted today) the quota left."""
    for status, n in months_by_status(months).items():
        MONTHS.labels(status).set(n)
    RESOLUTION_RATE.set(resolution_rate(found, generated))
    for provider, (limit, used, exhausted) in quotas.items():
        QUOTA_REMAINING.labels(provider).set(quota_remaining(limit, used, exhausted))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A /metrics page as {(sample name, sorted labels): value}, for tests and tooling."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out
