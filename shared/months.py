"""The backfill month: one type, one validator, the prompt variants. Every service, the CLI and
the projector check a month here, so all of them accept and refuse the same months."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

PROMPT_VARIANTS = ("baseline", "contemporary-notable")
CONTEMPORARY_FROM_YEAR = 2020
DEFAULT_BATCH_SIZE = 20
MIN_YEAR = 1900

_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


class InvalidMonth(ValueError):
    """A month request is out of range; the message says which value and what is allowed."""


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


def month_problems(year: object, month: object, as_of: date) -> list[str]:
    """What is wrong with a backfill month as seen on `as_of` (empty if nothing): a year from
    MIN_YEAR to as_of's year, a month 1..12, not in the future. Consumers pass the event's own
    `occurred_at` date, so a replay judges an event exactly as its first delivery did."""
    problems = []
    if not isinstance(year, int) or not MIN_YEAR <= year <= as_of.year:
        problems.append(f"year {year!r} is outside {MIN_YEAR}..{as_of.year}")
    if not isinstance(month, int) or not 1 <= month <= 12:
        problems.append(f"month {month!r} is outside 1..12")
    elif isinstance(year, int) and (year, month) > (as_of.year, as_of.month):
        problems.append(f"{year}-{month:02d} is in the future")
    return problems


def check_month(year: object, month: object, as_of: date) -> YearMonth:
    """The month, or InvalidMonth naming every problem."""
    problems = month_problems(year, month, as_of)
    if problems:
        raise InvalidMonth("; ".join(problems))
    assert isinstance(year, int) and isinstance(month, int)
    return YearMonth(year, month)


@dataclass(frozen=True)
class MonthRequest:
    year: int
    month: int
    prompt_variant: str
    batch_size: int


def prompt_variant_for(year: int) -> str:
    """Recent months ask for books recognised at the time by verifiable sources."""
    return "contemporary-notable" if year >= CONTEMPORARY_FROM_YEAR else "baseline"


def validate_month_request(
    year: int, month: int, prompt_variant: str | None, batch_size: int | None, today: date
) -> MonthRequest:
    problems = month_problems(year, month, today)
    if prompt_variant is not None and prompt_variant not in PROMPT_VARIANTS:
        known = ", ".join(PROMPT_VARIANTS)
        problems.append(f"prompt variant {prompt_variant!r} is unknown (use one of: {known})")
    if batch_size is not None and not 1 <= batch_size <= 100:
        problems.append(f"batch size {batch_size} is outside 1..100")
    if problems:
        raise InvalidMonth("; ".join(problems))
    return MonthRequest(
        year=year,
        month=month,
        prompt_variant=prompt_variant or prompt_variant_for(year),
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
    )
