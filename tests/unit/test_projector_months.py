"""backfill_log and month_books: month progress, retries, book tallies and merges."""

from __future__ import annotations

import copy
from datetime import timedelta

from services.projector.logic.fold import State, fold
from services.projector.logic.month_books import merge_month_book
from services.projector.logic.months import MonthRules
from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    at,
    book,
    edition,
    failed,
    fetched,
    folded,
    generated,
    records,
    resolved,
    scheduled,
)


def test_month_progress_to_completed() -> None:
    b1, b2, b3 = book("b1"), book("b2", "Other"), book("b3", "Invented")
    events = [
        scheduled(0),
        generated([b1, b2, b3], 1),
        resolved(b1, 2, isbn=ISBN_A),
        resolved(b2, 3, outcome="already_known", isbn=ISBN_B),
        resolved(b3, 4, outcome="unresolved", work_key="w-invented"),
    ]
    month = folded(events).months[(2019, 3)]
    assert month["status"] == "processing"
    assert (month["books_generated"], month["isbns_resolved"], month["isbns_queued"]) == (3, 2, 1)
    assert str(month["resolution_rate"]) == "66.67"
    assert (month["gemini_calls"], month["xai_calls"], month["isbndb_calls"]) == (1, 2, 3)
    assert (month["prompt_variant"], month["batch_size"], month["started_at"]) == (
        "baseline",
        20,
        at(0),
    )
    done = [*events, fetched(ISBN_A, 6, [edition()], book_id="b1")]
    for order in (done, done[::-1]):
        month = folded(order).months[(2019, 3)]
        assert month["status"] == "completed"
        assert month["completed_at"] == at(6)
    later = folded([*done, scheduled(9, attempt=2)]).months[(2019, 3)]
    assert later["status"] == "completed"  # never moved back


def test_an_empty_generation_completes_the_month() -> None:
    month = folded([scheduled(0), generated([], 1)]).months[(2019, 3)]
    assert (month["status"], month["completed_at"], month["resolution_rate"]) == (
        "completed",
        at(1),
        None,
    )


def test_failures_retry_with_backoff_then_fail() -> None:
    rules = MonthRules(max_attempts=3)
    month = folded([scheduled(0), failed(1, 1)], rules).months[(2019, 3)]
    assert (month["status"], month["retry_count"]) == ("retry", 1)
    assert month["next_attempt_at"] == at(1) + timedelta(minutes=2)
    assert month["error_message"] == "every LLM failed (attempt 1)"
    month = folded([scheduled(0), failed(1, 1), scheduled(5, attempt=2)], rules).months[(2019, 3)]
    assert (month["status"], month["next_attempt_at"]) == ("processing", None)
    events = [
        scheduled(0),
        failed(1, 1),
        scheduled(5, 2),
        failed(2, 6),
        scheduled(9, 3),
        failed(3, 10),
    ]
    for order in (events, events[::-1]):
        month = folded(order, rules).months[(2019, 3)]
        assert (month["status"], month["retry_count"], month["last_retry_at"]) == (
            "failed",
            3,
            at(10),
        )


def test_redelivered_books_do_not_double_count() -> None:
    b1 = book("b1")
    events = [generated([b1], 1), resolved(b1, 2, isbn=ISBN_A, count=1)]
    month = folded([*events, *events]).months[(2019, 3)]
    assert (month["books_generated"], month["isbns_resolved"], month["gemini_calls"]) == (1, 1, 1)


def test_month_book_merge_keeps_latest_resolution_and_first_enrichment() -> None:
    state = State()
    b = book("b1")
    fold(
        state,
        records(
            [
                resolved(b, 5, outcome="unresolved", work_key="w"),
                resolved(b, 2, isbn=ISBN_A),
                fetched(ISBN_A, 7, book_id="b1"),
                fetched(ISBN_A, 6, book_id="b1", label="again"),
            ]
        ),
    )
    row = state.month_books[(2019, 3, "b1")]
    assert (row["outcome"], row["resolved_at"], row["enriched_at"]) == ("unresolved", at(5), at(6))
    assert merge_month_book(row, copy.deepcopy(row)) == row
