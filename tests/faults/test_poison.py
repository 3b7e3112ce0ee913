"""A valid-Avro event with impossible content (month 13, an impossible ISBN) on every topic,
published mid-run: each of its consumers dead-letters it with the reason, the run goes on, and
nothing of it reaches the tables."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.faults.harness import (
    CONSUMERS,
    SLOW,
    TWELVE_MONTHS,
    FaultPipeline,
    Faults,
    Reference,
    assert_recovered,
    dead_letters,
    impossible_events,
)


def names(reason: str, what: str) -> bool:
    """Whether a dead letter's reason says what is wrong: the ISBN, or month 13."""
    if what == "month 13":
        return re.search(r"month\W{1,3}13\b", reason) is not None
    return what in reason


async def test_impossible_events_on_every_topic_are_dead_lettered_and_the_run_goes_on(
    pipeline: FaultPipeline, faults: Faults, reference: Reference
) -> None:
    faults.chaos(SLOW)
    await pipeline.plan(TWELVE_MONTHS)
    pipeline.start()
    await faults.until_completed(1)
    poison = impossible_events()
    placed: dict[tuple[str, int, int], tuple[str, str]] = {}
    for suffix, events in poison.items():
        for event, where in zip(events, await faults.poison(events), strict=True):
            isbn = getattr(event, "isbn13", None)
            impossible = "month 13" if getattr(event, "month", None) == 13 else isbn
            placed[where] = (suffix, impossible or "?")
    await assert_recovered(pipeline, reference, faults=faults, timeout_s=120)

    letters = await dead_letters(pipeline.settings)
    by_source: dict[tuple[str, int, int], dict[str, str]] = defaultdict(dict)
    for letter in letters:
        source = (letter.source_topic, letter.source_partition, letter.source_offset)
        by_source[source][letter.consumer] = letter.reason
        faults.note(f"dead letter {source} by {letter.consumer}: {letter.reason:.160}")
    problems = []
    for where, (suffix, what) in sorted(placed.items()):
        for consumer in CONSUMERS[suffix]:
            reason = by_source.get(where, {}).get(consumer)
            if reason is None:
                problems.append(f"{consumer} did not dead-letter the poison at {where} ({what})")
            elif not names(reason, what):
                problems.append(f"{consumer}'s reason for {where} does not name {what}: {reason}")
    others = {s: c for s, c in by_source.items() if s not in placed}
    for source, reasons in sorted(others.items()):
        problems.append(f"dead letter for a position that is not a poison: {source} {reasons}")
    assert not problems, "\n".join(problems) + "\n" + faults.report()
