"""Turns the LLMs' answers for one MonthScheduled into BooksGenerated or MonthGenerationFailed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.generator.logic import dedup_books
from shared.events import (
    BooksGenerated,
    LLMCall,
    MonthGenerationFailed,
    MonthScheduled,
    derived_envelope,
)
from shared.providers.models import LLMBook


@dataclass(frozen=True)
class Answer:
    """One provider's reply (or failure) for one month."""

    provider: str
    model: str
    books: tuple[LLMBook, ...] | None  # None: the provider failed
    error: str | None
    duration_ms: int


def generation_outcome(
    scheduled: MonthScheduled, answers: Sequence[Answer], now: datetime
) -> BooksGenerated | MonthGenerationFailed:
    """Books of every provider that answered, deduplicated; a failure only if none answered."""
    calls = [
        LLMCall(
            provider=a.provider,
            model=a.model,
            calls=1,
            books_returned=len(a.books) if a.books is not None else 0,
            duration_ms=a.duration_ms,
            error=a.error,
        )
        for a in answers
    ]
    answered = {a.provider: list(a.books) for a in answers if a.books is not None}
    if not answered:
        reasons = "; ".join(f"{a.provider}: {a.error}" for a in answers) or "no LLM configured"
        return MonthGenerationFailed(
            envelope=derived_envelope(
                MonthGenerationFailed,
                scheduled.envelope,
                producer="generator",
                item="failed",
                occurred_at=now,
            ),
            year=scheduled.year,
            month=scheduled.month,
            attempt=scheduled.attempt,
            reason=f"every LLM failed ({reasons})",
            provider_calls=calls,
        )
    return BooksGenerated(
        envelope=derived_envelope(
            BooksGenerated, scheduled.envelope, producer="generator", item="books", occurred_at=now
        ),
        year=scheduled.year,
        month=scheduled.month,
        prompt_variant=scheduled.prompt_variant,
        attempt=scheduled.attempt,
        books=dedup_books(answered),
        provider_calls=calls,
    )
