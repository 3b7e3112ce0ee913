"""Generator decisions: prompts, the answer schema, item parsing and cross-provider dedup."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.generator.logic import (
    BOOK_LIST_SCHEMA,
    GEMINI_BOOK_LIST_SCHEMA,
    CandidateBook,
    build_prompt,
    dedup_books,
    in_requested_month,
    parse_llm_books,
)
from shared.events.generated import GeneratedBook
from shared.text import book_id_for

GEMINI_KEYS = {"type", "format", "description", "nullable", "enum", "maxItems", "minItems",
               "properties", "required", "propertyOrdering", "items"}  # fmt: skip
GEMINI_TYPES = {"STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY", "OBJECT"}


def book(title: str, *authors: str, **fields: Any) -> CandidateBook:
    return CandidateBook(title=title, authors=tuple(authors), **fields)


def test_prompts_name_the_month_in_words_and_digits() -> None:
    baseline = build_prompt(2019, 3, "baseline", 20)
    recent = build_prompt(2021, 11, "contemporary-notable", 15)
    assert "March 2019" in baseline and "2019-03" in baseline and "20 notable books" in baseline
    assert "November 2021" in recent and "2021-11" in recent and "15 books" in recent
    for text in ("prize", "bestseller", "review", "format"):
        assert text in recent
    assert "bestseller" not in baseline


@pytest.mark.parametrize(("month", "variant"), [(13, "baseline"), (0, "baseline"), (5, "fancy")])
def test_prompt_refuses_bad_input(month: int, variant: str) -> None:
    with pytest.raises(ValueError):
        build_prompt(2019, month, variant, 20)


def _walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [schema]
    for sub in schema.get("properties", {}).values():
        nodes += _walk(sub)
    if "items" in schema:
        nodes += _walk(schema["items"])
    return nodes


def test_gemini_schema_uses_only_the_openapi_subset() -> None:
    for node in _walk(GEMINI_BOOK_LIST_SCHEMA):
        assert set(node) <= GEMINI_KEYS
        assert node["type"] in GEMINI_TYPES
    book_schema = GEMINI_BOOK_LIST_SCHEMA["properties"]["books"]["items"]
    isbn = book_schema["properties"]["isbn"]
    assert (isbn["type"], isbn["nullable"]) == ("STRING", True)
    assert set(book_schema["properties"]) == {
        "title", "subtitle", "authors", "publisher", "publication_year", "publication_month",
        "format", "description", "genres", "isbn"}  # fmt: skip


def test_openai_schema_is_strict_mode_ready() -> None:
    for node in _walk(BOOK_LIST_SCHEMA):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert set(node["required"]) == set(node["properties"])


def test_one_malformed_item_drops_only_itself() -> None:
    items: list[object] = [
        {"title": "Normal People", "authors": ["Sally Rooney"], "publication_year": 2018},
        {"authors": ["Nobody"]},
        "just a string",
        {"title": "  ", "authors": []},
        {"title": "Milkman", "authors": "Anna Burns", "isbn": "9780571338757",
         "publication_month": "May"},
        {"title": "Bad ISBN", "isbn": "9780000000000"},
    ]  # fmt: skip
    books, dropped = parse_llm_books(items)
    assert [b.title for b in books] == ["Normal People", "Milkman", "Bad ISBN"]
    assert books[1].authors == ("Anna Burns",) and books[1].publication_month == 5
    assert books[1].isbn == "9780571338757" and books[2].isbn is None
    assert len(dropped) == 3
    assert dropped[0].startswith("item 1:") and "item 2: a str" in dropped[1]


def test_in_requested_month_rejects_only_contradictions() -> None:
    assert in_requested_month(book("X", publication_year=2019, publication_month=3), 2019, 3)
    assert in_requested_month(book("X"), 2019, 3)
    assert in_requested_month(book("X", publication_year=2019), 2019, 3)
    assert not in_requested_month(book("X", publication_year=2018, publication_month=3), 2019, 3)
    assert not in_requested_month(book("X", publication_year=2019, publication_month=4), 2019, 3)


def test_same_book_from_two_providers_merges_with_the_richer_fields() -> None:
    gemini = [
        book(
            "Harry Potter and the Cursed Child",
            "J.K. Rowling",
            "Jack Thorne",
            publisher="Little, Brown",
            publication_year=2016,
            publication_month=7,
        )
    ]
    xai = [book("Harry Potter & the Cursed Child - Parts One and Two", "Rowling, J.K.",
                format="hardcover", description="The eighth story.", genres=("Fantasy",),
                isbn="9781338099133")]  # fmt: skip
    [merged] = dedup_books({"xai": xai, "gemini": gemini})
    assert merged.title == "Harry Potter and the Cursed Child"
    assert merged.authors == ["J. K. Rowling", "Jack Thorne"]
    assert (merged.publisher, merged.format, merged.isbn) == (
        "Little, Brown", "hardcover", "9781338099133")  # fmt: skip
    assert (merged.publication_year, merged.publication_month) == (2016, 7)
    assert merged.source_providers == ["gemini", "xai"]
    assert merged.book_id == book_id_for("Harry Potter and the Cursed Child", "J. K. Rowling")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (book("The Overstory", "Richard Powers"), book("Overstory", "Powers, Richard")),
        (book("Educated: A Memoir", "Tara Westover"), book("Educated", "Tara Westover")),
        (book("Normal People", "Sally Rooney"), book("normal people: a novel", "SALLY ROONEY")),
        (book("Becoming", "Michelle Obama"), book("Becoming", "Michelle LaVaughn Obama")),
    ],
)
def test_variants_merge(a: CandidateBook, b: CandidateBook) -> None:
    assert len(dedup_books({"gemini": [a], "xai": [b]})) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (book("Becoming", "Michelle Obama"), book("Becoming", "Cady Heron")),
        (book("Dune", "Frank Herbert"), book("Dune Messiah", "Frank Herbert")),
        (book("Normal People", "Sally Rooney"), book("Conversations with Friends", "Sally Rooney")),
        (book("It", "Stephen King"), book("It", "Tabitha King")),
        (book("Dune"), book("Dune Messiah")),
        (book("Becoming"), book("Becoming Human", "Jessica Riskin")),
    ],
)
def test_different_books_stay_apart(a: CandidateBook, b: CandidateBook) -> None:
    assert len(dedup_books({"gemini": [a], "xai": [b]})) == 2


def test_a_suggestion_without_authors_merges_only_on_a_near_identical_title() -> None:
    [merged] = dedup_books(
        {"gemini": [book("Becoming")], "xai": [book("Becoming: A Memoir", "Michelle Obama")]}
    )
    assert merged.authors == ["Michelle Obama"] and merged.source_providers == ["gemini", "xai"]


def test_within_provider_duplicates_merge_and_genres_union() -> None:
    books = [
        book("Milkman", "Anna Burns", genres=("Literary fiction", "Irish")),
        book("Milkman", "Anna Burns", description="A longer description.", genres=("irish",)),
    ]
    [merged] = dedup_books({"gemini": books})
    assert [g.casefold() for g in merged.genres] == ["irish", "literary fiction"]
    assert merged.description == "A longer description."


def test_sequels_sharing_a_main_title_keep_distinct_ids() -> None:
    books = [
        book("Thrawn", "Timothy Zahn", subtitle="Alliances"),
        book("Thrawn", "Timothy Zahn", subtitle="Treason"),
    ]
    out = dedup_books({"gemini": books})
    assert len(out) == 2 and len({b.book_id for b in out}) == 2


def test_output_is_sorted_by_book_id() -> None:
    out = dedup_books({"gemini": [book("Milkman", "Anna Burns"), book("Circe", "Madeline Miller"),
                                  book("The Overstory", "Richard Powers")]})  # fmt: skip
    assert [b.book_id for b in out] == sorted(b.book_id for b in out)


# Property tests: a small vocabulary so that near-duplicates actually occur.
TITLES = ["Becoming", "Becoming: A Memoir", "The Overstory", "Overstory", "Educated",
          "Educated: A Memoir", "Dune", "Dune Messiah", "Milkman", "Circe"]  # fmt: skip
AUTHORS = ["Michelle Obama", "Obama, Michelle", "Richard Powers", "Tara Westover",
           "Frank Herbert", "Anna Burns", "Madeline Miller", "Cady Heron", "M. Obama"]  # fmt: skip
BOOKS = st.builds(
    CandidateBook,
    title=st.sampled_from(TITLES),
    authors=st.lists(st.sampled_from(AUTHORS), max_size=2).map(tuple),
    publisher=st.sampled_from([None, "Crown", "Knopf", "Faber"]),
    publication_year=st.sampled_from([None, 2018, 2019]),
    publication_month=st.sampled_from([None, 3, 11]),
    description=st.sampled_from([None, "short", "a longer description"]),
    genres=st.lists(st.sampled_from(["Memoir", "memoir", "Fiction"]), max_size=2).map(tuple),
    isbn=st.sampled_from([None, "9781524763138", "9780393635522"]),
)
PER_PROVIDER = st.dictionaries(
    st.sampled_from(["gemini", "xai", "openai_compat", "ollama"]), st.lists(BOOKS, max_size=5)
)


def _as_candidates(books: list[GeneratedBook]) -> list[CandidateBook]:
    return [
        CandidateBook(title=b.title, subtitle=b.subtitle, authors=tuple(b.authors),
                      publisher=b.publisher, publication_year=b.publication_year,
                      publication_month=b.publication_month, format=b.format,
                      description=b.description, genres=tuple(b.genres), isbn=b.isbn)
        for b in books
    ]  # fmt: skip


def _without_providers(books: list[GeneratedBook]) -> list[dict[str, Any]]:
    return [b.model_dump(exclude={"source_providers"}) for b in books]


@settings(max_examples=200, deadline=None)
@given(PER_PROVIDER, st.randoms(use_true_random=False))
def test_dedup_ignores_input_order(per_provider: dict[str, list[CandidateBook]], rnd: Any) -> None:
    shuffled_keys = list(per_provider)
    rnd.shuffle(shuffled_keys)
    shuffled = {k: rnd.sample(per_provider[k], len(per_provider[k])) for k in shuffled_keys}
    assert dedup_books(shuffled) == dedup_books(per_provider)


@settings(max_examples=200, deadline=None)
@given(PER_PROVIDER)
def test_dedup_is_idempotent(per_provider: dict[str, list[CandidateBook]]) -> None:
    once = dedup_books(per_provider)
    twice = dedup_books({"gemini": _as_candidates(once)})
    assert _without_providers(twice) == _without_providers(once)
    assert len({b.book_id for b in once}) == len(once)
