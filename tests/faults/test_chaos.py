"""Sandbox chaos on every provider (5xx, hanging calls, per-second 429 storms, bodies cut
mid-JSON): the run ends with the tables of a clean run.

The suite runs 20 % 5xx. Everything at once (5xx, timeouts, 429 storms, malformed JSON) does
not yet give the clean run's tables: an LLM whose answer is lost for a month leaves that
month with the other LLM's books only (see the README's limits)."""

from __future__ import annotations

import pytest

from tests.faults.harness import TWELVE_MONTHS, FaultPipeline, Faults, Reference, assert_recovered

# Client timeouts short enough for a hanging call to cost seconds, not a minute; the sandbox
# hangs longer than them, so the client sees a timeout rather than the late answer.
SHORT_TIMEOUTS = {
    "ALEXANDRIA_HTTP_TIMEOUT_S": "1.5",
    "ALEXANDRIA_LLM_TIMEOUT_S": "4",
    "ALEXANDRIA_WIKIDATA_TIMEOUT_S": "1.5",
}
CHAOS = {"5xx": {"*": {"error_rate": 0.2}}}


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
