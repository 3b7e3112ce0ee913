"""Scheduler decisions: which months a plan covers, and the MonthScheduled event for a claim."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.events import MonthScheduled, make_envelope, month_correlation_id
from shared.events.envelope import derived_event_id
from shared.months import prompt_variant_for

_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True, order=True)
class YearMonth:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_year_month(text: str) -> YearMonth:
    match = _YEAR_MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2019-03")
    return YearMonth(int(match.group(1)), int(match.group(2)))


def months_between(first: YearMonth, last: YearMonth) -> list[YearMonth]:
    """Every month from first to last, inclusive, in either order given."""
    lo, hi = min(first, last), max(first, last)
    index_lo, index_hi = lo.year * 12 + lo.month - 1, hi.year * 12 + hi.month - 1
    return [YearMonth(i // 12, i % 12 + 1) for i in range(index_lo, index_hi + 1)]


def month_scheduled(
    year: int, month: int, attempt: int, batch_size: int, now: datetime
) -> MonthScheduled:
    """The event for one claim. Its id is derived from the month and attempt, so relaying the
    same outbox row twice yields one recognisable event, not two runs."""
    correlation = month_correlation_id(year, month)
    return MonthScheduled(
        envelope=make_envelope(
            MonthScheduled,
            producer="scheduler",
            correlation_id=correlation,
            event_id=derived_event_id(correlation, f"attempt-{attempt}"),
            occurred_at=now,
        ),
        year=year,
        month=month,
        prompt_variant=prompt_variant_for(year),
        batch_size=batch_size,
        attempt=attempt,
    )
