"""The projector's store on the real PostgreSQL: one transaction per batch with its offsets,
redelivery applies nothing twice, and two arrival orders give identical tables."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import pytest

from services.projector import store
from services.projector.logic.authors import EMPTY_AUTHOR
from services.projector.logic.editions import EMPTY_EDITION
from services.projector.logic.events import Positioned
from services.projector.logic.fold import State, fold
from services.projector.logic.month_books import EMPTY_MONTH_BOOK
from services.projector.logic.months import MONTH_COLUMNS
from services.projector.logic.works import EMPTY_WORK
from services.projector.store import apply_batch, load_offsets
from shared.events.generated import Event
from shared.settings import Settings
from tests.conftest import _temporary_database
from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    ISBN_C,
    at,
    author,
    book,
    edition,
    fetched,
    generated,
    records,
    resolved,
    scheduled,
    work,
)

CONSUMER = "projector-test"
# Everything the projection owns, in a stable order; surrogate ids are left out.
DUMPED = {
    "enriched_editions": "isbn",
    "enriched_works": "work_key",
    "enriched_authors": "author_key",
    "work_authors": "work_key, author_key",
    "backfill_log": "year, month",
    "month_books": "year, month, book_id",
}


@pytest.fixture
def other_database_url(stack: Settings, template_database: str) -> Iterator[str]:
    """A second fresh migrated database, made like conftest's `database_url`."""
    yield from _temporary_database(stack, f"test_{uuid.uuid4().hex[:12]}", template_database)


