"""The projector's fold: decoded events applied to plain-dict rows, one function per event type.

No I/O: `store.py` loads the rows the events touch into a `State`, calls `fold`, and writes back
what changed. Each event function validates first and changes the State only once everything is
computed, so an event that cannot be applied is returned as a `Reject` and leaves no trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from services.projector import months as month_rules
from services.projector.contributions import (
    author_rows,
    clamp,
    clean_text,
    edition_row,
    is_isbn13,
    provider_of,
    quality_of,
    synthetic_work_row,
    work_row,
)
from services.projector.merge import (
    MATCH_SOURCE_RANK,
    SOURCE_RANK,
    Entry,
    Row,
    merge_author,
    merge_edition,
    merge_month_book,
    merge_work,
    to_us,
)
from services.projector.months import MonthRules

MonthKey = tuple[int, int]
BookKey = tuple[int, int, str]
OUTCOMES = ("resolved", "unresolved", "already_known")
MAX_KEY_LENGTH = 512  # keys are btree-indexed; PostgreSQL refuses index rows past ~2.7 kB
UUID = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")
# Bookkeeping columns: a change to these alone is not a change worth an enrichment_log row.
NOT_LOGGED = frozenset(
    {"provenance", "created_at", "updated_at", "last_isbndb_sync", "work_match_at"}
)
KEY_COLUMNS = {"edition": "isbn", "work": "work_key", "author": "author_key"}
SKIPPED = "Skipped"  # Record.kind of a position that only advances the offset
NOT_PROJECTED = ("DeadLetter", SKIPPED)


class Invalid(ValueError):
    """The event cannot be applied; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded event and where it was read from. `kind` is the event type's name."""

    topic: str
    partition: int
    offset: int
    kind: str
    event: Mapping[str, Any]

    @classmethod
    def of(cls, topic: str, partition: int, offset: int, event: BaseModel) -> Record:
        """From a model (tests, tools); the projector itself uses Codec.decode_raw's dict."""
        return cls(topic, partition, offset, type(event).__name__, event.model_dump())

    @classmethod
    def skipped(cls, topic: str, partition: int, offset: int) -> Record:
        """A position with nothing to apply (say, an undecodable message already dead-lettered):
        passing it still advances the stored offset past it."""
        return cls(topic, partition, offset, SKIPPED, {})


@dataclass(frozen=True, slots=True)
class Reject:
    record: Record
    reason: str


@dataclass
class State:
    """The rows a batch touches, keyed like their tables, plus the log rows it produced."""

    editions: dict[str, Row] = field(default_factory=dict)
    works: dict[str, Row] = field(default_factory=dict)
    authors: dict[str, Row] = field(default_factory=dict)
    months: dict[MonthKey, Row] = field(default_factory=dict)
    month_books: dict[BookKey, Row] = field(default_factory=dict)
    log: list[Row] = field(default_factory=list)
    touched_months: set[MonthKey] = field(default_factory=set)


@dataclass(frozen=True)
class Keys:
    """The keys of the rows a batch will read, per table."""

    isbns: frozenset[str]
    work_keys: frozenset[str]
    author_keys: frozenset[str]
    months: frozenset[MonthKey]
    books: frozenset[BookKey]


# --- validation --------------------------------------------------------------------------------


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


def _month(year: Any, month: Any) -> MonthKey:
    if not isinstance(year, int) or not 1900 <= year <= 2100:
        raise Invalid(f"year {year!r} is outside 1900..2100")
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise Invalid(f"month {month!r} is outside 1..12")
    return year, month


def _isbn(value: Any) -> str:
    if not is_isbn13(value):
        raise Invalid(f"{value!r} is not a valid ISBN-13")
    return str(value)


def _metadata_month(event: Mapping[str, Any]) -> tuple[MonthKey, str] | None:
    year, month, book_id = event.get("year"), event.get("month"), event.get("book_id")
    if year is None and month is None and book_id is None:
        return None
    return _month(year, month), _key(book_id, "book_id")


