"""Provenance views: every stored entry shape reads into its view and writes back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from services.projector.logic.editions import MatchEntry
from services.projector.logic.merging import KeptEntry, QualityEntry, SourceEntry
from services.projector.logic.month_books import Tally
from services.projector.logic.months import (
    FailedEntry,
    GeneratedEntry,
    ScheduledEntry,
    SettingEntry,
)
from services.projector.logic.works import AuthorsEntry
from tests.unit.projector_builders import ISBN_A, author, edition, fetched, folded, work

STORED: list[tuple[type[Any], list[Any]]] = [
    (QualityEntry, [2, 80, "isbndb"]),
    (SourceEntry, [0, "gemini"]),
    (KeptEntry, [-1, "legacy", 1991]),
    (MatchEntry, [0.9, "isbn", "w-normal-people", 1554109200000000]),
    (AuthorsEntry, [2, "isbndb", [["a-a", 0], ["a-b", 1]]]),
    (AuthorsEntry, [2, "wikidata", []]),
    (ScheduledEntry, [1, 1554109200000000, "0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a11"]),
    (GeneratedEntry, [2, 1554109260000000, "0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a12", 3]),
    (
        FailedEntry,
        [3, 1554109320000000, "0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a13", "every LLM failed"],
    ),
    (SettingEntry, [1, 1, 1554109200000000, "0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a11", "baseline"]),
    (SettingEntry, [0, 2, 1554109260000000, "0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a12", 20]),
    (Tally, [3, 2, 1, 2, 3]),
]


@pytest.mark.parametrize(("view", "stored"), STORED)
def test_list_to_view_to_list_is_the_identity(view: Any, stored: list[Any]) -> None:
    entry = view.of(stored)
    assert isinstance(entry, view)
    assert entry.dump() == stored
    assert type(entry.dump()) is list
    if hasattr(view, "stored"):  # the writers' shortcut builds the same list
        assert view.stored(*entry) == stored


@pytest.mark.parametrize("view", list(dict.fromkeys(v for v, _ in STORED)))
def test_a_stored_entry_of_another_shape_is_refused(view: Any) -> None:
    too_long = [*next(s for v, s in STORED if v is view), "extra"]
    with pytest.raises((TypeError, ValueError)):
        view.of(too_long)


def test_the_fold_stores_entries_its_views_read_back() -> None:
    state = folded(
        [
            fetched(
                ISBN_A,
                1,
                [edition(title="Normal People", cover_url_large="https://c/l.jpg")],
                [work(title="Normal People", description="A novel.")],
                [author(birth_year=1991, bio="Irish novelist.")],
            )
        ]
    )
    shapes: dict[str, Any] = {
        "title": QualityEntry,
        "primary": QualityEntry,
        "cover_url_large": SourceEntry,
        "description": SourceEntry,
        "work_match": MatchEntry,
        "authors": AuthorsEntry,
        "bio": SourceEntry,
        "birth_year": KeptEntry,
    }
    rows = [*state.editions.values(), *state.works.values(), *state.authors.values()]
    seen = set()
    for row in rows:
        for name, stored in row["provenance"].items():
            if name in shapes:
                assert shapes[name].of(stored).dump() == stored, name
                seen.add(name)
    assert seen == set(shapes)
    edition_row = state.editions[ISBN_A]
    assert (
        MatchEntry.of(edition_row["provenance"]["work_match"]).work_key == edition_row["work_key"]
    )
