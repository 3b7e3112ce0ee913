"""The enricher's handler in process: resolved ISBNs in, one MetadataFetched each with the work
decision out; unresolved ones ignored, impossible ones rejected; in-memory works and metadata."""

from __future__ import annotations

from datetime import UTC, datetime

from services.enricher.app import Enricher
from shared.events import GeneratedBook, ISBNResolved, MetadataFetched, make_envelope
from shared.providers.models import BookRecord
from shared.text import work_key_for
from tests.fakes import InMemoryCandidateWorks, InMemoryMetadata, StoredWork, drive

AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
ISBN = "9780316556347"
CIRCE = GeneratedBook(book_id="bk-circe", title="Circe", authors=["Madeline Miller"],
                      description="A witch on an island.", source_providers=["xai"])  # fmt: skip
RECORDS = [
    BookRecord(provider="isbndb", isbn13=ISBN, title="Circe", authors=("Miller, Madeline",),
               publisher="Little, Brown", publication_date="2018-04-10", page_count=393),
    BookRecord(provider="openlibrary", isbn13=ISBN, title="Circe", authors=("M. Miller",),
               description="In the house of Helios...", publication_date="April 10, 2018"),
]  # fmt: skip


def resolved(outcome: str = "resolved", isbn13: str | None = ISBN, month: int = 4) -> ISBNResolved:
    return ISBNResolved(
        envelope=make_envelope(
            ISBNResolved,
            producer="resolver",
            correlation_id=f"month:2018-{month:02d}",
            occurred_at=AT,
        ),
        year=2018,
        month=month,
        book=CIRCE,
        month_book_count=20,
        outcome=outcome,
        isbn13=isbn13,
        provider="isbndb" if outcome == "resolved" else None,
        attempts=[],
        work_key=work_key_for("Circe", "Madeline Miller") if outcome == "unresolved" else None,
    )


def enricher(works: InMemoryCandidateWorks, source: InMemoryMetadata) -> Enricher:
    return Enricher(works, source)


async def test_a_resolved_isbn_with_provider_records_is_one_metadata_fetched() -> None:
    source = InMemoryMetadata(records={ISBN: RECORDS})
    event = resolved()
    out = await drive(enricher(InMemoryCandidateWorks(), source).handle, event)

    assert out.rejects == []
    [fetched] = out.sent
    assert isinstance(fetched, MetadataFetched)
    assert (fetched.isbn13, fetched.book_id, fetched.year, fetched.month) == (
        ISBN,
        "bk-circe",
        2018,
        4,
    )
    assert fetched.envelope.causation_id == event.envelope.event_id
    assert [e.provider for e in fetched.editions] == ["isbndb", "openlibrary", "xai"]
    assert [w.provider for w in fetched.works] == ["isbndb", "openlibrary", "xai"]
    assert fetched.editions[0].publication_date == "2018-04-10"
    assert [(a.provider, a.name) for a in fetched.authors] == [("isbndb", "Madeline Miller")]
    # No stored work yet: a new one under the deterministic key of (title, primary author).
    match = fetched.work_match
    assert (match.work_key, match.source) == (work_key_for("Circe", "Madeline Miller"), "new")
    assert source.asked == [[ISBN]]


async def test_the_work_decision_joins_the_stored_work_holding_the_isbn() -> None:
    stored = StoredWork("wk-circe-1", "Circe", ("Madeline Miller",), isbns=(ISBN,))
    other = StoredWork("wk-circe-2", "Circe", ("Someone Else",))
    works = InMemoryCandidateWorks([stored, other])
    out = await drive(enricher(works, InMemoryMetadata(records={ISBN: RECORDS})).handle, resolved())

    [fetched] = out.sent
    assert isinstance(fetched, MetadataFetched)
    assert (fetched.work_match.work_key, fetched.work_match.source) == ("wk-circe-1", "isbn")
    [asked] = works.asked
    assert [(a.isbn13, a.work_key) for a in asked] == [
        (ISBN, work_key_for("Circe", "Madeline Miller"))
    ]


async def test_an_unresolved_isbn_resolved_is_ignored() -> None:
    source, works = InMemoryMetadata(records={ISBN: RECORDS}), InMemoryCandidateWorks()
    out = await drive(enricher(works, source).handle, resolved("unresolved", None))
    assert (out.rejects, out.sent, source.asked, works.asked) == ([], [], [], [])


async def test_an_invalid_isbn_is_rejected_and_the_rest_of_the_batch_enriched() -> None:
    source = InMemoryMetadata(records={ISBN: RECORDS})
    bad, good = resolved(isbn13="9780000000000"), resolved()
    out = await drive(enricher(InMemoryCandidateWorks(), source).handle, bad, good)

    assert [r.incoming.event for r in out.rejects] == [bad]
    assert out.reasons() == ["resolved without a valid ISBN-13: '9780000000000'"]
    assert [e.isbn13 for e in out.sent if isinstance(e, MetadataFetched)] == [ISBN]


async def test_an_impossible_month_is_rejected() -> None:
    out = await drive(
        enricher(InMemoryCandidateWorks(), InMemoryMetadata()).handle,
        resolved(month=13),
        resolved("unresolved", None, month=13),
    )
    assert out.reasons() == ["impossible ISBNResolved: month 13 is outside 1..12"] * 2
    assert out.sent == []
