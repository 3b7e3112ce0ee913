"""The premise of every fault test: a clean run's tables are a function of its input (months and
sandbox seed), not of the order in which the services happened to get through the months.

Twelve adjacent months, planned all at once in one world, and in another the odd months first
and, once they are done, the even ones. The sandbox's LLMs sometimes name a book of the adjacent
month, so this is where the order shows if it matters."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import ADJACENT_MONTHS, FaultPipeline, census, diff_tables
from tests.harness import table_contents


async def test_twelve_adjacent_months_at_once_or_odd_then_even_give_the_same_tables(
    settings, another_settings, tmp_path: Path
) -> None:
    at_once = FaultPipeline(settings, tmp_path / "at-once")
    at_once.start_sandbox()
    try:
        await at_once.plan(ADJACENT_MONTHS)
        at_once.start()
        assert await at_once.wait_until_settled(120) == {"completed": 12}
    finally:
        at_once.stop()

    in_halves = FaultPipeline(another_settings, tmp_path / "odd-then-even", seed=at_once.seed)
    in_halves.start_sandbox()
    try:
        in_halves.start()
        await in_halves.plan([m for m in ADJACENT_MONTHS if m.month % 2])
        assert await in_halves.wait_until_settled(120) == {"completed": 6}
        await in_halves.plan([m for m in ADJACENT_MONTHS if not m.month % 2])
        assert await in_halves.wait_until_settled(120) == {"completed": 12}
    finally:
        in_halves.stop()

    difference = diff_tables(
        await table_contents(another_settings.dsn), await table_contents(settings.dsn)
    )
    assert not difference, (
        "odd then even ('only here') vs all at once ('only in clean'):\n"
        f"{difference}\nall at once:\n{await census(settings)}\n"
        f"odd then even:\n{await census(another_settings)}"
    )
