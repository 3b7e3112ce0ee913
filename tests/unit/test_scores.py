"""Quality and completeness scores: provider points, field points, caps and rounding."""

from __future__ import annotations

import pytest

from shared.events import EditionFacts, WorkFacts
from shared.scores import (
    edition_completeness,
    edition_quality,
    present,
    work_completeness,
    work_quality,
)


@pytest.mark.parametrize(
    ("provider", "points"),
    [
        ("isbndb", 40),
        ("google_books", 30),
        ("google-books", 30),
        ("openlibrary", 20),
        ("archive", 0),
        ("wikidata", 0),
        ("gemini", 0),
    ],
)
def test_provider_points(provider: str, points: int) -> None:
    assert edition_quality({"provider": provider}) == points
    assert work_quality({"provider": provider}) == points


def test_edition_field_points() -> None:
    each = {
        "title": 10,
        "cover_url_large": 10,
        "publisher": 5,
        "publication_date": 5,
        "page_count": 5,
        "language": 5,
        "format": 5,
        "cover_url_medium": 3,
        "cover_url_small": 2,
    }
    for name, points in each.items():
        value = 300 if name == "page_count" else "x"
        assert edition_quality({"provider": "archive", name: value}) == points, name
    assert edition_quality({"provider": "archive", **{n: "x" for n in each}}) == 50


def test_five_points_per_external_id_kind() -> None:
    facts = {
        "provider": "archive",
        "openlibrary_edition_id": "OL1M",
        "amazon_asins": ["B0"],
        "google_books_volume_ids": ["g1", "g2"],
        "goodreads_edition_ids": [],
    }
    assert edition_quality(facts) == 15


def test_edition_quality_is_capped_and_ignores_blanks() -> None:
    full = EditionFacts(
        provider="isbndb",
        quality=0,
        title="T",
        publisher="P",
        publication_date="2019",
        page_count=10,
        format="hardcover",
        language="en",
        cover_url_large="l",
        cover_url_medium="m",
        cover_url_small="s",
        openlibrary_edition_id="OL1M",
        amazon_asins=["B"],
        google_books_volume_ids=["g"],
        goodreads_edition_ids=["1"],
    )
    assert edition_quality(full) == 100  # 40 + 50 + 20, capped
    assert edition_quality({"provider": "openlibrary", "title": "  ", "publisher": ""}) == 20


def test_work_quality_description_steps() -> None:
    base = {"provider": "archive"}
    assert work_quality({**base, "description": "x" * 50}) == 0
    assert work_quality({**base, "description": "x" * 51}) == 15
    assert work_quality({**base, "description": "x" * 200}) == 15
    assert work_quality({**base, "description": "x" * 201}) == 30


def test_work_quality_fields_and_cap() -> None:
    facts = WorkFacts(
        provider="isbndb",
        quality=0,
        title="T",
        description="d" * 300,
        original_language="en",
        first_publication_year=1999,
        subject_tags=["x"],
        cover_url_large="l",
    )
    assert work_quality(facts) == 100  # 40 + 10 + 30 + 5 + 5 + 10 + 10 = 110, capped
    assert work_quality({"provider": "wikidata", "title": "T", "subject_tags": ["a"]}) == 20


def test_present() -> None:
    assert not any(present(v) for v in (None, "", "   ", [], {}, ()))
    assert all(present(v) for v in ("x", 0, 1990, ["a"], {"a": 1}))


def test_edition_completeness() -> None:
    assert edition_completeness({}) == 0
    assert edition_completeness({"title": "T"}) == 8  # 1/12 = 8.33
    assert edition_completeness({"cover_url_small": "s"}) == 8  # any cover fills "covers"
    row = {
        "title": "T",
        "subtitle": "S",
        "publisher": "P",
        "publication_date": "2019",
        "page_count": 1,
        "format": "f",
        "language": "en",
        "cover_url_original": "o",
        "openlibrary_edition_id": "OL1M",
        "amazon_asins": ["B"],
        "google_books_volume_ids": ["g"],
        "goodreads_edition_ids": ["1"],
    }
    assert edition_completeness(row) == 100
    assert edition_completeness({**row, "amazon_asins": [], "subtitle": None}) == 83


def test_work_completeness_rounds_to_nearest() -> None:
    row = {
        "title": "T",
        "subtitle": "S",
        "description": "D",
        "original_language": "en",
        "first_publication_year": 0,
        "subject_tags": ["a"],
    }
    assert work_completeness(row) == 55  # 6/11 = 54.5 -> 55
    assert work_completeness({"title": "T", "cover_url_medium": "m"}) == 18  # 2/11 = 18.2
    assert work_completeness({"title": ""}) == 0
