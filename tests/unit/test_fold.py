"""The projector's fold: each merge rule, month progress, rejects, and order independence.

The builders at the top are shared with tests/integration/test_projector_store.py.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.projector.contributions import edition_row, synthetic_work_row, work_row
from services.projector.fold import Record, State, fold
from services.projector.merge import (
    merge_author,
    merge_edition,
    merge_month_book,
    merge_work,
    to_us,
)
from services.projector.months import NO_TALLY, MonthRules, book_tally
from shared.events import (
    AuthorFacts,
    BooksGenerated,
    Codec,
    EditionFacts,
    GeneratedBook,
    ISBNResolved,
    LLMCall,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
    ResolutionAttempt,
    WorkFacts,
    WorkMatch,
    make_envelope,
)
from shared.events.generated import Event

# --- builders ----------------------------------------------------------------------------------

T0 = datetime(2019, 4, 1, 9, 0, tzinfo=UTC)
CODEC = Codec()
ISBN_A, ISBN_B, ISBN_C = "9780571334650", "9780571334667", "9780143127741"
NAMESPACE = uuid.UUID("0d7f3a52-1b8e-4c1e-9a55-2f4c1f1f0a11")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _envelope(
    model: type[Event], label: str, minutes: float, year: int = 2019, month: int = 3
) -> Any:
    return make_envelope(
        model,
        producer="tests",
        correlation_id=f"month:{year}-{month:02d}",
        event_id=str(uuid.uuid5(NAMESPACE, label)),
        occurred_at=at(minutes),
    )


def content_id(event: Event) -> Any:
    """The event with an id derived from its content: as in production, one id, one content."""
    label = event.model_dump_json(exclude={"envelope": {"event_id"}})
    envelope = event.envelope.model_copy(update={"event_id": str(uuid.uuid5(NAMESPACE, label))})
    return event.model_copy(update={"envelope": envelope})


def book(
    book_id: str,
    title: str = "Normal People",
    authors: Sequence[str] = ("Sally Rooney",),
    providers: Sequence[str] = ("gemini", "xai"),
) -> GeneratedBook:
    return GeneratedBook(
        book_id=book_id,
        title=title,
        authors=list(authors),
        publisher="Faber",
        publication_year=2018,
        description=f"{title}, as the LLM recalls it.",
        genres=["fiction"],
        source_providers=list(providers),
    )


def scheduled(
    minutes: float = 0, attempt: int = 1, year: int = 2019, month: int = 3, label: str = ""
) -> MonthScheduled:
    return MonthScheduled(
        envelope=_envelope(
            MonthScheduled, f"s{year}{month}{attempt}-{minutes}{label}", minutes, year, month
        ),
        year=year,
        month=month,
        prompt_variant="baseline",
        batch_size=20,
        attempt=attempt,
    )


CALLS = [
    LLMCall(provider="gemini", model="g", calls=1, books_returned=2, duration_ms=10),
    LLMCall(provider="xai", model="x", calls=2, books_returned=1, duration_ms=10),
]


def generated(
    books: Sequence[GeneratedBook],
    minutes: float = 1,
    attempt: int = 1,
    year: int = 2019,
    month: int = 3,
) -> BooksGenerated:
    label = f"g{year}{month}{attempt}-{minutes}-{len(books)}"
    return BooksGenerated(
        envelope=_envelope(BooksGenerated, label, minutes, year, month),
        year=year,
        month=month,
        prompt_variant="baseline",
        attempt=attempt,
        books=list(books),
        provider_calls=CALLS,
    )


def failed(attempt: int, minutes: float, year: int = 2019, month: int = 3) -> MonthGenerationFailed:
    return MonthGenerationFailed(
        envelope=_envelope(
            MonthGenerationFailed, f"f{year}{month}{attempt}-{minutes}", minutes, year, month
        ),
        year=year,
        month=month,
        attempt=attempt,
        reason=f"every LLM failed (attempt {attempt})",
        provider_calls=CALLS,
    )


def resolved(
    b: GeneratedBook,
    minutes: float,
    outcome: str = "resolved",
    isbn: str | None = None,
    work_key: str | None = None,
    count: int = 3,
    year: int = 2019,
    month: int = 3,
) -> ISBNResolved:
    attempts = [
        ResolutionAttempt(
            provider="isbndb", status="matched", candidate_isbn=isbn, score=0.95, duration_ms=12
        )
    ]
    return ISBNResolved(
        envelope=_envelope(ISBNResolved, f"r{b.book_id}{outcome}{minutes}", minutes, year, month),
        year=year,
        month=month,
        book=b,
        month_book_count=count,
        outcome=outcome,
        isbn13=isbn,
        provider="isbndb" if outcome == "resolved" else None,
        confidence=0.95 if outcome == "resolved" else None,
        attempts=attempts,
        work_key=work_key,
    )


def edition(provider: str = "isbndb", quality: int = 80, **fields: Any) -> EditionFacts:
    return EditionFacts(provider=provider, quality=quality, **fields)


def work(provider: str = "isbndb", quality: int = 60, **fields: Any) -> WorkFacts:
    return WorkFacts(provider=provider, quality=quality, **fields)


def author(
    key: str = "a-sally-rooney",
    name: str = "Sally Rooney",
    order: int = 0,
    provider: str = "isbndb",
    **fields: Any,
) -> AuthorFacts:
    return AuthorFacts(
        provider=provider,
        author_key=key,
        name=name,
        normalized_name=name.lower(),
        author_order=order,
        **fields,
    )


def fetched(
    isbn: str,
    minutes: float,
    editions: Sequence[EditionFacts] = (),
    works: Sequence[WorkFacts] = (),
    authors: Sequence[AuthorFacts] = (),
    work_key: str = "w-normal-people",
    confidence: float = 1.0,
    source: str = "new",
    book_id: str | None = None,
    label: str = "",
    year: int = 2019,
    month: int = 3,
) -> MetadataFetched:
    located = book_id is not None
    return MetadataFetched(
        envelope=_envelope(MetadataFetched, f"m{isbn}{minutes}{label}", minutes, year, month),
        year=year if located else None,
        month=month if located else None,
        book_id=book_id,
        isbn13=isbn,
        editions=list(editions),
        works=list(works),
        authors=list(authors),
        work_match=WorkMatch(work_key=work_key, confidence=confidence, source=source),
        fetch_ms=300,
    )


def records(
    events: Iterable[Event], topic: str = "t", partition: int = 0, first_offset: int = 0
) -> list[Record]:
    """Through the codec's fast path, as the projector reads them."""
    out = []
    for offset, event in enumerate(events, start=first_offset):
        event_type, body = CODEC.decode_raw(CODEC.encode(event))
        out.append(Record(topic, partition, offset, event_type.name, body))
    return out


