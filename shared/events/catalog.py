"""The event types: their model, schema folder, topic and partition key, declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.events.generated import (
    BooksGenerated,
    DeadLetter,
    Event,
    ISBNResolved,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
)


@dataclass(frozen=True)
class EventType:
    model: type[Event]
    folder: str  # schemas/<folder>/v<N>.avsc
    topic_suffix: str  # topic = "<prefix>.<topic_suffix>"
    key: Callable[[Any], str]  # keeps related events in one partition, in order

    @property
    def name(self) -> str:
        return self.model.__name__

    def topic(self, prefix: str) -> str:
        return f"{prefix}.{self.topic_suffix}"


def month_key(event: Any) -> str:
    return f"{event.year:04d}-{event.month:02d}"


def book_key(event: ISBNResolved) -> str:
    """By ISBN; a book without one by the stable hash of its normalised title and author."""
    return event.isbn13 or f"book:{event.book.book_id}"


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(MonthScheduled, "month_scheduled", "month-scheduled", month_key),
    EventType(BooksGenerated, "books_generated", "books-generated", month_key),
    EventType(
        MonthGenerationFailed, "month_generation_failed", "month-generation-failed", month_key
    ),
    EventType(ISBNResolved, "isbn_resolved", "isbn-resolved", book_key),
    EventType(MetadataFetched, "metadata_fetched", "metadata-fetched", lambda e: e.isbn13),
    EventType(
        DeadLetter,
        "dead_letter",
        "dead-letter",
        lambda e: f"{e.source_topic}:{e.source_partition}:{e.source_offset}",
    ),
)
BY_MODEL: dict[type[Event], EventType] = {t.model: t for t in EVENT_TYPES}
BY_FOLDER: dict[str, EventType] = {t.folder: t for t in EVENT_TYPES}
DEAD_LETTER = BY_MODEL[DeadLetter]


def event_type_of(event: Event) -> EventType:
    try:
        return BY_MODEL[type(event)]
    except KeyError:
        raise TypeError(f"{type(event).__name__} is not an event type") from None


def all_topics(prefix: str) -> list[str]:
    return [t.topic(prefix) for t in EVENT_TYPES]
