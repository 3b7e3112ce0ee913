"""Fixtures of the fault tests: a FaultPipeline per test, its Faults, and the clean-run
reference shared by the session. The broker and PostgreSQL are always back up after a test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ops.devstack import kafka, postgres
from shared.settings import Settings
from tests.faults.harness import FaultPipeline, Faults, Reference

# Every service of a test's pipeline names its Kafka transactions `<group>.faults`, as a pod that
# keeps its name across container restarts would: a restarted service fences the open
# transaction of the instance it replaces at once (README: INSTANCE_ID).
FAULT_ENV = {"ALEXANDRIA_INSTANCE_ID": "faults"}


@pytest.fixture(scope="session")
async def reference(
    stack: Settings, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Reference]:
    ref = Reference(stack, template_database, tmp_path_factory.mktemp("reference"))
    try:
        yield ref
    finally:
        await ref.drop()


def ensure_stack_up(stack: Settings) -> None:
    if not postgres.is_healthy(stack):
        postgres.start(stack)
    if not kafka.is_healthy(stack):
        kafka.start(stack)


@pytest.fixture
def pipeline(settings: Settings, tmp_path: Path) -> Iterator[FaultPipeline]:
    running = FaultPipeline(settings, tmp_path / "pipeline", env=FAULT_ENV)
    running.start_sandbox()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def faults(pipeline: FaultPipeline, stack: Settings) -> AsyncIterator[Faults]:
    injector = Faults(pipeline, stack)
    try:
        yield injector
    finally:
        print(injector.report())
        # Whatever the test did, the shared broker and database are up for the next one.
        await asyncio.to_thread(ensure_stack_up, stack)