def folded(events: Iterable[Event], rules: MonthRules | None = None) -> State:
    state = State()
    assert fold(state, records(events), rules) == []
    return state


def rows(state: State) -> dict[str, Any]:
    return {
        "editions": state.editions,
        "works": state.works,
        "authors": state.authors,
        "months": state.months,
        "month_books": state.month_books,
    }


# --- editions ----------------------------------------------------------------------------------


def test_highest_quality_title_wins_in_any_order() -> None:
    low = fetched(ISBN_A, 1, [edition("isbndb", 40, title="Normal people (pbk)")])
    high = fetched(ISBN_A, 2, [edition("openlibrary", 70, title="Normal People")])
    for events in ([low, high], [high, low]):
        row = folded(events).editions[ISBN_A]
        assert row["title"] == "Normal People"
        assert row["primary_provider"] == "openlibrary"


def test_title_ties_go_to_the_source_order_then_the_value() -> None:
    isbndb = fetched(ISBN_A, 1, [edition("isbndb", 50, publisher="Faber")])
    google = fetched(ISBN_A, 2, [edition("google_books", 50, publisher="Faber & Faber")])
    assert folded([google, isbndb]).editions[ISBN_A]["publisher"] == "Faber"
    same_a = fetched(ISBN_A, 1, [edition("isbndb", 50, subtitle="A novel")])
    same_b = fetched(ISBN_A, 2, [edition("isbndb", 50, subtitle="A Novel")])
    assert folded([same_a, same_b]).editions[ISBN_A]["subtitle"] == "A novel"  # "a" > "N"
    assert folded([same_b, same_a]).editions[ISBN_A]["subtitle"] == "A novel"


