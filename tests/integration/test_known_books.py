"""The resolver's known-books query on the real PostgreSQL, one test per labelled category of
bench/dedup_query.py: the right stored work is found, and a different book never is."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.resolver.logic.resolution import known_book_match
from services.resolver.store import PostgresKnownBooks
from shared.events import GeneratedBook
from shared.similarity import author_lookup_keys
from shared.text import author_key_for, normalise_author

AT = datetime(2024, 1, 1, tzinfo=UTC)
# (work_key, authors, edition titles with their ISBNs)
CATALOGUE = [
    ("wk-educated", ["Tara Westover"], [("9780399590504", "Educated"),
                                        ("9780399590511", "Educated: A Memoir")]),
    ("wk-overstory", ["Richard Powers"], [("9780393635522", "The Overstory")]),
    ("wk-potter", ["Joanne K. Rowling"],
     [("9780439064873", "Harry Potter and the Chamber of Secrets")]),
    ("wk-becoming", ["Michelle Obama"], [("9781524763138", "Becoming")]),
    ("wk-dune", ["Frank Herbert"], [("9780441172719", "Dune")]),
    ("wk-smith", ["Zadie Smith"], [("9780375703867", "White Teeth")]),
    ("wk-king", ["Martin Luther King, Jr."], [("9780807000670", "Strength to Love")]),
]  # fmt: skip


async def _store(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for work_key, authors, editions in CATALOGUE:
            await conn.execute(
                "INSERT INTO enriched_works (work_key, title, created_at, updated_at) "
                "VALUES ($1, $2, $3, $3)",
                work_key, editions[0][1], AT,
            )  # fmt: skip
            for order, name in enumerate(authors):
                await conn.execute(
                    "INSERT INTO enriched_authors (author_key, name, normalized_name, created_at,"
                    " updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
                    author_key_for(name), name, normalise_author(name), AT,
                )  # fmt: skip
                await conn.execute(
                    "INSERT INTO work_authors (work_key, author_key, author_order) "
                    "VALUES ($1, $2, $3)",
                    work_key, author_key_for(name), order,
                )  # fmt: skip
            for isbn, title in editions:
                await conn.execute(
                    "INSERT INTO enriched_editions (isbn, title, work_key, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $4)",
                    isbn, title, work_key, AT,
                )  # fmt: skip


CASES = [
    # category, title, authors, isbn, the work it is (None: not known)
    ("isbn", "Educated", ["Tara Westover"], "9780399590504", "wk-educated"),
    ("exact", "Educated", ["Tara Westover"], None, "wk-educated"),
    ("subtitle variant", "Educated: A Memoir", ["Tara Westover"], None, "wk-educated"),
    ("case and punctuation", "harry potter & the chamber of secrets!", ["J.K. Rowling"], None,
     "wk-potter"),
    ("leading article", "Overstory", ["Richard Powers"], None, "wk-overstory"),
    ("author initials", "Harry Potter and the Chamber of Secrets", ["J. K. Rowling"], None,
     "wk-potter"),
    ("inverted name with suffix", "Strength to Love", ["King, Martin Luther, Jr."], None,
     "wk-king"),
    ("surname only", "White Teeth", ["Smith"], None, "wk-smith"),
    ("similar title, same author", "Dune Messiah", ["Frank Herbert"], None, None),
    ("similar title, same author", "Harry Potter and the Chamber of Sorrows", ["J.K. Rowling"],
     None, None),
    ("same title, other author", "Becoming", ["Laura Dave"], None, None),
    ("same title, same surname, other person", "White Teeth", ["John Smith"], None, None),
    ("invented", "The Glass Orchard of Venn", ["Ilse Marrow"], None, None),
    ("unplausible ISBN", "Some Other Book", ["Ilse Marrow"], "9780399590504", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("category", "title", "authors", "isbn", "expected"), CASES, ids=[c[0] for c in CASES]
)
async def test_each_labelled_category(
    db: asyncpg.Pool,
    category: str,
    title: str,
    authors: list[str],
    isbn: str | None,
    expected: str | None,
) -> None:
    await _store(db)
    asked = GeneratedBook(book_id="b0", title=title, authors=authors, isbn=isbn)
    rows = await PostgresKnownBooks(db).known_rows([asked])
    hit = known_book_match(asked, rows.get(0, []))
    assert (hit.work_key if hit else None) == expected, (category, rows)


async def test_a_nul_in_one_title_costs_only_that_title(db: asyncpg.Pool) -> None:
    """Issue 12: PostgreSQL text holds no NUL (nor a lone surrogate); one such title used to
    fail the query for the whole batch. Now it costs at most that book ("Edu cated" is no
    longer "Educated" to the decision), and a replaced surrogate costs nothing."""
    await _store(db)
    books = [
        GeneratedBook(book_id="b0", title="Edu\x00cated", authors=["Tara\x00 Westover"]),
        GeneratedBook(book_id="b1", title="\ud800Dune", authors=["Frank Herbert"]),
        GeneratedBook(book_id="b2", title="Becoming", authors=["Michelle Obama"]),
    ]
    rows = await PostgresKnownBooks(db).known_rows(books)
    found = [known_book_match(b, rows.get(i, [])) for i, b in enumerate(books)]
    assert [k.work_key if k else None for k in found] == [None, "wk-dune", "wk-becoming"]


async def test_sql_author_keys_are_the_python_ones(db: asyncpg.Pool) -> None:
    """Migration 0004's index keys must equal author_lookup_keys, or the title branch misses."""
    names = ["J.K. Rowling", "Rowling, Joanne", "Martin Luther King, Jr.", "Homer", "Jr",
             "Ursula K. Le Guin", "Gabriel García Márquez", "Brontë, Charlotte", "Smith III",
             "A. B. C. Dee Sr."]  # fmt: skip
    rows = await db.fetch(
        "SELECT author_surname_key(n) AS s, author_initial_key(n) AS i FROM unnest($1::text[]) n",
        [normalise_author(n) for n in names],
    )
    assert [(r["s"], r["i"]) for r in rows] == [author_lookup_keys(n) for n in names]
