"""When the enricher stops waiting for more: every book of each month in hand is in."""

from __future__ import annotations

from datetime import UTC, datetime

from services.enricher.logic.batching import months_complete
from shared.events import GeneratedBook, ISBNResolved, make_envelope
from tests.samples import all_samples

AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def book_of(month: int, n: int, count: int) -> ISBNResolved:
    return ISBNResolved(
        envelope=make_envelope(
            ISBNResolved, producer="resolver", correlation_id=f"month:2018-{month:02d}",
            occurred_at=AT,
        ),
        year=2018,
        month=month,
        book=GeneratedBook(book_id=f"bk-{month}-{n}", title=f"Book {n}", authors=["A. Writer"],
                           source_providers=["gemini"]),
        month_book_count=count,
        outcome="unresolved",
        attempts=[],
    )  # fmt: skip


def test_a_month_is_complete_once_all_its_books_are_in() -> None:
    books = [book_of(3, n, 3) for n in range(3)]
    assert not months_complete(books[:2])
    assert months_complete(books)


def test_every_month_in_hand_must_be_complete() -> None:
    march = [book_of(3, n, 2) for n in range(2)]
    april = [book_of(4, n, 3) for n in range(3)]
    assert not months_complete([*march, *april[:2]])
    assert months_complete([*april, *march])


def test_a_redelivered_book_does_not_complete_its_month() -> None:
    first = book_of(3, 0, 2)
    assert not months_complete([first, first])
    assert months_complete([first, book_of(3, 1, 2)])


def test_nothing_or_other_events_make_no_batch() -> None:
    assert not months_complete([])
    others = [e for e in all_samples() if not isinstance(e, ISBNResolved)]
    assert not months_complete(others)
    assert months_complete([*others, book_of(5, 0, 1)])