def test_other_fields_fill_gaps_and_the_better_source_wins() -> None:
    isbndb = fetched(ISBN_A, 1, [edition("isbndb", 30, page_count=273)])
    openlibrary = fetched(
        ISBN_A, 2, [edition("openlibrary", 90, page_count=288, format="ebook", language="EN")]
    )
    for events in ([isbndb, openlibrary], [openlibrary, isbndb]):
        row = folded(events).editions[ISBN_A]
        assert row["page_count"] == 273  # better source, despite lower quality
        assert row["format"] == "ebook"  # filled from the only source that has it
        assert row["language"] == "en"


def test_empty_values_never_overwrite() -> None:
    full = fetched(
        ISBN_A,
        1,
        [edition("openlibrary", 20, title="Normal People", publisher="Faber", page_count=273)],
    )
    empty = fetched(ISBN_A, 2, [edition("isbndb", 95, title="  ", publisher=None)])
    row = folded([full, empty]).editions[ISBN_A]
    assert (row["title"], row["publisher"], row["page_count"]) == ("Normal People", "Faber", 273)
    assert row["primary_provider"] == "isbndb"  # the highest-ranked facts, even if sparse
    assert row["isbndb_quality"] == 95


def test_arrays_are_sorted_unions() -> None:
    one = fetched(
        ISBN_A,
        1,
        [
            edition(
                "isbndb",
                subjects=["Fiction", " Irish "],
                amazon_asins=["B2"],
                related_isbns={ISBN_B: "paperback"},
            )
        ],
    )
    two = fetched(
        ISBN_A,
        2,
        [
            edition(
                "google_books",
                subjects=["fiction", "Romance"],
                amazon_asins=["B1", "B2"],
                related_isbns={ISBN_B: "ebook", ISBN_C: "audiobook"},
            )
        ],
    )
    row = folded([two, one]).editions[ISBN_A]
    assert row["subjects"] == ["fiction", "irish", "romance"]
    assert row["amazon_asins"] == ["B1", "B2"]
    assert row["contributors"] == ["google_books", "isbndb"]
    assert row["related_isbns"] == {ISBN_B: "paperback", ISBN_C: "audiobook"}


def test_timestamps_come_from_events() -> None:
    row = folded([fetched(ISBN_A, 5, [edition()]), fetched(ISBN_A, 2, [edition()])]).editions[
        ISBN_A
    ]
    assert (row["created_at"], row["updated_at"]) == (at(2), at(5))
    assert row["last_isbndb_sync"] == at(5)


def test_best_work_match_wins_and_completeness_is_of_the_merged_row() -> None:
    weak = fetched(
        ISBN_A,
        1,
        [edition(title="T", publisher="P")],
        work_key="w-new",
        confidence=0.7,
        source="title_author",
    )
    strong = fetched(
        ISBN_A,
        2,
        [edition("google_books", 10, page_count=5)],
        work_key="w-old",
        confidence=0.9,
        source="isbn",
    )
    for events in ([weak, strong], [strong, weak]):
        row = folded(events).editions[ISBN_A]
        assert (row["work_key"], row["work_match_source"]) == ("w-old", "isbn")
        assert row["work_match_confidence"] == pytest.approx(0.9)
        assert row["work_match_at"] == at(2)
        assert row["completeness_score"] == 25  # title, publisher, page_count: 3/12


# --- works and authors -------------------------------------------------------------------------


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


# --- months ------------------------------------------------------------------------------------


def test_month_progress_to_completed() -> None:
    b1, b2, b3 = book("b1"), book("b2", "Other"), book("b3", "Invented")
    events = [
        scheduled(0),
        generated([b1, b2, b3], 1),
        resolved(b1, 2, isbn=ISBN_A),
        resolved(b2, 3, outcome="already_known", isbn=ISBN_B),
        resolved(b3, 4, outcome="unresolved", work_key="w-invented"),
    ]
    month = folded(events).months[(2019, 3)]
    assert month["status"] == "processing"
    assert (month["books_generated"], month["isbns_resolved"], month["isbns_queued"]) == (3, 2, 1)
    assert str(month["resolution_rate"]) == "66.67"
    assert (month["gemini_calls"], month["xai_calls"], month["isbndb_calls"]) == (1, 2, 3)
    assert (month["prompt_variant"], month["batch_size"], month["started_at"]) == (
        "baseline",
        20,
        at(0),
    )
    done = [*events, fetched(ISBN_A, 6, [edition()], book_id="b1")]
    for order in (done, done[::-1]):
        month = folded(order).months[(2019, 3)]
        assert month["status"] == "completed"
        assert month["completed_at"] == at(6)
    later = folded([*done, scheduled(9, attempt=2)]).months[(2019, 3)]
    assert later["status"] == "completed"  # never moved back


