"""Enricher decisions: the ISBNdb batching policy, author identities, work identity."""

from __future__ import annotations

from services.enricher.logic.works import (
    ExistingWork,
    author_identities,
    author_key_for,
    decide_work,
    work_key_for,
)


def test_author_identities_split_dedup_and_key() -> None:
    found = author_identities(["Rowling, J.K.", "J. K. Rowling & Jack Thorne", "John Tiffany"])
    assert [(a.name, a.normalized_name, a.author_order) for a in found] == [
        ("J. K. Rowling", "j k rowling", 1),
        ("Jack Thorne", "jack thorne", 2),
        ("John Tiffany", "john tiffany", 3),
    ]
    assert found[0].author_key == author_key_for("JK Rowling")


OBAMA_KEY = author_key_for("Michelle Obama")


def test_a_work_holding_the_isbn_wins() -> None:
    existing = [
        ExistingWork("wk-b", "Becoming", (OBAMA_KEY,)),
        ExistingWork("wk-z", "Something else entirely", matched_by_isbn=True),
        ExistingWork("wk-y", "Also else", isbns=("9781524763138",)),
    ]
    match = decide_work("9781524763138", "Becoming", ["Michelle Obama"], existing)
    assert (match.work_key, match.source, match.confidence) == ("wk-y", "isbn", 1.0)


def test_the_synthetic_work_of_the_same_book_is_reused() -> None:
    synthetic = work_key_for("Becoming", "Michelle Obama")
    existing = [ExistingWork(synthetic, "Becoming", (OBAMA_KEY,))]
    match = decide_work("9781524763138", "Becoming: A Memoir", ["Obama, Michelle"], existing)
    assert (match.work_key, match.source) == (synthetic, "title_author")


def test_a_variant_title_joins_only_when_the_author_agrees() -> None:
    existing = [
        ExistingWork("wk-hp", "Harry Potter and the Cursed Child", author_keys=(),
                     author_names=("Jack Thorne", "J.K. Rowling")),
        ExistingWork("wk-other", "Harry Potter & the Cursed Child", author_names=("A. Parody",)),
    ]  # fmt: skip
    match = decide_work("9781338216660", "Harry Potter & The Cursed Child: The Playscript",
                        ["Rowling, J. K."], existing)  # fmt: skip
    assert (match.work_key, match.source) == ("wk-hp", "title_author")
    assert match.confidence >= 0.8


def test_same_title_other_author_is_a_new_work() -> None:
    existing = [ExistingWork("wk-b", "Becoming", (OBAMA_KEY,))]
    match = decide_work("9780141980010", "Becoming", ["Cady Heron"], existing)
    assert (match.work_key, match.source) == (work_key_for("Becoming", "Cady Heron"), "new")


def test_same_author_other_title_is_a_new_work() -> None:
    existing = [ExistingWork("wk-d", "Dune", (author_key_for("Frank Herbert"),))]
    match = decide_work("9780593098233", "Dune Messiah", ["Frank Herbert"], existing)
    assert match.source == "new" and match.work_key == work_key_for(
        "Dune Messiah", "Herbert, Frank"
    )


def test_two_enrichers_agree_without_seeing_each_other() -> None:
    first = decide_work("9780393635522", "The Overstory", ["Richard Powers"], [])
    second = decide_work("9780393356687", "Overstory: A Novel", ["POWERS, RICHARD"], [])
    assert first == second and first.source == "new"


def test_ties_go_to_the_smallest_key_not_the_row_order() -> None:
    rows = [ExistingWork(key, "Becoming", (OBAMA_KEY,)) for key in ("wk-2", "wk-1")]
    a = decide_work("9781524763138", "Becoming!", ["Michelle Obama"], rows)
    b = decide_work("9781524763138", "Becoming!", ["Michelle Obama"], rows[::-1])
    assert a == b and (a.work_key, a.source) == ("wk-1", "title_author")
