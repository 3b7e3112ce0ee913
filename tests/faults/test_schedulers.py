"""Four schedulers at once: FOR UPDATE SKIP LOCKED and the outbox give every month one claim and
one MonthScheduled per attempt, however the four interleave."""

from __future__ import annotations

import asyncio
from collections import Counter

from shared.events import MonthScheduled
from tests.faults.harness import (
    TWELVE_MONTHS,
    FaultPipeline,
    Faults,
    Reference,
    assert_recovered,
    events_on,
)


async def test_four_schedulers_schedule_every_month_exactly_once(
    pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    # Small claims, short interval: the four keep ticking into one another while months are due.
    pipeline.env["ALEXANDRIA_SCHEDULER_MONTHS_PER_TICK"] = "2"
    pipeline.env["ALEXANDRIA_SCHEDULER_INTERVAL_S"] = "0.2"
    pipeline.start()
    faults.schedulers(4)
    await asyncio.sleep(3)  # all four are up and ticking on an empty plan
    await pipeline.plan(TWELVE_MONTHS)
    faults.note("planned twelve months")
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=120)

    scheduled = [e for _, e in await events_on(pipeline.settings, "month-scheduled")]
    per_attempt = Counter(
        (e.year, e.month, e.attempt) for e in scheduled if isinstance(e, MonthScheduled)
    )
    assert per_attempt == {(m.year, m.month, 1): 1 for m in TWELVE_MONTHS}, per_attempt

    claimed_by = {
        name: pipeline.log_text(name).count('"claimed ')
        for name in ("scheduler", *pipeline.replicas)
    }
    faults.note(f"claims per scheduler: {claimed_by}")
    assert sum(1 for n in claimed_by.values() if n) >= 2, (
        f"one scheduler claimed everything, the race did not happen: {claimed_by}"
    )
