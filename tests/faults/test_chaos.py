"""Sandbox chaos on every provider (5xx, hanging calls, per-second 429 storms, bodies cut
mid-JSON): the run ends with the tables of a clean run.

The suite runs 20 % 5xx, and the combined storm: 10 % each of 5xx, hanging calls and bodies
cut mid-JSON, with per-second 429 storms, on every provider at once. Each transient failure is
retried on its own provider and an input still failing waits for it (the batch is retried), so
no generated book, edition or work is lost or changed: every projected column equals a clean
run's, row by row (`assert_recovered`)."""

from __future__ import annotations

import os

import pytest

from tests.faults.harness import TWELVE_MONTHS, FaultPipeline, Faults, Reference, assert_recovered

# Client timeouts short enough for a hanging call to cost seconds, not a minute; the sandbox
# hangs longer than them, so the client sees a timeout rather than the late answer.
SHORT_TIMEOUTS = {
    "ALEXANDRIA_HTTP_TIMEOUT_S": "1.5",
    "ALEXANDRIA_LLM_TIMEOUT_S": "4",
    "ALEXANDRIA_WIKIDATA_TIMEOUT_S": "1.5",
}
# The storm's failures are transient: every input waits for its provider (the production
# default, 900 s), none is decided without one that is merely slow to answer.
PATIENT = {
    "ALEXANDRIA_HTTP_OUTAGE_PATIENCE_S": os.environ.get("ALEXANDRIA_HTTP_OUTAGE_PATIENCE_S", "900")
}
COMBINED_STORM = {
    "*": {
        "error_rate": 0.1,
        "timeout_rate": 0.1,
        "timeout_s": 6,
        "malformed_rate": 0.1,
        "rate_limit_429": 8,
    }
}
CHAOS = {"5xx": {"*": {"error_rate": 0.2}}, "combined-storm": COMBINED_STORM}


async def run_with_chaos(
    knobs: dict[str, object], pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    pipeline.env.update(SHORT_TIMEOUTS | PATIENT)
    faults.chaos(knobs)
    await pipeline.plan(TWELVE_MONTHS)
    pipeline.start()
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=300)


@pytest.mark.parametrize("chaos", list(CHAOS))
async def test_sandbox_chaos_gives_the_tables_of_a_clean_run(
    chaos: str, pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    await run_with_chaos(CHAOS[chaos], pipeline, faults, reference)
