"""The shared Kafka broker, then PostgreSQL, stopped and restarted in the middle of a run.

Both are the local stack's own (127.0.0.1:19092, :15432): stopping them affects whatever runs
at that moment, which is fine in a serial pytest run. They are always started again, also when
the test fails (Faults' context managers and the `faults` fixture).

Half of the months are planned while the broker is down, so the scheduler claims them into its
outbox and has to relay them across the outage."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.harness import (
    SLOW,
    TWELVE_MONTHS,
    FaultPipeline,
    Faults,
    Reference,
    assert_recovered,
)

DOWN = [pytest.param(8.0, id="8s")]


@pytest.mark.parametrize("down_s", DOWN)
async def test_kafka_broker_stopped_and_restarted_mid_run(
    down_s: float, pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    faults.chaos(SLOW)
    first, second = TWELVE_MONTHS[::2], TWELVE_MONTHS[1::2]
    await pipeline.plan(first)
    pipeline.start()
    await faults.until_completed(1)
    async with faults.broker_outage():
        await pipeline.plan(second)
        faults.note(f"planned {len(second)} more months while the broker is down")
        await asyncio.sleep(down_s)
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=150)


@pytest.mark.parametrize("down_s", DOWN)
async def test_postgresql_stopped_and_restarted_mid_run(
    down_s: float, pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    faults.chaos(SLOW)
    await pipeline.plan(TWELVE_MONTHS)
    pipeline.start()
    await faults.until_completed(2)
    async with faults.database_outage():
        await asyncio.sleep(down_s)
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=150)
