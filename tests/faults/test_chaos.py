"""Sandbox chaos on every provider (5xx, hanging calls, per-second 429 storms, bodies cut
mid-JSON): the run ends with the tables of a clean run.

The suite runs 20 % 5xx alone and everything at once. Each fault alone is there too, opt-in
(ALEXANDRIA_FAULTS_EACH_CHAOS=1; a minute or two each), to tell which one breaks what."""

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
ALL_AT_ONCE = {
    "*": {
        "error_rate": 0.2,
        "timeout_rate": 0.05,
        "timeout_s": 6,
        "rate_limit_429": 8,
        "malformed_rate": 0.1,
    }
}
CHAOS = {"5xx": {"*": {"error_rate": 0.2}}, "all-at-once": ALL_AT_ONCE}
EACH = {
    "timeouts": {"*": {"timeout_rate": 0.1, "timeout_s": 6}},
    "429-storm": {"*": {"rate_limit_429": 3}},
    "malformed": {"*": {"malformed_rate": 0.2}},
}
each = pytest.mark.skipif(
    not os.environ.get("ALEXANDRIA_FAULTS_EACH_CHAOS"),
    reason="one chaos knob at a time: set ALEXANDRIA_FAULTS_EACH_CHAOS=1",
)


async def run_with_chaos(
    knobs: dict[str, object], pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    pipeline.env.update(SHORT_TIMEOUTS)
    faults.chaos(knobs)
    await pipeline.plan(TWELVE_MONTHS)
    pipeline.start()
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=150)


@pytest.mark.parametrize("chaos", list(CHAOS))
async def test_sandbox_chaos_gives_the_tables_of_a_clean_run(
    chaos: str, pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    await run_with_chaos(CHAOS[chaos], pipeline, faults, reference)


@each
@pytest.mark.parametrize("chaos", list(EACH))
async def test_one_chaos_knob_gives_the_tables_of_a_clean_run(
    chaos: str, pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    await run_with_chaos(EACH[chaos], pipeline, faults, reference)
