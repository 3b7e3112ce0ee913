"""Rules about backfill months shared by the scheduler and the CLI: variants and valid ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

PROMPT_VARIANTS = ("baseline", "contemporary-notable")
CONTEMPORARY_FROM_YEAR = 2020
DEFAULT_BATCH_SIZE = 20
MIN_YEAR = 1900


class InvalidMonth(ValueError):
    """A month request is out of range; the message says which value and what is allowed."""


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
    problems = []
    if not MIN_YEAR <= year <= today.year:
        problems.append(f"year {year} is outside {MIN_YEAR}..{today.year}")
    if not 1 <= month <= 12:
        problems.append(f"month {month} is outside 1..12")
    elif year == today.year and month > today.month:
        problems.append(f"{year}-{month:02d} is in the future")
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
