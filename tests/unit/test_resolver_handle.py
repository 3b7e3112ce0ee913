"""The resolver's handler in process: BooksGenerated in, one ISBNResolved per book out (already
known, resolved by a provider, or unresolved); in-memory known books and cascade searches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.resolver.app import Resolver
from services.resolver.logic.resolution import CASCADE
from shared.events import BooksGenerated, GeneratedBook, ISBNResolved, make_envelope
from shared.providers.models import BookRecord
from shared.text import work_key_for
from tests.fakes import InMemoryKnownBooks, InMemorySearch, StoredEdition, drive

AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
EDUCATED = GeneratedBook(book_id="bk-educated", title="Educated", subtitle="A Memoir",
                         authors=["Tara Westover"], source_providers=["gemini"])  # fmt: skip
CIRCE = GeneratedBook(book_id="bk-circe", title="Circe", authors=["Madeline Miller"],
                      source_providers=["xai"])  # fmt: skip
INVENTED = GeneratedBook(book_id="bk-invented", title="The Lighthouse Cartographer",
                         authors=["Ines Halvorsen"], source_providers=["gemini"])  # fmt: skip


def generated(*books: GeneratedBook, month: int = 3) -> BooksGenerated:
    return BooksGenerated(
        envelope=make_envelope(
            BooksGenerated,
            producer="generator",
            correlation_id=f"month:2018-{month:02d}",
            occurred_at=AT,
        ),
        year=2018,
        month=month,
        prompt_variant="baseline",
        books=list(books),
        provider_calls=[],
    )


def searches(**catalogues: list[BookRecord]) -> dict[str, InMemorySearch]:
    return {p: InMemorySearch(list(catalogues.get(p, []))) for p in CASCADE}


def resolver(known: InMemoryKnownBooks, search: dict[str, InMemorySearch]) -> Resolver:
    return Resolver(known, dict(search), concurrency=4)


async def test_a_known_book_is_already_known_with_the_stored_isbn() -> None:
    stored = StoredEdition("9780399590504", "Educated", ("Tara Westover",), work_key="wk-edu")
    search = searches()
    out = await drive(resolver(InMemoryKnownBooks([stored]), search).handle, generated(EDUCATED))

    [event] = out.sent
    assert isinstance(event, ISBNResolved)
    assert (event.outcome, event.isbn13, event.work_key) == (
        "already_known",
        stored.isbn13,
        "wk-edu",
    )
    assert event.attempts == [] and event.book == EDUCATED
    assert all(s.asked == [] for s in search.values()), "no provider asked for a known book"


async def test_a_matching_provider_hit_resolves_the_book_with_that_provider() -> None:
    hit = BookRecord(provider="google_books", isbn13="9780316556347", title="Circe",
                     authors=("Madeline Miller",))  # fmt: skip
    other = BookRecord(provider="isbndb", isbn13="9780141981796", title="Circe",
                       authors=("Someone Else",))  # fmt: skip
    search = searches(isbndb=[other], google_books=[hit])
    source = generated(CIRCE)
    out = await drive(resolver(InMemoryKnownBooks(), search).handle, source)

    [event] = out.sent
    assert isinstance(event, ISBNResolved)
    assert (event.outcome, event.isbn13, event.provider) == ("resolved", hit.isbn13, "google_books")
    assert event.confidence is not None and event.confidence >= 0.8
    assert [(a.provider, a.status) for a in event.attempts] == [
        ("isbndb", "rejected"),  # the right title by another author is not this book
        ("google_books", "matched"),
    ]
    assert search["openlibrary"].asked == [], "the cascade stops at the first match"
    assert event.envelope.causation_id == source.envelope.event_id
    assert (event.year, event.month, event.month_book_count) == (2018, 3, 1)


async def test_nothing_found_is_unresolved_with_the_deterministic_work_key() -> None:
    search = searches()
    out = await drive(resolver(InMemoryKnownBooks(), search).handle, generated(INVENTED))

    [event] = out.sent
    assert isinstance(event, ISBNResolved)
    assert event.outcome == "unresolved" and event.isbn13 is None
    assert event.work_key == work_key_for("The Lighthouse Cartographer", "Ines Halvorsen")
    assert [(a.provider, a.status) for a in event.attempts] == [(p, "no_match") for p in CASCADE]


async def test_one_isbn_resolved_per_book() -> None:
    known = InMemoryKnownBooks([StoredEdition("9780399590504", "Educated", ("Tara Westover",))])
    hit = BookRecord(provider="isbndb", isbn13="9780316556347", title="Circe",
                     authors=("Madeline Miller",))  # fmt: skip
    out = await drive(
        resolver(known, searches(isbndb=[hit])).handle, generated(EDUCATED, CIRCE, INVENTED)
    )

    assert out.rejects == []
    events = [e for e in out.sent if isinstance(e, ISBNResolved)]
    assert len(events) == len(out.sent) == 3
    assert {e.book.book_id: e.outcome for e in events} == {
        "bk-educated": "already_known",
        "bk-circe": "resolved",
        "bk-invented": "unresolved",
    }
    assert {e.month_book_count for e in events} == {3}
    assert len({e.envelope.event_id for e in events}) == 3
    assert known.asked == [["Educated", "Circe", "The Lighthouse Cartographer"]]  # one query


async def test_an_impossible_month_is_rejected_and_nothing_is_resolved() -> None:
    search, known = searches(), InMemoryKnownBooks()
    thirteen = generated(CIRCE, month=13)
    out = await drive(resolver(known, search).handle, thirteen)

    assert out.reasons() == ["impossible BooksGenerated: month 13 is outside 1..12"]
    assert out.sent == [] and known.asked == []


class Rendezvous:
    """A search that answers nothing until `n` different books have been asked: it deadlocks a
    resolver that takes a batch's months one after another."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.titles: set[str] = set()
        self.met = asyncio.Event()

    async def __call__(self, book: GeneratedBook) -> list[BookRecord]:
        self.titles.add(book.title)
        if len(self.titles) >= self.n:
            self.met.set()
        await self.met.wait()
        return []


async def test_a_batchs_months_are_resolved_side_by_side() -> None:
    meeting = Rendezvous(2)
    search = {provider: meeting for provider in CASCADE}
    out = await asyncio.wait_for(
        drive(
            Resolver(InMemoryKnownBooks([]), dict(search), concurrency=4).handle,
            generated(CIRCE, month=3),
            generated(INVENTED, month=4),
        ),
        timeout=5,
    )

    assert out.rejects == []
    assert sorted((e.month, e.book.book_id) for e in out.sent if isinstance(e, ISBNResolved)) == [
        (3, "bk-circe"),
        (4, "bk-invented"),
    ]