def _match(event: Mapping[str, Any], at: datetime) -> Entry:
    match = event["work_match"]
    source = match["source"]
    if source not in MATCH_SOURCE_RANK:
        raise Invalid(f"work_match source {source!r} is not one of {tuple(MATCH_SOURCE_RANK)}")
    confidence = match["confidence"]
    if not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise Invalid(f"work_match confidence {confidence!r} is outside 0..1")
    return [float(confidence), source, _key(match["work_key"], "work_match.work_key"), to_us(at)]


@dataclass(frozen=True, slots=True)
class _Metadata:
    event_id: str
    at: datetime
    isbn: str
    match: Entry
    located: tuple[MonthKey, str] | None
    author_keys: tuple[str, ...]


def _parse_metadata(event: Mapping[str, Any]) -> _Metadata:
    event_id, at = _envelope(event)
    isbn = _isbn(event["isbn13"])
    match = _match(event, at)
    author_keys = []
    for facts in event["authors"]:
        author_keys.append(_key(facts["author_key"], "author_key"))
        if clean_text(facts["name"]) is None:
            raise Invalid(f"author {facts['author_key']!r} has no name")
    return _Metadata(event_id, at, isbn, match, _metadata_month(event), tuple(author_keys))


@dataclass(frozen=True, slots=True)
class _Resolution:
    event_id: str
    at: datetime
    month: MonthKey
    work_key: str | None  # the synthetic work of an unresolved book


def _parse_resolved(event: Mapping[str, Any]) -> _Resolution:
    event_id, at = _envelope(event)
    month = _month(event["year"], event["month"])
    _key(event["book"]["book_id"], "book.book_id")
    outcome = event["outcome"]
    if outcome not in OUTCOMES:
        raise Invalid(f"outcome {outcome!r} is not one of {OUTCOMES}")
    if outcome == "resolved" or event.get("isbn13") is not None:
        _isbn(event.get("isbn13"))
    work_key = None
    if outcome == "unresolved":
        work_key = _key(event.get("work_key"), "work_key of an unresolved book")
    return _Resolution(event_id, at, month, work_key)


def _parse_month_event(event: Mapping[str, Any]) -> tuple[str, datetime, MonthKey]:
    event_id, at = _envelope(event)
    return event_id, at, _month(event["year"], event["month"])


def _keys_of_one(record: Record) -> tuple[list[tuple[str, Any]], MonthKey | None]:
    """([(table, key)], month) of one valid record; raises Invalid otherwise."""
    event = record.event
    if record.kind == "MetadataFetched":
        meta = _parse_metadata(event)
        keys: list[tuple[str, Any]] = [("edition", meta.isbn), ("work", meta.match[2])]
        keys.extend(("author", key) for key in meta.author_keys)
        if meta.located is None:
            return keys, None
        (year, month), book_id = meta.located
        keys.append(("book", (year, month, book_id)))
        return keys, (year, month)
    if record.kind == "ISBNResolved":
        resolution = _parse_resolved(event)
        year, month = resolution.month
        keys = [("book", (year, month, clean_text(event["book"]["book_id"])))]
        if resolution.work_key is not None:
            keys.append(("work", resolution.work_key))
        return keys, resolution.month
    if record.kind in HANDLERS and record.kind not in NOT_PROJECTED:
        return [], _parse_month_event(event)[2]
    raise Invalid(f"no projection for event type {record.kind!r}")


