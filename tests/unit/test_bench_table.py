"""`make bench`'s table: each figure's ratio to its same-run floor and whether its goal was met."""

from __future__ import annotations

import pytest

from bench.__main__ import main, table
from bench.common import Figure


def test_table_shows_ratio_goal_and_met() -> None:
    rows = table(
        [
            Figure("fold", 20_000, "events/s", ">= 0.5 of floor", True, 35_000, "raw upsert"),
            Figure("p50", 6400.0, "ms", "< 50 ms", False),
        ]
    ).splitlines()
    assert rows[0].startswith("| figure | value | floor")
    assert rows[2] == (
        "| fold | 20,000 events/s | 35,000 events/s (raw upsert) | 0.571 | >= 0.5 of floor | yes |"
    )
    assert rows[3] == "| p50 | 6,400 ms |  |  | < 50 ms | **no** |"


def test_unknown_benchmark_is_named_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "projector,nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark(s): nope" in err and "dedup_query" in err
