"""ops/calendar.py: the backfill calendar drawn from month rows (no database)."""

from __future__ import annotations

import re

from ops.calendar import (
    CELL_WIDTH,
    EMPTY_CELL,
    MONTH_NAMES,
    STATUSES,
    MonthCell,
    render_calendar,
    render_cell,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def grid(text: str) -> list[str]:
    """The header and the year lines (everything before the blank line)."""
    return text.split("\n\n", 1)[0].splitlines()


def cells_of(line: str) -> list[str]:
    """The twelve cells of a year line, padded back to their width."""
    body = line[4:].ljust(4 + 12 * (CELL_WIDTH + 1))
    return [body[1 + i * (CELL_WIDTH + 1) :][:CELL_WIDTH] for i in range(12)]


SAMPLE = [
    MonthCell(2021, 1, "completed", books_generated=20, isbns_resolved=17),
    MonthCell(2021, 2, "completed", books_generated=20, isbns_resolved=20),
    MonthCell(2021, 3, "processing", books_generated=20, isbns_resolved=3),
    MonthCell(2021, 4, "pending"),
    MonthCell(2021, 5, "retry"),
    MonthCell(2021, 6, "failed", books_generated=10, isbns_resolved=0),
    MonthCell(2019, 12, "completed", books_generated=3, isbns_resolved=2),
]


def test_layout_rows_newest_first_twelve_columns() -> None:
    lines = grid(render_calendar(SAMPLE))
    assert lines[0].split() == list(MONTH_NAMES)
    assert [line[:4] for line in lines[1:]] == ["2021", "2020", "2019"]
    assert cells_of(lines[1]) == [
        "C 85%", "C100%", "W 15%", "P   -", "R   -", "F  0%",
        *[EMPTY_CELL] * 6,
    ]  # fmt: skip
    assert cells_of(lines[2]) == [EMPTY_CELL] * 12  # a year between, without months
    assert cells_of(lines[3]) == [EMPTY_CELL] * 11 + ["C 66%"]  # 2/3 rounded down
    # Every month name heads its column: the cell starts where the name does.
    for index, name in enumerate(MONTH_NAMES):
        assert lines[0].index(name) == 5 + index * (CELL_WIDTH + 1)
    assert max(len(line) for line in lines) <= 80


def test_legend_and_totals() -> None:
    text = render_calendar(SAMPLE)
    _, after = text.split("\n\n", 1)
    legend, explanation, totals = after.splitlines()
    for status, (letter, _) in STATUSES.items():
        assert f"{letter} {status}" in legend
    assert ". not planned" in legend
    assert "resolved or already known / books generated" in explanation
    assert totals == (
        "months 7: 3 completed, 1 processing, 1 pending, 1 retry, 1 failed | "
        "books 73, resolved 42 (57.5%)"
    )


def test_plain_text_has_no_escape_codes() -> None:
    assert "\x1b" not in render_calendar(SAMPLE)
    assert "\x1b" not in render_calendar(SAMPLE, color=False)


def test_colour_wraps_each_cell_and_keeps_the_layout() -> None:
    coloured = render_calendar(SAMPLE, color=True)
    assert ANSI.sub("", coloured) == render_calendar(SAMPLE)
    assert render_cell(SAMPLE[0], color=True) == "\x1b[32mC 85%\x1b[0m"
    assert render_cell(SAMPLE[5], color=True) == "\x1b[1;31mF  0%\x1b[0m"
    assert render_cell(None, color=True) == EMPTY_CELL  # nothing to colour
    codes = {status: f"\x1b[{sgr}m" for status, (_, sgr) in STATUSES.items()}
    year_2021 = grid(coloured)[1]
    for status in ("completed", "processing", "pending", "retry", "failed"):
        assert codes[status] in year_2021, status
    legend = coloured.split("\n\n", 1)[1].splitlines()[0]
    for status, code in codes.items():
        assert f"{code}{STATUSES[status][0]} {status}\x1b[0m" in legend


def test_unknown_status_is_marked_not_dropped() -> None:
    text = render_calendar([MonthCell(2020, 7, "archived", 4, 4)])
    assert cells_of(grid(text)[1])[6] == "?100%"
    assert "1 archived" in text.splitlines()[-1]


def test_no_months() -> None:
    text = render_calendar([])
    lines = grid(text)
    assert lines[0].split() == list(MONTH_NAMES)
    assert "no months planned" in lines[1]
    assert text.splitlines()[-1].startswith("months 0: 0 completed")
    assert text.splitlines()[-1].endswith("books 0, resolved 0 (-)")


def test_a_25_year_span() -> None:
    months = [MonthCell(year, month, "pending") for year in (2001, 2025) for month in (1, 12)]
    months += [MonthCell(2013, 6, "completed", books_generated=40, isbns_resolved=39)]
    lines = grid(render_calendar(months))
    years = [int(line[:4]) for line in lines[1:]]
    assert years == list(range(2025, 2000, -1))  # 25 rows, gaps included
    by_year = {int(line[:4]): cells_of(line) for line in lines[1:]}
    assert by_year[2025][0] == by_year[2025][11] == "P   -"
    assert by_year[2013][5] == "C 97%"
    assert by_year[2012] == [EMPTY_CELL] * 12
    assert all(len(line) <= 80 for line in lines)


def test_rate_is_rounded_down_and_capped() -> None:
    assert MonthCell(2020, 1, "completed", 3, 2).rate == 66
    assert MonthCell(2020, 1, "completed", 200, 199).rate == 99  # never shown as 100%
    assert MonthCell(2020, 1, "completed", 0, 0).rate is None
    assert render_cell(MonthCell(2020, 1, "processing", 1, 1)) == "W100%"
