"""The projector's fold: decoded events applied to plain-dict rows, one function per event type.

No I/O: `store.py` loads the rows the events touch into a `State`, calls `fold`, and writes back
what changed. Each event function parses first (events.py) and changes the State only once
everything is computed, so an event that cannot be applied is returned as a `FoldReject` and
leaves no trace. The rules of each table live in its module (editions.py, works.py, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.projector.logic import months as month_rules
from services.projector.logic.authors import author_rows, merge_author
from services.projector.logic.editions import edition_row, merge_edition
from services.projector.logic.enrichment_log import best_facts, log_row, timing
from services.projector.logic.events import (
    SKIPPED,
    BookKey,
    Invalid,
    MonthKey,
    Positioned,
    parse_metadata,
    parse_month_event,
    parse_resolved,
)
from services.projector.logic.merging import QualityEntry, Row, to_us
from services.projector.logic.month_books import (
    enriched_book,
    merge_month_book,
    recount,
    resolved_book,
)
from services.projector.logic.months import MonthRules
from services.projector.logic.values import clean_text, provider_of
from services.projector.logic.works import merge_work, synthetic_work_row, work_row

# Event kinds the fold passes over (their offsets still advance).
UNPROJECTED_KINDS = ("DeadLetter", SKIPPED)


@dataclass(frozen=True, slots=True)
class FoldReject:
    """An event the fold could not apply, with the dead-letter reason. Named apart from the
    worker's `Reject` (shared/kafka/worker.py), which is a consumed message's."""

    record: Positioned
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


def _keys_of_one(record: Positioned) -> tuple[list[tuple[str, Any]], MonthKey | None]:
    """([(table, key)], month) of one valid record; raises Invalid otherwise."""
    event = record.event
    if record.kind == "MetadataFetched":
        meta = parse_metadata(event)
        keys: list[tuple[str, Any]] = [("edition", meta.isbn), ("work", meta.match.work_key)]
        keys.extend(("author", key) for key in meta.author_keys)
        if meta.located is None:
            return keys, None
        (year, month), book_id = meta.located
        keys.append(("book", (year, month, book_id)))
        return keys, (year, month)
    if record.kind == "ISBNResolved":
        resolution = parse_resolved(event)
        year, month = resolution.month
        keys = [("book", (year, month, clean_text(event["book"]["book_id"])))]
        if resolution.work_key is not None:
            keys.append(("work", resolution.work_key))
        return keys, resolution.month
    if record.kind in HANDLERS and record.kind not in UNPROJECTED_KINDS:
        _event_id, _at, month_key = parse_month_event(event)
        return [], month_key
    raise Invalid(f"no projection for event type {record.kind!r}")


def keys_of(records: Iterable[Positioned]) -> Keys:
    """The rows the valid records touch (invalid ones are left for `fold` to reject)."""
    tables: dict[str, set[Any]] = {"edition": set(), "work": set(), "author": set(), "book": set()}
    months: set[MonthKey] = set()
    for record in records:
        if record.kind in UNPROJECTED_KINDS:
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
    row = log_row(entity, old, new, provider, response_time_ms, event_id, at)
    if row is not None:
        state.log.append(row)


# --- one function per event type ---------------------------------------------------------------


def _month_row(state: State, key: MonthKey, at: datetime) -> Row:
    row = state.months.get(key)
    if row is not None:
        return row
    year, month = key
    return month_rules.new_month(year, month, at)


def _set_month(state: State, key: MonthKey, row: Row) -> None:
    state.months[key] = row
    state.touched_months.add(key)


def fold_month_scheduled(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = parse_month_event(event)
    row = month_rules.scheduled(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_books_generated(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = parse_month_event(event)
    row = month_rules.generated(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_month_generation_failed(state: State, event: Mapping[str, Any]) -> None:
    event_id, at, key = parse_month_event(event)
    row = month_rules.failed(_month_row(state, key, at), event, event_id, to_us(at))
    _set_month(state, key, row)


def fold_isbn_resolved(state: State, event: Mapping[str, Any]) -> None:
    parsed = parse_resolved(event)
    event_id, at, (year, month) = parsed.event_id, parsed.at, parsed.month
    book = resolved_book(year, month, event, event_id, at)
    book_key = (year, month, book["book_id"])
    old_book = state.month_books.get(book_key)
    new_book = book if old_book is None else merge_month_book(old_book, book)
    month_row = month_rules.book_seen(
        _month_row(state, parsed.month, at), event["month_book_count"], to_us(at)
    )
    month_row = recount(month_row, old_book, new_book)
    old_work: Row | None = None
    new_work: Row | None = None
    if parsed.work_key is not None:  # unresolved: the book becomes (or joins) a synthetic work
        contribution = synthetic_work_row(parsed.work_key, event["book"], at)
        old_work = state.works.get(parsed.work_key)
        new_work = contribution if old_work is None else merge_work(old_work, contribution)

    state.month_books[book_key] = new_book
    _set_month(state, parsed.month, month_row)
    if new_work is not None:
        state.works[new_work["work_key"]] = new_work
        provider = QualityEntry.of(new_work["provenance"]["primary"]).provider
        _log(state, "work", old_work, new_work, provider, None, event_id, at)


def fold_metadata_fetched(state: State, event: Mapping[str, Any]) -> None:
    meta = parse_metadata(event)
    event_id, at, isbn, work_key = meta.event_id, meta.at, meta.isbn, meta.match.work_key
    editions, works, authors = event["editions"], event["works"], event["authors"]

    edition = edition_row(isbn, editions, meta.match.dump(), at)
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
        year, month_number = month_key
        book = enriched_book(year, month_number, book_id, event_id, at)
        book_key = (year, month_number, book_id)
        old_book = state.month_books.get(book_key)
        new_book = book if old_book is None else merge_month_book(old_book, book)
        month = month_rules.touched(_month_row(state, month_key, at), to_us(at))
        month = recount(month, old_book, new_book)
        book_update = (month_key, book_key, new_book, month)
    producer = clean_text(event["envelope"].get("producer")) or "enricher"
    fetch_ms = event.get("fetch_ms")
    best_edition = best_facts(editions)
    best_work = best_facts(works) or best_edition
    edition_provider = provider_of(best_edition) if best_edition is not None else producer
    work_provider = provider_of(best_work) if best_work is not None else producer
    edition_ms, work_ms = timing(best_edition, fetch_ms), timing(best_work, fetch_ms)

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


def fold(
    state: State, records: Iterable[Positioned], rules: MonthRules | None = None
) -> list[FoldReject]:
    """Apply the records in order; return those that could not be applied, with the reason."""
    rejects: list[FoldReject] = []
    for record in records:
        handler = HANDLERS.get(record.kind)
        if handler is None:
            rejects.append(FoldReject(record, f"no projection for event type {record.kind!r}"))
            continue
        try:
            handler(state, record.event)
        except Invalid as exc:
            rejects.append(FoldReject(record, str(exc)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            reason = f"malformed {record.kind}: {type(exc).__name__} {exc}"
            rejects.append(FoldReject(record, reason))
    finish_months(state, rules or MonthRules())
    return rejects
