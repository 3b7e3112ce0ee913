"""enriched_works: work fields, titles, descriptions, and synthetic works upgraded in place."""

from __future__ import annotations

from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    ISBN_C,
    book,
    edition,
    fetched,
    folded,
    resolved,
    work,
)


def test_description_follows_the_provider_order() -> None:
    events = [
        fetched(ISBN_A, 1, works=[work("isbndb", 90, description="From ISBNdb.")]),
        fetched(ISBN_B, 2, works=[work("archive", 5, description="From the Archive.\n\nMore.")]),
        fetched(ISBN_C, 3, works=[work("openlibrary", 99, description="From Open Library.")]),
        fetched(ISBN_C, 4, works=[work("archive", 99, description="   ")], label="blank"),
    ]
    for order in (events, events[::-1]):
        assert folded(order).works["w-normal-people"]["description"] == (
            "From the Archive.\n\nMore."
        )


def test_work_fields_and_tags() -> None:
    one = fetched(
        ISBN_A,
        1,
        works=[
            work(
                "wikidata",
                30,
                title="Normal People",
                subject_tags=["Romance Novel", "fiction"],
                first_publication_year=2018,
            )
        ],
    )
    two = fetched(
        ISBN_B,
        2,
        works=[
            work(
                "isbndb",
                50,
                title="Normal people",
                subject_tags=["Fiction "],
                original_language="en",
                first_publication_year=2019,
            )
        ],
    )
    row = folded([two, one]).works["w-normal-people"]
    assert row["title"] == "Normal people"  # higher quality
    assert row["subject_tags"] == ["fiction", "romance novel"]
    assert row["first_publication_year"] == 2019  # isbndb ranks above wikidata
    assert row["contributors"] == ["isbndb", "wikidata"]
    assert row["primary_provider"] == "isbndb"
    assert row["synthetic"] is False


def test_work_title_falls_back_to_the_edition_title() -> None:
    state = folded([fetched(ISBN_A, 1, [edition(title="Normal People")])])
    assert state.works["w-normal-people"]["title"] == "Normal People"
    titled_work = work("wikidata", 1, title="Normal People: A Novel")
    state = folded(
        [
            fetched(ISBN_A, 1, [edition(title="Normal People")]),
            fetched(ISBN_B, 2, works=[titled_work]),
        ]
    )
    assert state.works["w-normal-people"]["title"] == "Normal People: A Novel"


# --- synthetic works ---------------------------------------------------------------------------


def test_unresolved_book_becomes_a_synthetic_work_then_is_upgraded_in_place() -> None:
    b = book("b1", providers=["xai", "gemini"])
    unresolved = resolved(b, 1, outcome="unresolved", work_key="w-normal-people")
    metadata = fetched(
        ISBN_A,
        2,
        [edition(title="Normal People")],
        [work("isbndb", 70, title="Normal People", original_language="en")],
    )
    synthetic = folded([unresolved]).works["w-normal-people"]
    assert synthetic["synthetic"] is True
    assert synthetic["primary_provider"] == "xai"
    assert synthetic["completeness_score"] == 30
    assert synthetic["metadata"]["book_id"] == "b1"
    assert isinstance(synthetic["metadata"], dict)
    for events in ([unresolved, metadata], [metadata, unresolved]):
        row = folded(events).works["w-normal-people"]
        assert row["synthetic"] is False
        assert row["primary_provider"] == "isbndb"
        assert row["metadata"] == synthetic["metadata"]
        assert row["completeness_score"] == 36  # title, description (LLM), language, year
        assert row["description"] == b.description  # only the LLM had one