async def dump(db: asyncpg.Pool | asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table, order in DUMPED.items():
        rows = await db.fetch(f"SELECT * FROM {table} ORDER BY {order}")
        out[table] = [{k: v for k, v in r.items() if k != "id"} for r in rows]
    return out


async def log_rows(db: asyncpg.Pool) -> list[tuple[str, str, str, str]]:
    rows = await db.fetch(
        "SELECT entity_type, entity_key, operation, event_id::text AS e "
        "FROM enrichment_log ORDER BY id"
    )
    return [(r["entity_type"], r["entity_key"], r["operation"], r["e"]) for r in rows]


def month_story() -> list[Event]:
    """A month of three books: one resolved and enriched, one already known, one invented."""
    b1, b2, b3 = book("b1"), book("b2", "Conversations with Friends"), book("b3", "Invented")
    return [
        scheduled(0),
        generated([b1, b2, b3], 1),
        resolved(b1, 2, isbn=ISBN_A),
        resolved(b2, 3, outcome="already_known", isbn=ISBN_B),
        resolved(b3, 4, outcome="unresolved", work_key="w-invented"),
        fetched(
            ISBN_A,
            6,
            [
                edition(
                    "isbndb",
                    88,
                    title="Normal People",
                    publisher="Faber & Faber",
                    page_count=273,
                    subjects=["Fiction"],
                ),
                edition(
                    "openlibrary",
                    40,
                    title="Normal people",
                    format="paperback",
                    subjects=["Irish fiction"],
                ),
            ],
            [
                work("isbndb", 60, title="Normal People", description="d" * 120),
                work("wikidata", 30, title="Normal People", subject_tags=["Romance novel"]),
            ],
            [
                author(birth_year=1991, wikidata_id="Q48891779", provider="wikidata"),
                author(provider="isbndb"),
            ],
            book_id="b1",
        ),
        fetched(
            ISBN_C,
            7,
            [edition("google_books", 50, title="Beautiful World")],
            [work("google_books", 45, title="Beautiful World, Where Are You")],
            [author()],
            work_key="w-beautiful-world",
            source="title_author",
            confidence=0.8,
        ),
    ]


async def test_a_batch_projects_every_table_with_its_offsets(db: asyncpg.Pool) -> None:
    batch = records(month_story(), topic="p.events", partition=2, first_offset=40)
    result = await apply_batch(db, CONSUMER, batch)
    assert (result.applied, result.skipped, result.rejects) == (7, 0, [])

    editions = {r["isbn"]: r for r in await db.fetch("SELECT * FROM enriched_editions")}
    assert set(editions) == {ISBN_A, ISBN_C}
    a = editions[ISBN_A]
    assert (a["title"], a["publisher"], a["format"], a["work_key"]) == (
        "Normal People",
        "Faber & Faber",
        "paperback",
        "w-normal-people",
    )
    assert a["subjects"] == ["fiction", "irish fiction"]
    assert a["contributors"] == ["isbndb", "openlibrary"]
    assert (a["primary_provider"], a["isbndb_quality"], a["completeness_score"]) == (
        "isbndb",
        88,
        33,
    )  # title, publisher, page_count, format: 4/12
    assert (a["created_at"], a["updated_at"]) == (at(6), at(6))

    works = {r["work_key"]: r for r in await db.fetch("SELECT * FROM enriched_works")}
    assert set(works) == {"w-normal-people", "w-invented", "w-beautiful-world"}
    invented = works["w-invented"]
    assert (invented["synthetic"], invented["completeness_score"]) == (True, 30)
    assert invented["primary_provider"] == "gemini"
    assert (
        await db.fetchval(
            "SELECT jsonb_typeof(metadata) FROM enriched_works WHERE work_key = 'w-invented'"
        )
        == "object"
    )
    assert works["w-normal-people"]["subject_tags"] == ["romance novel"]
    assert await db.fetch(
        "SELECT work_key, author_key, author_order FROM work_authors ORDER BY work_key"
    ) == [("w-beautiful-world", "a-sally-rooney", 0), ("w-normal-people", "a-sally-rooney", 0)]
    rooney = await db.fetchrow("SELECT * FROM enriched_authors")
    assert (rooney["birth_year"], rooney["wikidata_id"], rooney["contributors"]) == (
        1991,
        "Q48891779",
        ["isbndb", "wikidata"],
    )

    month = await db.fetchrow("SELECT * FROM backfill_log WHERE year = 2019 AND month = 3")
    assert (
        month["status"],
        month["books_generated"],
        month["isbns_resolved"],
        month["isbns_queued"],
        str(month["resolution_rate"]),
    ) == ("completed", 3, 2, 1, "66.67")
    assert (month["started_at"], month["completed_at"]) == (at(0), at(6))
    assert (month["gemini_calls"], month["xai_calls"], month["isbndb_calls"]) == (1, 2, 3)
    assert await db.fetchval("SELECT count(*) FROM month_books") == 3

    assert [(t, op) for t, _, op, _ in await log_rows(db)] == [
        ("work", "create"),
        ("edition", "create"),
        ("work", "create"),
        ("author", "create"),
        ("edition", "create"),
        ("work", "create"),
    ]  # the author gained nothing new
    assert await load_offsets(db, CONSUMER) == {("p.events", 2): 47}


async def test_rows_and_offsets_commit_together(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the rows are written but before the commit leaves neither behind."""

    async def crash(*_: Any) -> int:
        raise ConnectionError("projector killed mid-batch")

    monkeypatch.setattr(store, "_write_log", crash)
    with pytest.raises(ConnectionError):
        await apply_batch(db, CONSUMER, records(month_story()))
    assert all(rows == [] for rows in (await dump(db)).values())
    assert await load_offsets(db, CONSUMER) == {}
    monkeypatch.undo()
    result = await apply_batch(db, CONSUMER, records(month_story()))  # the restart
    assert (result.applied, result.skipped) == (7, 0)
    assert await db.fetchval("SELECT count(*) FROM enriched_editions") == 2


async def test_redelivery_applies_nothing_twice(db: asyncpg.Pool) -> None:
    batch = records(month_story())
    await apply_batch(db, CONSUMER, batch)
    before, log_before = await dump(db), await log_rows(db)

    again = await apply_batch(db, CONSUMER, batch)  # the same offsets: skipped
    assert (again.applied, again.skipped) == (0, len(batch))
    assert again.stale == {(r.topic, r.partition, r.offset) for r in batch}  # counted duplicates
    # The same events at new offsets (a producer retry): applied, but nothing changes.
    copies = records(month_story(), first_offset=len(batch))
    republished = await apply_batch(db, CONSUMER, copies)
    assert (republished.applied, republished.log_rows, republished.rejects) == (len(batch), 0, [])
    assert await dump(db) == before
    assert await log_rows(db) == log_before
    assert await load_offsets(db, CONSUMER) == {("t", 0): 2 * len(batch)}


async def _apply_in_batches(db: asyncpg.Pool, batch: Sequence[Positioned], size: int) -> None:
    for start in range(0, len(batch), size):
        result = await apply_batch(db, CONSUMER, batch[start : start + size])
        assert result.rejects == []


async def test_two_orders_give_identical_tables(db: asyncpg.Pool, other_database_url: str) -> None:
    events = month_story()
    first = records(events)
    await _apply_in_batches(db, first, 3)

    rng = random.Random(7)
    shuffled = [*events, *rng.sample(events, 3)]  # with duplicates
    rng.shuffle(shuffled)
    second = records(shuffled, topic="other", partition=1)
    other = await asyncpg.create_pool(other_database_url, min_size=1, max_size=2)
    try:
        await _apply_in_batches(other, second, 2)
        assert await dump(other) == await dump(db)
        assert len(await log_rows(other)) > 0
    finally:
        await other.close()


async def test_the_store_matches_the_pure_fold(db: asyncpg.Pool) -> None:
    """Column for column what State gets, after round trips through PostgreSQL in small batches."""
    batch = records(month_story())
    await _apply_in_batches(db, batch, 2)
    state = State()
    fold(state, batch)
    for table, key, expected in (
        ("enriched_editions", "isbn", state.editions),
        ("enriched_works", "work_key", state.works),
        ("enriched_authors", "author_key", state.authors),
    ):
        stored = {r[key]: dict(r) for r in await db.fetch(f"SELECT * FROM {table}")}
        assert set(stored) == set(expected)
        for row_key, row in expected.items():
            for column, value in row.items():
                got = stored[row_key][column]
                if column in ("provenance", "metadata", "related_isbns"):
                    got = json.loads(got)
                if column == "work_match_confidence":  # a `real` column
                    assert got == pytest.approx(value), (table, column)
                else:
                    assert got == value, (table, column)


async def test_synthetic_work_is_upgraded_in_place(db: asyncpg.Pool) -> None:
    invented = book("b9", "Normal People", providers=["xai"])
    await apply_batch(
        db,
        CONSUMER,
        records([resolved(invented, 1, outcome="unresolved", work_key="w-normal-people")]),
    )
    row = await db.fetchrow("SELECT * FROM enriched_works")
    assert (row["synthetic"], row["completeness_score"], row["primary_provider"]) == (
        True,
        30,
        "xai",
    )
    metadata = row["metadata"]

    later = fetched(
        ISBN_A,
        5,
        [edition(title="Normal People")],
        [work("isbndb", 70, title="Normal People", original_language="en")],
    )
    await apply_batch(db, CONSUMER, records([later], first_offset=1))
    rows = await db.fetch("SELECT * FROM enriched_works")
    assert len(rows) == 1
    upgraded = rows[0]
    assert (upgraded["synthetic"], upgraded["primary_provider"]) == (False, "isbndb")
    assert upgraded["completeness_score"] == 36
    assert upgraded["metadata"] == metadata
    assert (upgraded["created_at"], upgraded["updated_at"]) == (at(1), at(5))
    log = [(t, k, op) for t, k, op, _ in await log_rows(db) if t == "work"]
    assert log == [("work", "w-normal-people", "create"), ("work", "w-normal-people", "update")]


async def test_rejected_events_do_not_poison_the_batch(db: asyncpg.Pool) -> None:
    good = fetched(ISBN_A, 1, [edition(title="Normal People")])
    bad_isbn = fetched("9780571334651", 2, [edition()])
    bad_month = scheduled(3, month=12).model_copy(update={"month": 13})
    undecodable = Positioned.skipped("t", 0, 3)  # dead-lettered by the caller before the batch
    batch = [*records([bad_isbn, good, bad_month]), undecodable]
    result = await apply_batch(db, CONSUMER, batch)
    assert [r.record.offset for r in result.rejects] == [0, 2]
    assert "not a valid ISBN-13" in result.rejects[0].reason
    assert "outside 1..12" in result.rejects[1].reason
    assert await db.fetchval("SELECT count(*) FROM enriched_editions") == 1
    assert await db.fetchval("SELECT count(*) FROM backfill_log") == 0
    assert await load_offsets(db, CONSUMER) == {("t", 0): 4}


async def test_concurrent_batches_on_new_rows_both_count(db: asyncpg.Pool) -> None:
    """Two projectors creating the same rows at once: one retries, neither is lost."""
    one = fetched(
        ISBN_A,
        1,
        [edition("isbndb", 80, title="Normal People")],
        [work("isbndb", 50, title="Normal People")],
        [author(provider="isbndb")],
    )
    two = fetched(
        ISBN_A,
        2,
        [edition("google_books", 30, page_count=273)],
        [work("wikidata", 20, subject_tags=["novel"])],
        [author(provider="wikidata", birth_year=1991)],
    )
    await asyncio.gather(
        apply_batch(db, "c1", records([one], topic="a")),
        apply_batch(db, "c2", records([two], topic="b")),
    )
    state = State()
    fold(state, records([one, two]))
    edition_row = await db.fetchrow("SELECT * FROM enriched_editions")
    assert (edition_row["title"], edition_row["page_count"]) == ("Normal People", 273)
    work_row = await db.fetchrow("SELECT * FROM enriched_works")
    assert work_row["subject_tags"] == ["novel"]
    assert work_row["contributors"] == state.works["w-normal-people"]["contributors"]
    assert (await db.fetchrow("SELECT * FROM enriched_authors"))["birth_year"] == 1991


async def test_rows_written_before_provenance_keep_their_values(db: asyncpg.Pool) -> None:
    await db.execute(
        "INSERT INTO enriched_works (work_key, title, description, primary_provider, "
        "created_at, updated_at) VALUES ('w-normal-people', 'Normal People (legacy)', "
        "'An old description.', 'isbndb', $1, $1)",
        at(-60),
    )
    await apply_batch(
        db,
        CONSUMER,
        records([fetched(ISBN_A, 1, works=[work("wikidata", 10, title="Normal People")])]),
    )
    row = await db.fetchrow("SELECT * FROM enriched_works")
    assert (row["title"], row["description"]) == ("Normal People", "An old description.")
    assert (row["created_at"], row["updated_at"]) == (at(-60), at(1))


async def test_fold_rows_have_exactly_the_table_columns(db: asyncpg.Pool) -> None:
    async def columns(table: str) -> set[str]:
        return {
            r["column_name"]
            for r in await db.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
            )
        }

    assert set(EMPTY_EDITION) == await columns("enriched_editions")
    assert set(EMPTY_WORK) == await columns("enriched_works")
    assert set(EMPTY_AUTHOR) == await columns("enriched_authors")
    assert set(EMPTY_MONTH_BOOK) == await columns("month_books")
    assert {"year", "month", *MONTH_COLUMNS} <= await columns("backfill_log")
