"""Event parsing and validation for the fold: what an event says, checked, or `Invalid`.

The fold's input is a `Positioned` event; the parse functions return the checked facts a fold
function needs before it changes anything, so an impossible event leaves no trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from services.projector.logic.editions import MATCH_SOURCE_RANK, MatchEntry
from services.projector.logic.merging import to_us
from services.projector.logic.values import clean_text, is_isbn13
from shared.months import month_problems

MonthKey = tuple[int, int]
BookKey = tuple[int, int, str]
OUTCOMES = ("resolved", "unresolved", "already_known")
MAX_KEY_LENGTH = 512  # keys are btree-indexed; PostgreSQL refuses index rows past ~2.7 kB
UUID = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")
SKIPPED = "Skipped"  # Positioned.kind of a position that only advances the offset


class Invalid(ValueError):
    """The event cannot be applied; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class Positioned:
    """One decoded event and the position it was read from, the fold's input. `kind` is the
    event type's name.

    Named for its position, not `Record`: asyncpg's and aiokafka's records are other things.
    """

    topic: str
    partition: int
    offset: int
    kind: str
    event: Mapping[str, Any]

    @classmethod
    def of(cls, topic: str, partition: int, offset: int, event: BaseModel) -> Positioned:
        """From a model (tests, tools); the projector itself uses Codec.decode_raw's dict."""
        return cls(topic, partition, offset, type(event).__name__, event.model_dump())

    @classmethod
    def skipped(cls, topic: str, partition: int, offset: int) -> Positioned:
        """A position with nothing to apply (say, an undecodable message already dead-lettered):
        passing it still advances the stored offset past it."""
        return cls(topic, partition, offset, SKIPPED, {})


# --- single values -----------------------------------------------------------------------------


def _key(value: Any, what: str) -> str:
    text = clean_text(value)
    if text is None:
        raise Invalid(f"missing {what}")
    if len(text) > MAX_KEY_LENGTH:
        raise Invalid(f"{what} longer than {MAX_KEY_LENGTH} characters")
    return text


def _envelope(event: Mapping[str, Any]) -> tuple[str, datetime]:
    envelope = event["envelope"]
    event_id = envelope["event_id"]
    if not isinstance(event_id, str) or not UUID.fullmatch(event_id):
        raise Invalid(f"event_id {event_id!r} is not a UUID")
    at = envelope["occurred_at"]
    if not isinstance(at, datetime):
        raise Invalid("occurred_at is not a timestamp")
    return event_id, at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _month(year: Any, month: Any, at: datetime) -> MonthKey:
    """The shared month check as of the event's own (UTC) date, so a replay judges an event
    exactly as its first delivery did."""
    problems = month_problems(year, month, at.astimezone(UTC).date())
    if problems:
        raise Invalid("; ".join(problems))
    return year, month


def _isbn(value: Any) -> str:
    if not is_isbn13(value):
        raise Invalid(f"{value!r} is not a valid ISBN-13")
    return str(value)


def _match(event: Mapping[str, Any], at: datetime) -> MatchEntry:
    match = event["work_match"]
    source = match["source"]
    if source not in MATCH_SOURCE_RANK:
        raise Invalid(f"work_match source {source!r} is not one of {tuple(MATCH_SOURCE_RANK)}")
    confidence = match["confidence"]
    if not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise Invalid(f"work_match confidence {confidence!r} is outside 0..1")
    work_key = _key(match["work_key"], "work_match.work_key")
    return MatchEntry(float(confidence), source, work_key, to_us(at))


# --- one event type each -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metadata:
    """A checked MetadataFetched; `located` is its (month, book_id) when it names its book."""

    event_id: str
    at: datetime
    isbn: str
    match: MatchEntry
    located: tuple[MonthKey, str] | None
    author_keys: tuple[str, ...]


def _metadata_month(event: Mapping[str, Any], at: datetime) -> tuple[MonthKey, str] | None:
    year, month, book_id = event.get("year"), event.get("month"), event.get("book_id")
    if year is None and month is None and book_id is None:
        return None
    return _month(year, month, at), _key(book_id, "book_id")


def parse_metadata(event: Mapping[str, Any]) -> Metadata:
    event_id, at = _envelope(event)
    isbn = _isbn(event["isbn13"])
    match = _match(event, at)
    author_keys = []
    for facts in event["authors"]:
        author_keys.append(_key(facts["author_key"], "author_key"))
        if clean_text(facts["name"]) is None:
            raise Invalid(f"author {facts['author_key']!r} has no name")
    return Metadata(event_id, at, isbn, match, _metadata_month(event, at), tuple(author_keys))


@dataclass(frozen=True, slots=True)
class Resolution:
    """A checked ISBNResolved."""

    event_id: str
    at: datetime
    month: MonthKey
    work_key: str | None  # the synthetic work of an unresolved book


def parse_resolved(event: Mapping[str, Any]) -> Resolution:
    event_id, at = _envelope(event)
    month = _month(event["year"], event["month"], at)
    _key(event["book"]["book_id"], "book.book_id")
    outcome = event["outcome"]
    if outcome not in OUTCOMES:
        raise Invalid(f"outcome {outcome!r} is not one of {OUTCOMES}")
    if outcome == "resolved" or event.get("isbn13") is not None:
        _isbn(event.get("isbn13"))
    work_key = None
    if outcome == "unresolved":
        work_key = _key(event.get("work_key"), "work_key of an unresolved book")
    return Resolution(event_id, at, month, work_key)


def parse_month_event(event: Mapping[str, Any]) -> tuple[str, datetime, MonthKey]:
    """(event_id, occurred_at, month) of a MonthScheduled, BooksGenerated or
    MonthGenerationFailed."""
    event_id, at = _envelope(event)
    return event_id, at, _month(event["year"], event["month"], at)
