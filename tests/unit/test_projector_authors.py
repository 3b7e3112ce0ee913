"""enriched_authors and work_authors: author merges, the best author list, impossible lives."""

from __future__ import annotations

from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    author,
    fetched,
    folded,
)


def test_authors_merge_and_the_best_ordering_wins() -> None:
    one = fetched(
        ISBN_A,
        1,
        authors=[
            author("a-b", "B", 0, "wikidata", birth_year=1950, wikidata_id="Q1"),
            author("a-a", "A", 1, "wikidata"),
        ],
    )
    two = fetched(
        ISBN_B,
        2,
        authors=[
            author("a-a", "A", 0, "isbndb", death_year=1940),
            author("a-b", "B.", 1, "isbndb", bio="Wrote things."),
        ],
    )
    for events in ([one, two], [two, one]):
        state = folded(events)
        b = state.authors["a-b"]
        assert (b["name"], b["birth_year"], b["wikidata_id"], b["bio_source"]) == (
            "B.",
            1950,
            "Q1",
            "isbndb",
        )
        assert b["contributors"] == ["isbndb", "wikidata"]
        assert b["primary_provider"] == "isbndb"
        assert state.works["w-normal-people"]["provenance"]["authors"][2] == [
            ["a-a", 0],
            ["a-b", 1],
        ]


def test_an_impossible_life_keeps_the_birth() -> None:
    state = folded(
        [
            fetched(ISBN_A, 1, authors=[author(birth_year=1991, provider="wikidata")]),
            fetched(ISBN_B, 2, authors=[author(death_year=1900, provider="isbndb")]),
        ]
    )
    row = state.authors["a-sally-rooney"]
    assert (row["birth_year"], row["death_year"]) == (1991, None)
