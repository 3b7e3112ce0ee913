"""Shared set-up for the benchmarks: the local stack's settings, fresh databases and topics."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ops.devstack import kafka, postgres
from shared.db.migrate import apply_migrations
from shared.kafka.topics import create_topics
from shared.settings import Settings, load_settings


def stack_settings(**overrides: object) -> Settings:
    """Start (or reuse) the local stack and return settings aimed at it."""
    base = load_settings()
    postgres.start(base)
    kafka.start(base)
    return load_settings(
        kafka_bootstrap_servers=kafka.bootstrap(base), database_url=postgres.dsn(base), **overrides
    )


@asynccontextmanager
async def fresh_world(base: Settings, partitions: int = 6) -> AsyncIterator[Settings]:
    """A migrated database and topics of their own, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base.dsn.rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = base.dsn.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(apply_migrations, dsn)
    settings = load_settings(
        kafka_bootstrap_servers=base.kafka.bootstrap_servers,
        database_url=dsn,
        topic_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        topic_partitions=partitions,
    )
    await create_topics(settings)
    try:
        yield settings
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]


@dataclass(frozen=True)
class Figure:
    """One line of `make bench`'s table: a measured figure, the floor measured in the same run
    (if the goal is relative to one), the goal and whether it was met."""

    name: str  # what was measured, with its size: "known-books query p50, 50 vs 1M editions"
    value: float
    unit: str  # "ms", "events/s", "MB", "ratio", ...
    goal: str  # as the issue states it: "< 50 ms", ">= 0.5 of floor"
    met: bool
    floor: float | None = None  # in the same unit as value, measured in the same run
    floor_name: str = ""  # "50 primary-key lookups"

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None
