"""When the enricher's batch is whole: every book of each month in hand has arrived."""

from __future__ import annotations

from collections.abc import Sequence

from shared.events import ISBNResolved
from shared.events.generated import Event


def months_complete(events: Sequence[Event]) -> bool:
    """True when, for every month among `events`, as many distinct books as its
    `month_book_count` are in hand: waiting longer could only bring another month's books.

    Counted by book id, so a redelivered ISBNResolved does not complete a month early. A month
    split over several enricher replicas never completes here; the batch's bounded wait ends it.
    """
    books: dict[tuple[int, int], set[str]] = {}
    expected: dict[tuple[int, int], int] = {}
    for event in events:
        if not isinstance(event, ISBNResolved):
            continue
        key = (event.year, event.month)
        books.setdefault(key, set()).add(event.book.book_id)
        expected[key] = max(expected.get(key, 0), event.month_book_count)
    return bool(books) and all(len(books[key]) >= n for key, n in expected.items())
