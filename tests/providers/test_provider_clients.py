"""Each client against the real sandbox: happy paths, field variants and not-found answers."""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox import ids
from sandbox.catalogue_index import CatalogueIndex
from shared import isbn as isbn_lib
from shared.providers.archive import ArchiveClient
from shared.providers.errors import NotFound, RequestRejected
from shared.providers.gemini import GeminiClient
from shared.providers.google_books import GoogleBooksClient
from shared.providers.http import HttpTransport
from shared.providers.isbndb import IsbndbClient
from shared.providers.llm import BOOK_LIST_SCHEMA
from shared.providers.openai_compat import OpenAICompatClient
from shared.providers.openlibrary import OpenLibraryClient
from shared.providers.wikidata import WikidataClient
from tests.providers.conftest import Sandbox, provider_settings

# A valid ISBN-13 no catalogue holds (checksum correct, 979-12 range).
UNKNOWN_ISBN = "9791200000006"
PROMPT = "List 5 notable books first published in March 2019 as JSON."


@pytest.fixture(scope="module")
def index(catalogue) -> CatalogueIndex:  # type: ignore[no-untyped-def]
    return CatalogueIndex.build(catalogue)


def _books(sandbox: Sandbox, count: int = 12):  # type: ignore[no-untyped-def]
    return list(sandbox.catalogue.books[:count])


def _same_title(found: str | None, expected: str) -> bool:
    return found is not None and expected.casefold() in found.casefold()


# --- ISBNdb --------------------------------------------------------------------------------------