def test_an_empty_generation_completes_the_month() -> None:
    month = folded([scheduled(0), generated([], 1)]).months[(2019, 3)]
    assert (month["status"], month["completed_at"], month["resolution_rate"]) == (
        "completed",
        at(1),
        None,
    )


def test_failures_retry_with_backoff_then_fail() -> None:
    rules = MonthRules(max_attempts=3)
    month = folded([scheduled(0), failed(1, 1)], rules).months[(2019, 3)]
    assert (month["status"], month["retry_count"]) == ("retry", 1)
    assert month["next_attempt_at"] == at(1) + timedelta(minutes=2)
    assert month["error_message"] == "every LLM failed (attempt 1)"
    month = folded([scheduled(0), failed(1, 1), scheduled(5, attempt=2)], rules).months[(2019, 3)]
    assert (month["status"], month["next_attempt_at"]) == ("processing", None)
    events = [
        scheduled(0),
        failed(1, 1),
        scheduled(5, 2),
        failed(2, 6),
        scheduled(9, 3),
        failed(3, 10),
    ]
    for order in (events, events[::-1]):
        month = folded(order, rules).months[(2019, 3)]
        assert (month["status"], month["retry_count"], month["last_retry_at"]) == (
            "failed",
            3,
            at(10),
        )


def test_redelivered_books_do_not_double_count() -> None:
    b1 = book("b1")
    events = [generated([b1], 1), resolved(b1, 2, isbn=ISBN_A, count=1)]
    month = folded([*events, *events]).months[(2019, 3)]
    assert (month["books_generated"], month["isbns_resolved"], month["gemini_calls"]) == (1, 1, 1)


# --- rejects -----------------------------------------------------------------------------------


def test_bad_events_are_rejected_and_the_rest_applies() -> None:
    good = fetched(ISBN_A, 1, [edition(title="T")])
    bad_isbn = fetched("9780571334651", 2, [edition()])
    bad_month = scheduled(3, month=12).model_copy(update={"month": 13})
    batch = records([bad_isbn, good, bad_month])
    batch.append(Record("t", 0, 9, "Nonsense", {}))
    batch.append(Record("t", 0, 10, "MetadataFetched", {"envelope": {}}))
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
            envelope=_envelope(MetadataFetched, "m", draw(MINUTES)),
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
            envelope=_envelope(ISBNResolved, "r", draw(MINUTES)),
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
    from services.projector.contributions import author_rows

    rows_ = []
    for f, minutes in zip(facts, times, strict=True):
        body = f[0].model_copy(update={"author_key": "a"}).model_dump()
        rows_.append(author_rows([body], at(minutes))["a"])
    a, b, c = rows_
    assert merge_author(a, merge_author(b, c)) == merge_author(merge_author(a, b), c)
    assert merge_author(a, b) == merge_author(b, a)
    assert merge_author(a, copy.deepcopy(a)) == a


def test_month_book_merge_keeps_latest_resolution_and_first_enrichment() -> None:
    state = State()
    b = book("b1")
    fold(
        state,
        records(
            [
                resolved(b, 5, outcome="unresolved", work_key="w"),
                resolved(b, 2, isbn=ISBN_A),
                fetched(ISBN_A, 7, book_id="b1"),
                fetched(ISBN_A, 6, book_id="b1", label="again"),
            ]
        ),
    )
    row = state.month_books[(2019, 3, "b1")]
    assert (row["outcome"], row["resolved_at"], row["enriched_at"]) == ("unresolved", at(5), at(6))
    assert merge_month_book(row, copy.deepcopy(row)) == row
