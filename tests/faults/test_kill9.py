"""kill -9 of every service at seeded random moments of a twelve-month backfill, then restart."""

from __future__ import annotations

from ops.devstack.services_proc import SERVICES
from tests.faults.harness import (
    SLOW,
    TWELVE_MONTHS,
    FaultPipeline,
    Faults,
    Reference,
    assert_recovered,
    conflicting_duplicates,
)


async def test_kill9_random_services_during_a_twelve_month_backfill(
    pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    faults.chaos(SLOW)
    await pipeline.plan(TWELVE_MONTHS)
    pipeline.start()
    kills = await faults.kill_randomly(duration_s=30, every_s=(1.0, 2.0), down_s=(0.0, 0.5))
    assert set(kills) == set(SERVICES), f"not every service was killed: {kills}\n{faults.report()}"
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=150)
    conflicts = await conflicting_duplicates(pipeline.settings)
    assert not conflicts, "\n".join(conflicts) + "\n" + faults.report()
