"""Shared text rules: folding, title and author normalisation, similarity, stable keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.similarity import (
    AUTHORS_AGREE,
    AUTHORS_UNKNOWN,
    author_agreement,
    name_agreement,
    title_similarity,
)
from shared.text import (
    author_key_for,
    book_id_for,
    display_author,
    fold_accents,
    normalise_author,
    normalise_title,
    split_authors,
    stable_key,
    tidy_authors,
    title_without_subtitle,
    work_key_for,
)

NAME_PIECES = [*"abcdeJKLMNOPéøßÆ .,-'&;()", "Jr.", "III", " van ", " and ", "Rowling", "jo"]
NAME_TEXT = st.lists(st.sampled_from(NAME_PIECES), max_size=15).map("".join)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Brontë", "bronte"), ("Ø", "o"), ("ß", "ss"), ("Æsop", "aesop"), ("Łódź", "lodz"),
     ("Zoë Heller", "zoe heller"), ("ﬁnal", "final")],
)  # fmt: skip
def test_fold_accents_folds_rather_than_drops(raw: str, folded: str) -> None:
    assert fold_accents(raw) == folded


@pytest.mark.parametrize(
    ("title", "normalised"),
    [
        ("The Overstory", "overstory"),
        ("Overstory, The", "overstory"),
        ("Harry Potter & the Cursed Child", "harry potter and the cursed child"),
        ("L'Étranger", "etranger"),
        ("Les Misérables", "miserables"),
        ("Der Vorleser", "vorleser"),
        ("El amor en los tiempos del cólera", "amor en los tiempos del colera"),
        ("A Little Life", "little life"),
        ("Educated: A Memoir", "educated a memoir"),
        ("  Where   the Crawdads Sing!  ", "where the crawdads sing"),
        ("Harry's Story", "harrys story"),
        ("The", "the"),
    ],
)
def test_normalise_title(title: str, normalised: str) -> None:
    assert normalise_title(title) == normalised


@pytest.mark.parametrize(
    ("title", "main"),
    [
        ("Educated: A Memoir", "Educated"),
        ("Harry Potter & the Cursed Child - Parts One and Two", "Harry Potter & the Cursed Child"),
        ("Normal People (A Novel)", "Normal People"),
        ("Becoming — A Memoir", "Becoming"),
        ("Spider-Man", "Spider-Man"),
        ("(Un)Bound", "(Un)Bound"),
    ],
)
def test_title_without_subtitle(title: str, main: str) -> None:
    assert title_without_subtitle(title) == main


@pytest.mark.parametrize(
    "name",
    ["J. K. Rowling", "J.K. Rowling", "Rowling, J.K.", "JK Rowling", "j.k.rowling", "J K  Rowling"],
)
def test_author_spellings_share_one_key(name: str) -> None:
    assert normalise_author(name) == "j k rowling"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Martin Luther King, Jr.", "martin luther king jr"),
        ("King, Martin Luther, Jr.", "martin luther king jr"),
        ("Martin Luther King Junior", "martin luther king jr"),
        ("John Smith III", "john smith iii"),
        ("Beauvoir, Simone de", "simone de beauvoir"),
        ("Ludwig van Beethoven", "ludwig van beethoven"),
        ("García Márquez, Gabriel", "gabriel garcia marquez"),
        ("Jean-Paul Sartre", "jean paul sartre"),
        ("Flannery O'Connor", "flannery oconnor"),
        ("JRR Tolkien", "j r r tolkien"),
        ("LEE CHILD", "lee child"),
        ("Amy TAN", "amy tan"),
        ("Ken Liu (Translator)", "ken liu"),
        ("Charlotte Brontë", "charlotte bronte"),
    ],
)
def test_normalise_author(name: str, key: str) -> None:
    assert normalise_author(name) == key


@given(NAME_TEXT)
def test_normalise_author_is_idempotent(name: str) -> None:
    once = normalise_author(name)
    assert normalise_author(once) == once


@given(NAME_TEXT)
def test_display_author_is_idempotent_and_keeps_the_key(name: str) -> None:
    shown = display_author(name)
    assert display_author(shown) == shown
    assert normalise_author(shown) == normalise_author(name)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("J.K. Rowling", "J. K. Rowling"),
        ("Rowling, JK", "J. K. Rowling"),
        ("j k rowling", "J. K. Rowling"),
        ("SIMONE DE BEAUVOIR", "Simone de Beauvoir"),
        ("King, Martin Luther, Jr.", "Martin Luther King Jr."),
        ("Cormac McCarthy", "Cormac McCarthy"),
        ("Zoë  Heller", "Zoë Heller"),
    ],
)
def test_display_author(name: str, shown: str) -> None:
    assert display_author(name) == shown


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("Neil Gaiman & Terry Pratchett", ["Neil Gaiman", "Terry Pratchett"]),
        ("Neil Gaiman and Terry Pratchett", ["Neil Gaiman", "Terry Pratchett"]),
        ("Stephen King, Peter Straub and Joe Hill", ["Stephen King", "Peter Straub", "Joe Hill"]),
        ("Stephen King, Peter Straub, and Joe Hill", ["Stephen King", "Peter Straub", "Joe Hill"]),
        ("Stephen King; Owen King", ["Stephen King", "Owen King"]),
        ("Neil Gaiman, Terry Pratchett", ["Neil Gaiman", "Terry Pratchett"]),
        ("Rowling, J.K.", ["Rowling, J.K."]),
        ("King, Stephen", ["King, Stephen"]),
        ("García Márquez, Gabriel", ["García Márquez, Gabriel"]),
        ("King, Martin Luther, Jr.", ["King, Martin Luther, Jr."]),
        ("Martin Luther King, Jr.", ["Martin Luther King, Jr."]),
        ("King, Stephen and Straub, Peter", ["King, Stephen", "Straub, Peter"]),
        ("Smith, John, Doe, Jane", ["Smith, John", "Doe, Jane"]),
        ("Michelle Obama", ["Michelle Obama"]),
        ("", []),
    ],
)
def test_split_authors(raw: str, names: list[str]) -> None:
    assert split_authors(raw) == names


def test_tidy_authors_splits_tidies_and_dedups() -> None:
    raw = ["Rowling, J.K.", "J. K. Rowling & John Tiffany", "Jack Thorne", ""]
    assert tidy_authors(raw) == ["J. K. Rowling", "John Tiffany", "Jack Thorne"]


@given(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=4))
def test_stable_key_is_deterministic_and_short(prefix: str, parts: list[str]) -> None:
    key = stable_key(prefix, *parts)
    assert key == stable_key(prefix, *parts)
    assert key.startswith(f"{prefix}-") and len(key) == len(prefix) + 17


def test_stable_key_separates_parts_and_evens_out_whitespace() -> None:
    assert stable_key("wk", "ab", "c") != stable_key("wk", "a", "bc")
    assert stable_key("wk", "the  overstory ") == stable_key("wk", "the overstory")
    assert stable_key("wk", "x") != stable_key("au", "x")


def test_keys_agree_across_spellings() -> None:
    assert work_key_for("The Overstory: A Novel", "Richard Powers") == work_key_for(
        "Overstory", "Powers, Richard"
    )
    assert book_id_for("Educated: A Memoir", "Tara Westover") == book_id_for(
        "Educated", "TARA WESTOVER"
    )
    assert author_key_for("JK Rowling") == author_key_for("Rowling, J. K.")
    assert work_key_for("Becoming", "Michelle Obama") != work_key_for("Becoming", "Cady Heron")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Normal People", "normal people: a novel"),
        (
            "Harry Potter and the Cursed Child",
            "Harry Potter & the Cursed Child - Parts One and Two",
        ),
        ("The Overstory", "Overstory"),
        ("Educated: A Memoir", "Educated"),
        ("Où on va, papa ?", "Ou on va papa"),
        ("Where the Crawdads Sing", "Where the Crawdad Sings"),
        ("Seven Husbands of Evelyn Hugo: A Novel", "The Seven Husbands of Evelyn Hugo"),
    ],
)
def test_same_titles_score_high(a: str, b: str) -> None:
    assert title_similarity(a, b) >= 0.95
    assert title_similarity(b, a) == title_similarity(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Normal People", "Conversations with Friends"),
        ("Dune", "Dune Messiah"),
        ("Thrawn: Alliances", "Thrawn: Treason"),
        ("The Testaments", "The Handmaid's Tale"),
        ("Harry Potter and the Cursed Child", "Harry Potter and the Deathly Hallows"),
        ("Star Wars: Thrawn", "Star Wars: Lost Stars"),
        ("Wings of Fire, Book 1", "Wings of Fire, Book 2"),
        ("", "Anything"),
    ],
)
def test_distinct_titles_score_low(a: str, b: str) -> None:
    assert title_similarity(a, b) < 0.6


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("J. K. Rowling", "J.K. Rowling", 1.0, 1.0),
        ("J. K. Rowling", "Joanne Rowling", 0.8, 0.9),
        ("Michelle Obama", "Michelle LaVaughn Robinson Obama", 0.8, 0.9),
        ("J.K. Rowling", "Rowling", 0.6, 0.75),
        ("Richard Powers", "Richard Power", 0.6, 0.9),
        ("Stephen King", "Tabitha King", 0.0, 0.3),
        ("Martin Luther King Jr.", "Martin Luther King Sr.", 0.0, 0.3),
        ("Stephen King", "Stephen Fry", 0.0, 0.0),
        ("", "Stephen King", 0.0, 0.0),
    ],
)
def test_name_agreement(a: str, b: str, low: float, high: float) -> None:
    assert low <= name_agreement(a, b) <= high


def test_author_agreement_takes_the_best_pair_and_knows_when_it_cannot_tell() -> None:
    assert author_agreement(["Jack Thorne", "J.K. Rowling"], ["Rowling, J. K."]) == 1.0
    assert author_agreement(["Michelle Obama"], ["Cady Heron"]) == 0.0
    assert author_agreement([], ["Michelle Obama"]) == AUTHORS_UNKNOWN < AUTHORS_AGREE
    assert author_agreement(["  "], ["Michelle Obama"]) == AUTHORS_UNKNOWN
