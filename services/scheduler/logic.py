"""Scheduler decisions: the MonthScheduled event for a claim."""

from __future__ import annotations

from datetime import datetime

from shared.events import MonthScheduled, make_envelope, month_correlation_id
from shared.events.envelope import derived_event_id
from shared.months import prompt_variant_for


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
