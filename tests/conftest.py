"""Test fixtures: the real local stack (started once per session, reused when healthy), a fresh
migrated database per test (cloned from a template), a unique topic prefix per test, and the
local Jaeger for the tests that read traces back."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from ops.devstack import jaeger as jaeger_stack
from ops.devstack import kafka, postgres
from shared.db.migrate import MIGRATIONS_DIR, apply_migrations
from shared.kafka.topics import create_topics
from shared.settings import Settings, load_settings


@pytest.fixture(scope="session")
def stack() -> Settings:
    """Start PostgreSQL and Kafka with the project's own scripts (or reuse healthy ones)."""
    base = load_settings()
    postgres.start(base)
    kafka.start(base)
    return load_settings(
        kafka_bootstrap_servers=kafka.bootstrap(base), database_url=postgres.dsn(base)
    )


@dataclass(frozen=True)
class Jaeger:
    otlp_endpoint: str  # OTLP/HTTP base URL: ALEXANDRIA_OTLP_ENDPOINT (exporters add /v1/traces)
    query_url: str  # the query API: {query_url}/api/traces?service=..., /api/traces/<trace id>


@pytest.fixture(scope="session")
def jaeger(stack: Settings) -> Jaeger:
    """The local stack's Jaeger (in-memory), started with the project's own code unless a
    healthy one answers already. Left running, like the rest of the stack."""
    if not jaeger_stack.is_healthy(stack):
        jaeger_stack.start(stack)
    return Jaeger(
        otlp_endpoint=jaeger_stack.otlp_endpoint(stack), query_url=jaeger_stack.ui_url(stack)
    )


def _dsn_for(settings: Settings, database: str) -> str:
    return settings.dsn.rsplit("/", 1)[0] + f"/{database}"


async def _admin(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(_dsn_for(settings, "postgres"))


@pytest.fixture(scope="session")
def template_database(stack: Settings) -> str:
    """A database with every migration applied, named after the migrations' content, so
    concurrent test sessions share it safely and a changed migration gets a new one."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    name = f"alexandria_tpl_{digest.hexdigest()[:12]}"

    async def exists(conn: asyncpg.Connection) -> bool:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))

    async def build() -> None:
        conn = await _admin(stack)
        try:
            await conn.execute("SELECT pg_advisory_lock(4242)")
            if not await exists(conn):
                building = f"{name}_building"
                await conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{building}"')
                await asyncio.to_thread(apply_migrations, _dsn_for(stack, building))
                await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        finally:
            await conn.execute("SELECT pg_advisory_unlock(4242)")
            await conn.close()

    asyncio.run(build())
    return name


@pytest.fixture
def empty_database_url(stack: Settings) -> Iterator[str]:
    """A brand-new database with nothing in it (for migration tests)."""
    name = f"test_empty_{uuid.uuid4().hex[:10]}"
    yield from _temporary_database(stack, name, template="template0")


@pytest.fixture
def database_url(stack: Settings, template_database: str) -> Iterator[str]:
    """A fresh database with all migrations applied, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield from _temporary_database(stack, name, template=template_database)


def _temporary_database(stack: Settings, name: str, template: str) -> Iterator[str]:
    async def run(sql: str) -> None:
        conn = await _admin(stack)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _dsn_for(stack, name)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def topic_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def settings(stack: Settings, topic_prefix: str, database_url: str) -> Settings:
    """Settings for one test: its own topics (created, 3 partitions each) and its own database."""
    test_settings = load_settings(
        kafka_bootstrap_servers=stack.kafka.bootstrap_servers,
        database_url=database_url,
        topic_prefix=topic_prefix,
        topic_partitions=3,
    )
    await create_topics(test_settings)
    return test_settings


@pytest.fixture
async def another_settings(stack: Settings, template_database: str) -> AsyncIterator[Settings]:
    """A second, independent world (database + topics) for tests that compare two runs."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    conn = await _admin(stack)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    other = load_settings(
        kafka_bootstrap_servers=stack.kafka.bootstrap_servers,
        database_url=_dsn_for(stack, name),
        topic_prefix=f"test-{uuid.uuid4().hex[:10]}",
        topic_partitions=3,
    )
    await create_topics(other)
    yield other
    conn = await _admin(stack)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
