"""The fold: enrichment_log rows, rejects, and order independence (the semilattice properties)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.projector.logic.authors import author_rows, merge_author
from services.projector.logic.editions import edition_row, merge_edition
from services.projector.logic.events import Positioned
from services.projector.logic.fold import State, fold
from services.projector.logic.merging import to_us
from services.projector.logic.month_books import NO_TALLY, book_tally
from services.projector.logic.works import merge_work, synthetic_work_row, work_row
from shared.events import (
    AuthorFacts,
    EditionFacts,
    ISBNResolved,
    MetadataFetched,
    WorkFacts,
    WorkMatch,
)
from shared.events.generated import Event
from tests.unit.projector_builders import (
    ISBN_A,
    ISBN_B,
    ISBN_C,
    at,
    author,
    book,
    content_id,
    edition,
    envelope_of,
    failed,
    fetched,
    generated,
    records,
    rows,
    scheduled,
)

# --- enrichment_log ----------------------------------------------------------------------------


def test_log_has_one_row_per_change_with_the_changed_columns() -> None:
    first = fetched(
        ISBN_A, 1, [edition(title="Normal People", response_time_ms=140)], authors=[author()]
    )
    richer = fetched(ISBN_A, 2, [edition("google_books", 30, page_count=273)])
    state = State()
    fold(state, records([first, first, richer]))
    log = [(r["entity_type"], r["operation"], r["provider"]) for r in state.log]
    assert log == [
        ("edition", "create", "isbndb"),
        ("work", "create", "isbndb"),
        ("author", "create", "isbndb"),
        ("edition", "update", "google_books"),
    ]
    assert state.log[0]["response_time_ms"] == 140
    assert state.log[0]["event_id"] == first.envelope.event_id
    assert state.log[0]["created_at"] == at(1)
    assert "title" in state.log[0]["fields_updated"]
    assert state.log[3]["fields_updated"] == ["page_count", "contributors", "completeness_score"]


# --- rejects -----------------------------------------------------------------------------------


def test_bad_events_are_rejected_and_the_rest_applies() -> None:
    good = fetched(ISBN_A, 1, [edition(title="T")])
    bad_isbn = fetched("9780571334651", 2, [edition()])
    bad_month = scheduled(3, month=12).model_copy(update={"month": 13})
    batch = records([bad_isbn, good, bad_month])
    batch.append(Positioned("t", 0, 9, "Nonsense", {}))
    batch.append(Positioned("t", 0, 10, "MetadataFetched", {"envelope": {}}))
    state = State()
    rejects = fold(state, batch)
    assert [(r.record.offset, r.reason.split(" ")[0]) for r in rejects] == [
        (0, "'9780571334651'"),
        (2, "month"),
        (9, "no"),
        (10, "malformed"),
    ]
    assert list(state.editions) == [ISBN_A]
    assert not state.months


# --- the semilattice ---------------------------------------------------------------------------

PROVIDERS = ["isbndb", "google_books", "openlibrary", "archive", "wikidata", "zlib"]
TEXT = st.sampled_from(["Normal People", "normal people", " Normal People ", "Conversations", ""])
OPT_TEXT = st.none() | TEXT
QUALITY = st.sampled_from([0, 40, 40, 80, 100])
ISBNS = [ISBN_A, ISBN_B, ISBN_C]
WORK_KEYS = ["w-1", "w-2"]
BOOK_IDS = ["b1", "b2", "b3"]

edition_facts = st.builds(
    EditionFacts,
    provider=st.sampled_from(PROVIDERS),
    quality=QUALITY,
    title=OPT_TEXT,
    subtitle=OPT_TEXT,
    publisher=OPT_TEXT,
    publication_date=st.sampled_from([None, "2018", "2018-08", "2018-08-28", "Aug 2018"]),
    page_count=st.sampled_from([None, 0, 273, 288]),
    format=OPT_TEXT,
    language=st.sampled_from([None, "en", "EN", "eng"]),
    cover_url_large=OPT_TEXT,
    amazon_asins=st.lists(TEXT, max_size=2),
    subjects=st.lists(TEXT, max_size=3),
    related_isbns=st.dictionaries(
        st.sampled_from(ISBNS), st.sampled_from(["", "ebook", "pb"]), max_size=2
    ),
    response_time_ms=st.integers(0, 500),
)
work_facts = st.builds(
    WorkFacts,
    provider=st.sampled_from(PROVIDERS),
    quality=QUALITY,
    title=OPT_TEXT,
    subtitle=OPT_TEXT,
    description=OPT_TEXT,
    original_language=st.sampled_from([None, "en", "fr"]),
    first_publication_year=st.sampled_from([None, 2017, 2018]),
    subject_tags=st.lists(TEXT, max_size=2),
    goodreads_work_ids=st.lists(TEXT, max_size=2),
)
author_facts = st.builds(
    AuthorFacts,
    provider=st.sampled_from(PROVIDERS),
    author_key=st.sampled_from(["a1", "a2"]),
    name=st.sampled_from(["Sally Rooney", "S. Rooney"]),
    normalized_name=st.just("sally rooney"),
    author_order=st.integers(0, 2),
    birth_year=st.sampled_from([None, 1991, 1990]),
    death_year=st.sampled_from([None, 1989, 2050]),
    bio=OPT_TEXT,
)
MINUTES = st.sampled_from([0, 1, 1, 2, 3])


@st.composite
def metadata_events(draw: st.DrawFn) -> MetadataFetched:
    located = draw(st.booleans())
    return content_id(
        MetadataFetched(
            envelope=envelope_of(MetadataFetched, "m", draw(MINUTES)),
            year=2019 if located else None,
            month=3 if located else None,
            book_id=draw(st.sampled_from(BOOK_IDS)) if located else None,
            isbn13=draw(st.sampled_from(ISBNS)),
            editions=draw(st.lists(edition_facts, max_size=2)),
            works=draw(st.lists(work_facts, max_size=2)),
            authors=draw(st.lists(author_facts, max_size=2)),
            work_match=WorkMatch(
                work_key=draw(st.sampled_from(WORK_KEYS)),
                confidence=draw(st.sampled_from([0.5, 0.9, 1.0])),
                source=draw(st.sampled_from(["isbn", "title_author", "new"])),
            ),
            fetch_ms=draw(st.integers(0, 900)),
        )
    )


@st.composite
def resolution_events(draw: st.DrawFn) -> ISBNResolved:
    outcome = draw(st.sampled_from(["resolved", "unresolved", "already_known"]))
    b = book(
        draw(st.sampled_from(BOOK_IDS)),
        draw(TEXT) or "T",
        providers=draw(st.lists(st.sampled_from(["gemini", "xai"]), max_size=2)),
    )
    return content_id(
        ISBNResolved(
            envelope=envelope_of(ISBNResolved, "r", draw(MINUTES)),
            year=2019,
            month=3,
            book=b,
            month_book_count=draw(st.integers(1, 3)),
            outcome=outcome,
            isbn13=draw(st.sampled_from(ISBNS)) if outcome != "unresolved" else None,
            attempts=[],
            work_key=draw(st.sampled_from(WORK_KEYS)) if outcome == "unresolved" else None,
        )
    )


@st.composite
def month_events(draw: st.DrawFn) -> Event:
    attempt, minutes = draw(st.integers(1, 6)), draw(MINUTES)
    kind = draw(st.sampled_from(["scheduled", "generated", "failed"]))
    if kind == "scheduled":
        return content_id(scheduled(minutes, attempt))
    if kind == "generated":
        books = [book(b) for b in BOOK_IDS[: draw(st.integers(0, 3))]]
        return content_id(generated(books, minutes, attempt))
    return content_id(failed(attempt, minutes))


any_event = st.one_of(metadata_events(), resolution_events(), month_events())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(any_event, min_size=1, max_size=12), data=st.data())
def test_any_permutation_with_duplicates_folds_to_the_same_rows(
    events: list[Event], data: st.DataObject
) -> None:
    batch = records(events)
    shuffled = data.draw(st.permutations(batch))
    duplicates = data.draw(st.lists(st.sampled_from(batch), max_size=4))
    split = data.draw(st.integers(0, len(batch)))
    one = State()
    fold(one, batch)
    other = State()  # another order, with redeliveries, in two batches
    fold(other, [*shuffled[:split], *duplicates])
    fold(other, shuffled[split:])
    assert rows(one) == rows(other)
    for (year, month), row in one.months.items():  # the tally is the sum over the month's books
        books = [b for (y, m, _), b in one.month_books.items() if (y, m) == (year, month)]
        expected = [sum(t) for t in zip(NO_TALLY, *map(book_tally, books), strict=False)]
        assert list(row["provenance"].get("tally", NO_TALLY)) == expected


def _contributions(event: MetadataFetched) -> tuple[Any, Any]:
    body = records([event])[0].event
    match = [
        body["work_match"]["confidence"],
        body["work_match"]["source"],
        body["work_match"]["work_key"],
        to_us(body["envelope"]["occurred_at"]),
    ]
    return (
        edition_row(ISBN_A, body["editions"], match, body["envelope"]["occurred_at"]),
        work_row(
            "w", body["works"], body["editions"], body["authors"], body["envelope"]["occurred_at"]
        ),
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(metadata_events(), min_size=3, max_size=3),
    st.lists(resolution_events(), min_size=1, max_size=1),
)
def test_merge_is_a_semilattice(
    events: list[MetadataFetched], synthetic: list[ISBNResolved]
) -> None:
    editions, works = zip(*(_contributions(e) for e in events), strict=True)
    body = records(synthetic)[0].event
    works = (*works[:2], synthetic_work_row("w", body["book"], body["envelope"]["occurred_at"]))
    for merge, (a, b, c) in ((merge_edition, editions), (merge_work, works)):
        assert merge(a, merge(b, c)) == merge(merge(a, b), c)
        assert merge(a, b) == merge(b, a)
        assert merge(a, copy.deepcopy(a)) == a


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(author_facts, min_size=1, max_size=1), min_size=3, max_size=3),
    st.lists(st.sampled_from([0, 1, 2]), min_size=3, max_size=3),
)
def test_author_merge_is_a_semilattice(facts: list[list[AuthorFacts]], times: list[int]) -> None:
    rows_ = []
    for f, minutes in zip(facts, times, strict=True):
        body = f[0].model_copy(update={"author_key": "a"}).model_dump()
        rows_.append(author_rows([body], at(minutes))["a"])
    a, b, c = rows_
    assert merge_author(a, merge_author(b, c)) == merge_author(merge_author(a, b), c)
    assert merge_author(a, b) == merge_author(b, a)
    assert merge_author(a, copy.deepcopy(a)) == a
