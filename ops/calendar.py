"""The backfill as a calendar: one row per year (newest first), one column per month, each cell
the month's status and its resolution rate. Pure: month rows in, text out
(`alexandria backfill status --calendar` reads the rows from backfill_log).

A cell is five characters, a status letter and the month's resolution rate, the share of its
generated books resolved to an ISBN or already known ((resolved + already_known) / generated,
which is backfill_log.isbns_resolved / books_generated), rounded down so 100% means every book:
`C 87%`, `C100%`, `W   -` (no book generated yet). A month not in backfill_log is `  .  `.
With colour on, each cell (and the legend) is also drawn in its status's ANSI colour; the
layout and the letters are the same either way, so the grid reads without colour too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Status -> (letter, ANSI SGR parameters), in the order the legend and totals show them.
STATUSES: dict[str, tuple[str, str]] = {
    "completed": ("C", "32"),  # green
    "processing": ("W", "36"),  # cyan: working on it
    "pending": ("P", "2"),  # dim
    "retry": ("R", "33"),  # yellow
    "failed": ("F", "1;31"),  # bold red
}
UNKNOWN = ("?", "35")  # a status this code does not know (magenta)
CELL_WIDTH = 5
EMPTY_CELL = "  .  "
YEAR_WIDTH = 4
RESET = "\x1b[0m"


@dataclass(frozen=True)
class MonthCell:
    """One backfill_log row, as the calendar needs it."""

    year: int
    month: int
    status: str
    books_generated: int = 0
    isbns_resolved: int = 0  # resolved + already known

    @property
    def rate(self) -> int | None:
        """Resolution rate in whole percent (rounded down); None before any book."""
        if self.books_generated <= 0:
            return None
        return min(100, 100 * self.isbns_resolved // self.books_generated)


def _paint(text: str, sgr: str, color: bool) -> str:
    return f"\x1b[{sgr}m{text}{RESET}" if color else text


def _style(status: str) -> tuple[str, str]:
    return STATUSES.get(status, UNKNOWN)


def render_cell(cell: MonthCell | None, *, color: bool = False) -> str:
    """Five characters (plus colour codes when `color`): letter and rate, or an empty month."""
    if cell is None:
        return EMPTY_CELL
    letter, sgr = _style(cell.status)
    rate = cell.rate
    text = f"{letter}{'-' if rate is None else f'{rate}%':>4}"
    return _paint(text, sgr, color)


def legend(*, color: bool = False) -> str:
    """Two lines: the status letters (in their colours), then what the percentage is."""
    parts = [_paint(f"{letter} {status}", sgr, color) for status, (letter, sgr) in STATUSES.items()]
    return "\n".join(
        [
            "legend: " + "  ".join([*parts, ". not planned"]),
            "        NN% = books resolved or already known / books generated (- before any book)",
        ]
    )


def totals(cells: Iterable[MonthCell]) -> str:
    """`months N: a completed, b processing, ... | books G, resolved R (x.y%)`."""
    cells = list(cells)
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell.status] = counts.get(cell.status, 0) + 1
    order = [*STATUSES, *sorted(set(counts) - set(STATUSES))]
    by_status = ", ".join(f"{counts.get(status, 0)} {status}" for status in order)
    generated = sum(cell.books_generated for cell in cells)
    resolved = sum(cell.isbns_resolved for cell in cells)
    share = f"{100 * resolved / generated:.1f}%" if generated else "-"
    return f"months {len(cells)}: {by_status} | books {generated}, resolved {resolved} ({share})"


def render_calendar(cells: Iterable[MonthCell], *, color: bool = False) -> str:
    """The grid (header, one line per year from the newest to the oldest, every year between
    them even without months), a blank line, the legend and the totals."""
    cells = list(cells)
    by_month = {(cell.year, cell.month): cell for cell in cells}
    lines = [" " * YEAR_WIDTH + "".join(f" {name:<{CELL_WIDTH}}" for name in MONTH_NAMES).rstrip()]
    if by_month:
        newest = max(year for year, _ in by_month)
        oldest = min(year for year, _ in by_month)
        for year in range(newest, oldest - 1, -1):
            row = "".join(
                " " + render_cell(by_month.get((year, month)), color=color)
                for month in range(1, 13)
            )
            lines.append(f"{year:>{YEAR_WIDTH}}{row}".rstrip())
    else:
        lines.append("(no months planned: alexandria backfill plan --from YYYY-MM --to YYYY-MM)")
    return "\n".join([*lines, "", legend(color=color), totals(cells)])
