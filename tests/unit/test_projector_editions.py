"""enriched_editions: each merge rule of an edition, in any arrival order."""

from __future__ import annotations

import pytest

from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    ISBN_C,
    at,
    edition,
    fetched,
    folded,
)


def test_highest_quality_title_wins_in_any_order() -> None:
    low = fetched(ISBN_A, 1, [edition("isbndb", 40, title="Normal people (pbk)")])
    high = fetched(ISBN_A, 2, [edition("openlibrary", 70, title="Normal People")])
    for events in ([low, high], [high, low]):
        row = folded(events).editions[ISBN_A]
        assert row["title"] == "Normal People"
        assert row["primary_provider"] == "openlibrary"


def test_title_ties_go_to_the_source_order_then_the_value() -> None:
    isbndb = fetched(ISBN_A, 1, [edition("isbndb", 50, publisher="Faber")])
    google = fetched(ISBN_A, 2, [edition("google_books", 50, publisher="Faber & Faber")])
    assert folded([google, isbndb]).editions[ISBN_A]["publisher"] == "Faber"
    same_a = fetched(ISBN_A, 1, [edition("isbndb", 50, subtitle="A novel")])
    same_b = fetched(ISBN_A, 2, [edition("isbndb", 50, subtitle="A Novel")])
    assert folded([same_a, same_b]).editions[ISBN_A]["subtitle"] == "A novel"  # "a" > "N"
    assert folded([same_b, same_a]).editions[ISBN_A]["subtitle"] == "A novel"


def test_other_fields_fill_gaps_and_the_better_source_wins() -> None:
    isbndb = fetched(ISBN_A, 1, [edition("isbndb", 30, page_count=273)])
    openlibrary = fetched(
        ISBN_A, 2, [edition("openlibrary", 90, page_count=288, format="ebook", language="EN")]
    )
    for events in ([isbndb, openlibrary], [openlibrary, isbndb]):
        row = folded(events).editions[ISBN_A]
        assert row["page_count"] == 273  # better source, despite lower quality
        assert row["format"] == "ebook"  # filled from the only source that has it
        assert row["language"] == "en"


def test_empty_values_never_overwrite() -> None:
    full = fetched(
        ISBN_A,
        1,
        [edition("openlibrary", 20, title="Normal People", publisher="Faber", page_count=273)],
    )
    empty = fetched(ISBN_A, 2, [edition("isbndb", 95, title="  ", publisher=None)])
    row = folded([full, empty]).editions[ISBN_A]
    assert (row["title"], row["publisher"], row["page_count"]) == ("Normal People", "Faber", 273)
    assert row["primary_provider"] == "isbndb"  # the highest-ranked facts, even if sparse
    assert row["isbndb_quality"] == 95


def test_arrays_are_sorted_unions() -> None:
    one = fetched(
        ISBN_A,
        1,
        [
            edition(
                "isbndb",
                subjects=["Fiction", " Irish "],
                amazon_asins=["B2"],
                related_isbns={ISBN_B: "paperback"},
            )
        ],
    )
    two = fetched(
        ISBN_A,
        2,
        [
            edition(
                "google_books",
                subjects=["fiction", "Romance"],
                amazon_asins=["B1", "B2"],
                related_isbns={ISBN_B: "ebook", ISBN_C: "audiobook"},
            )
        ],
    )
    row = folded([two, one]).editions[ISBN_A]
    assert row["subjects"] == ["fiction", "irish", "romance"]
    assert row["amazon_asins"] == ["B1", "B2"]
    assert row["contributors"] == ["google_books", "isbndb"]
    assert row["related_isbns"] == {ISBN_B: "paperback", ISBN_C: "audiobook"}


def test_timestamps_come_from_events() -> None:
    row = folded([fetched(ISBN_A, 5, [edition()]), fetched(ISBN_A, 2, [edition()])]).editions[
        ISBN_A
    ]
    assert (row["created_at"], row["updated_at"]) == (at(2), at(5))
    assert row["last_isbndb_sync"] == at(5)


def test_best_work_match_wins_and_completeness_is_of_the_merged_row() -> None:
    weak = fetched(
        ISBN_A,
        1,
        [edition(title="T", publisher="P")],
        work_key="w-new",
        confidence=0.7,
        source="title_author",
    )
    strong = fetched(
        ISBN_A,
        2,
        [edition("google_books", 10, page_count=5)],
        work_key="w-old",
        confidence=0.9,
        source="isbn",
    )
    for events in ([weak, strong], [strong, weak]):
        row = folded(events).editions[ISBN_A]
        assert (row["work_key"], row["work_match_source"]) == ("w-old", "isbn")
        assert row["work_match_confidence"] == pytest.approx(0.9)
        assert row["work_match_at"] == at(2)
        assert row["completeness_score"] == 25  # title, publisher, page_count: 3/12