async def test_isbndb_book_and_isbn10(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = IsbndbClient.from_settings(transport, provider_settings(sandbox))
    seen_dates: set[str] = set()
    for book in _books(sandbox):
        record = await client.book(book.isbn13)
        assert record.isbn13 == book.isbn13
        assert _same_title(record.title, book.title)
        assert record.authors
        assert record.language == (book.language[:2] if book.language else None)
        if record.publication_date:
            seen_dates.add(record.publication_date)
    isbn10 = next(
        i for b in sandbox.catalogue.books if (i := isbn_lib.to_isbn10(b.isbn13)) is not None
    )
    assert (await client.book(isbn10)).isbn10 == isbn10
    assert seen_dates


async def test_isbndb_batch_one_call_per_chunk(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = IsbndbClient.from_settings(transport, provider_settings(sandbox))
    client.batch_size = 4
    wanted = [b.isbn13 for b in _books(sandbox, 10)]
    found = await client.books_batch([*wanted, UNKNOWN_ISBN, wanted[0]])
    assert set(found) == set(wanted)  # unknown left out, duplicates once
    assert found[wanted[1]].isbn13 == wanted[1]
    stats = await sandbox.stats("isbndb")
    assert stats["by_endpoint"] == {"POST /isbndb/books": 3}  # 11 distinct ISBNs in chunks of 4


async def test_isbndb_batch_json_body_fallback(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = IsbndbClient.from_settings(transport, provider_settings(sandbox))
    client._body_style = "json"
    wanted = [b.isbn13 for b in _books(sandbox, 3)]
    assert set(await client.books_batch(wanted)) == set(wanted)


async def test_isbndb_search_and_not_found(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = IsbndbClient.from_settings(transport, provider_settings(sandbox))
    book = sandbox.catalogue.books[0]
    hits = await client.search(book.title, book.authors[0])
    assert book.isbn13 in {hit.isbn13 for hit in hits}
    assert await client.search("zzqxv nonexistent title") == []  # ISBNdb's 404 for no hits
    with pytest.raises(NotFound):
        await client.book(UNKNOWN_ISBN)


async def test_isbndb_wrong_key_is_rejected(sandbox: Sandbox, transport: HttpTransport) -> None:
    settings = provider_settings(sandbox, isbndb_api_key="wrong-key-0000")
    client = IsbndbClient.from_settings(transport, settings)
    with pytest.raises(RequestRejected) as refused:
        await client.book(sandbox.catalogue.books[0].isbn13)
    assert refused.value.status == 401
    assert "wrong-key" not in str(refused.value)


# --- Google Books --------------------------------------------------------------------------------


async def test_google_by_isbn_full_record(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = GoogleBooksClient.from_settings(transport, provider_settings(sandbox))
    found = 0
    for book in _books(sandbox):
        try:
            record = await client.by_isbn(book.isbn13)
        except NotFound:
            continue  # volumes with only OTHER identifiers cannot be found by ISBN (real too)
        found += 1
        assert record.isbn13 == book.isbn13
        assert record.external_ids.google_volume
        assert record.description  # the full volume always has it
        assert record.covers.large  # only full records carry large images
    assert found >= 6
    stats = await sandbox.stats("google_books")
    assert stats["by_endpoint"]["GET /google-books/volumes/{volume_id}"] == found


async def test_google_search_and_lite_lookup(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = GoogleBooksClient.from_settings(transport, provider_settings(sandbox))
    book = sandbox.catalogue.books[1]
    hits = await client.search(book.title, book.authors[0])
    assert any(_same_title(hit.title, book.title) for hit in hits)
    assert await client.search("zzqxv nonexistent title", None) == []
    with pytest.raises(NotFound):
        await client.by_isbn(UNKNOWN_ISBN)


# --- Open Library --------------------------------------------------------------------------------


async def test_openlibrary_by_isbn_merges_edition_and_data(
    sandbox: Sandbox, transport: HttpTransport, index: CatalogueIndex
) -> None:
    client = OpenLibraryClient.from_settings(transport, provider_settings(sandbox))
    forms: Counter[str] = Counter()
    for book in _books(sandbox):
        record = await client.by_isbn(book.isbn13)
        assert record.isbn13 == book.isbn13
        assert record.authors == tuple(book.authors)  # names come from the data view
        assert record.external_ids.openlibrary_work == ids.ol_work_id(book)
        assert record.language is not None
        forms[record.publication_date or ""] += 1
    assert len(forms) > 1


async def test_openlibrary_batch_work_author_search(
    sandbox: Sandbox, transport: HttpTransport, index: CatalogueIndex
) -> None:
    client = OpenLibraryClient.from_settings(transport, provider_settings(sandbox))
    client.batch_size = 5
    wanted = [b.isbn13 for b in _books(sandbox, 7)]
    assert set(await client.books_batch([*wanted, UNKNOWN_ISBN])) == set(wanted)
    book = sandbox.catalogue.books[2]
    work = await client.work(ids.ol_work_id(book))
    assert work.title == book.title and work.author_ids
    author = await client.author(work.author_ids[0])
    assert author.name in book.authors
    hits = await client.search(book.title, book.authors[0])
    assert hits and book.isbn13 in {hits[0].isbn13, *hits[0].related_isbns}
    assert await client.search("zzqxv nonexistent title") == []
    with pytest.raises(NotFound):
        await client.by_isbn(UNKNOWN_ISBN)
    with pytest.raises(NotFound):
        await client.work("OL1W")


# --- Internet Archive ----------------------------------------------------------------------------


async def test_archive_search_and_metadata(
    sandbox: Sandbox, transport: HttpTransport, index: CatalogueIndex
) -> None:
    client = ArchiveClient.from_settings(transport, provider_settings(sandbox))
    shapes: set[bool] = set()
    for book in _books(sandbox, 8):
        identifier = index.archive_ids[book.id]
        record = await client.metadata(identifier)
        assert record.external_ids.archive == identifier
        assert record.isbn13 is not None
        assert record.description and "<p>" not in record.description
        assert record.title == book.title
        shapes.add("\n\n" in record.description)
    assert shapes == {True, False}  # both the string and the array-of-paragraphs form
    book = sandbox.catalogue.books[3]
    hits = await client.search(book.title, book.authors[0])
    assert index.archive_ids[book.id] in {hit.external_ids.archive for hit in hits}
    with pytest.raises(NotFound):
        await client.metadata("no-such-item-0000")


# --- Wikidata ------------------------------------------------------------------------------------


async def test_wikidata_facts_in_one_query(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = WikidataClient.from_settings(transport, provider_settings(sandbox))
    books = _books(sandbox, 15)
    facts = await client.facts_for_isbns([b.isbn13 for b in books] + [UNKNOWN_ISBN])
    assert (await sandbox.calls("wikidata")) == 1
    assert UNKNOWN_ISBN not in facts
    assert len(facts) == len(books)  # coverage 1.0: every book has an item
    with_genres = [f for f in facts.values() if f.genres]
    assert with_genres, "expected genre labels from P136"
    for isbn13, fact in facts.items():
        assert fact.isbn13 == isbn13
        assert fact.item.startswith("Q") and fact.work.startswith("Q")


async def test_wikidata_search_by_title(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = WikidataClient.from_settings(transport, provider_settings(sandbox))
    book = sandbox.catalogue.books[0]
    hits = await client.search(book.title, book.authors[0])
    assert hits and hits[0].title == book.title


# --- LLMs ----------------------------------------------------------------------------------------


async def test_gemini_generate_books(sandbox: Sandbox, transport: HttpTransport) -> None:
    client = GeminiClient.from_settings(transport, provider_settings(sandbox))
    books = await client.generate_books(PROMPT, BOOK_LIST_SCHEMA)
    assert 1 <= len(books) <= 5
    assert all(book.title for book in books)
    assert any(book.authors for book in books)


@pytest.mark.parametrize("which", ["xai", "openai_compat"])
async def test_openai_shape_generate_books(
    sandbox: Sandbox, transport: HttpTransport, which: str
) -> None:
    settings = provider_settings(sandbox)
    client = (
        OpenAICompatClient.xai_from_settings(transport, settings)
        if which == "xai"
        else OpenAICompatClient.from_settings(transport, settings)
    )
    assert client is not None
    books = await client.generate_books(PROMPT)
    assert 1 <= len(books) <= 5
    assert all(book.title for book in books)
    years = {book.publication_year for book in books}
    assert years & {2018, 2019, 2020}