def keys_of(records: Iterable[Record]) -> Keys:
    """The rows the valid records touch (invalid ones are left for `fold` to reject)."""
    tables: dict[str, set[Any]] = {"edition": set(), "work": set(), "author": set(), "book": set()}
    months: set[MonthKey] = set()
    for record in records:
        if record.kind in NOT_PROJECTED:
            continue
        try:
            keys, month = _keys_of_one(record)
        except (Invalid, KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue
        for table, key in keys:
            tables[table].add(key)
        if month is not None:
            months.add(month)
    return Keys(
        frozenset(tables["edition"]),
        frozenset(tables["work"]),
        frozenset(tables["author"]),
        frozenset(months),
        frozenset(tables["book"]),
    )


# --- enrichment_log ----------------------------------------------------------------------------


_UNFILLED: tuple[Any, ...] = (None, "", [], {}, 0)  # 0 == False == 0.0: defaults too


def changed_fields(old: Row | None, new: Row) -> list[str]:
    """Columns an event changed (for a created row: those it filled), bookkeeping left out."""
    if old is None:
        return [c for c, v in new.items() if c not in NOT_LOGGED and v not in _UNFILLED]
    return [c for c, v in new.items() if c not in NOT_LOGGED and old.get(c) != v]


def _log(
    state: State,
    entity: str,
    old: Row | None,
    new: Row,
    provider: str,
    response_time_ms: int | None,
    event_id: str,
    at: datetime,
) -> None:
    fields = changed_fields(old, new)
    key_column = KEY_COLUMNS[entity]
    if old is not None and not fields:
        return
    state.log.append(
        {
            "entity_type": entity,
            "entity_key": new[key_column],
            "provider": provider,
            "operation": "create" if old is None else "update",
            "fields_updated": [f for f in fields if f != key_column],
            "response_time_ms": response_time_ms,
            "event_id": event_id,
            "created_at": at,
        }
    )


def _facts_rank(facts: Mapping[str, Any]) -> tuple[int, int, str]:
    provider = provider_of(facts)
    return quality_of(facts), SOURCE_RANK.get(provider, 0), provider


def _best_facts(facts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The facts the log names as the source: the highest-ranked provider's."""
    if len(facts) < 2:
        return facts[0] if facts else None
    return max(facts, key=_facts_rank)


def _timing(facts: Mapping[str, Any] | None, fallback: Any) -> int | None:
    value = facts.get("response_time_ms") if facts is not None else None
    value = value if value else fallback
    return clamp(value, 0, 2**31 - 1) if isinstance(value, int) else None


# --- one function per event type ---------------------------------------------------------------


def _month_row(state: State, key: MonthKey, at: datetime) -> Row:
    row = state.months.get(key)
    return row if row is not None else month_rules.new_month(key[0], key[1], at)


def _set_month(state: State, key: MonthKey, row: Row) -> None:
    state.months[key] = row
    state.touched_months.add(key)


def fold_month_scheduled(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = _parse_month_event(event)
    row = month_rules.scheduled(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_books_generated(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = _parse_month_event(event)
    row = month_rules.generated(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_month_generation_failed(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = _parse_month_event(event)
    row = month_rules.failed(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_isbn_resolved(state: State, event: Mapping[str, Any]) -> None:
    parsed = _parse_resolved(event)
    event_id, at, month_key = parsed.event_id, parsed.at, parsed.month
    book = month_rules.resolved_book(month_key[0], month_key[1], event, event_id, at)
    book_key = (month_key[0], month_key[1], book["book_id"])
    old_book = state.month_books.get(book_key)
    new_book = book if old_book is None else merge_month_book(old_book, book)
    month = month_rules.book_seen(
        _month_row(state, month_key, at), event["month_book_count"], to_us(at)
    )
    month = month_rules.recount(month, old_book, new_book)
    old_work: Row | None = None
    new_work: Row | None = None
    if parsed.work_key is not None:  # unresolved: the book becomes (or joins) a synthetic work
        contribution = synthetic_work_row(parsed.work_key, event["book"], at)
        old_work = state.works.get(parsed.work_key)
        new_work = contribution if old_work is None else merge_work(old_work, contribution)

    state.month_books[book_key] = new_book
    _set_month(state, month_key, month)
    if new_work is not None:
        state.works[new_work["work_key"]] = new_work
        _log(
            state,
            "work",
            old_work,
            new_work,
            new_work["provenance"]["primary"][2],
            None,
            event_id,
            at,
        )


def fold_metadata_fetched(state: State, event: Mapping[str, Any]) -> None:
    meta = _parse_metadata(event)
    event_id, at, isbn, work_key = meta.event_id, meta.at, meta.isbn, meta.match[2]
    editions, works, authors = event["editions"], event["works"], event["authors"]

    edition = edition_row(isbn, editions, meta.match, at)
    work = work_row(work_key, works, editions, authors, at)
    author_contributions = author_rows(authors, at)
    old_edition = state.editions.get(isbn)
    new_edition = edition if old_edition is None else merge_edition(old_edition, edition)
    old_work = state.works.get(work_key)
    new_work = work if old_work is None else merge_work(old_work, work)
    new_authors = []
    for key, contribution in author_contributions.items():
        old = state.authors.get(key)
        new_authors.append((old, contribution if old is None else merge_author(old, contribution)))
    book_update = None
    if meta.located is not None:
        month_key, book_id = meta.located
        book = month_rules.enriched_book(month_key[0], month_key[1], book_id, event_id, at)
        book_key = (month_key[0], month_key[1], book_id)
        old_book = state.month_books.get(book_key)
        new_book = book if old_book is None else merge_month_book(old_book, book)
        month = month_rules.touched(_month_row(state, month_key, at), to_us(at))
        month = month_rules.recount(month, old_book, new_book)
        book_update = (month_key, book_key, new_book, month)
    producer = clean_text(event["envelope"].get("producer")) or "enricher"
    fetch_ms = event.get("fetch_ms")
    best_edition = _best_facts(editions)
    best_work = _best_facts(works) or best_edition
    edition_provider = provider_of(best_edition) if best_edition is not None else producer
    work_provider = provider_of(best_work) if best_work is not None else producer
    edition_ms, work_ms = _timing(best_edition, fetch_ms), _timing(best_work, fetch_ms)

    state.editions[isbn] = new_edition
    _log(state, "edition", old_edition, new_edition, edition_provider, edition_ms, event_id, at)
    state.works[work_key] = new_work
    _log(state, "work", old_work, new_work, work_provider, work_ms, event_id, at)
    for old, new in new_authors:
        state.authors[new["author_key"]] = new
        _log(state, "author", old, new, new["primary_provider"] or producer, None, event_id, at)
    if book_update is not None:
        month_key, book_key, new_book, month = book_update
        state.month_books[book_key] = new_book
        _set_month(state, month_key, month)


def fold_nothing(state: State, event: Mapping[str, Any]) -> None:
    """Dead letters and skipped positions are not projected."""


HANDLERS: dict[str, Callable[[State, Mapping[str, Any]], None]] = {
    "MonthScheduled": fold_month_scheduled,
    "BooksGenerated": fold_books_generated,
    "MonthGenerationFailed": fold_month_generation_failed,
    "ISBNResolved": fold_isbn_resolved,
    "MetadataFetched": fold_metadata_fetched,
    "DeadLetter": fold_nothing,
    SKIPPED: fold_nothing,
}


def finish_months(state: State, rules: MonthRules) -> None:
    """Recompute every touched month's columns from its facts and books."""
    for key in sorted(state.touched_months):
        state.months[key] = month_rules.render(state.months[key], rules)


def fold(state: State, records: Iterable[Record], rules: MonthRules | None = None) -> list[Reject]:
    """Apply the records in order; return those that could not be applied, with the reason."""
    rejects: list[Reject] = []
    for record in records:
        handler = HANDLERS.get(record.kind)
        if handler is None:
            rejects.append(Reject(record, f"no projection for event type {record.kind!r}"))
            continue
        try:
            handler(state, record.event)
        except Invalid as exc:
            rejects.append(Reject(record, str(exc)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            rejects.append(Reject(record, f"malformed {record.kind}: {type(exc).__name__} {exc}"))
    finish_months(state, rules or MonthRules())
    return rejects
