"""ISBNdb, Google Books, Open Library and Internet Archive answer in their real shapes, disagree
the way real providers do, and know different parts of the catalogue."""

from __future__ import annotations

import httpx

from sandbox import ids
from sandbox.google_books import DECOY_RATE
from sandbox.hashing import chance
from sandbox.isbns import hyphenate, to_isbn10
from sandbox.truth import known_by
from tests.sandbox import shapes
from tests.sandbox.support import (
    ISBNDB_KEY,
    book_unknown_to,
    books_known_by,
    catalogue,
    client,
    index,
    sandbox_url,
)

__all__ = ["client", "sandbox_url"]  # fixtures used by the tests below


# --- ISBNdb -----------------------------------------------------------------------------------


async def test_isbndb_book_by_isbn13_isbn10_and_hyphenated(client: httpx.AsyncClient) -> None:
    book = next(b for b in books_known_by("isbndb", 20) if to_isbn10(b.isbn13))
    for spelling in (book.isbn13, to_isbn10(book.isbn13), hyphenate(book.isbn13)):
        response = await client.get(f"/isbndb/book/{spelling}", headers=ISBNDB_KEY)
        assert response.status_code == 200, response.text
        record = response.json()["book"]
        shapes.isbndb_book(record)
        assert record["isbn13"] == book.isbn13


async def test_isbndb_unknown_isbn_and_missing_key(client: httpx.AsyncClient) -> None:
    unknown = book_unknown_to("isbndb")
    response = await client.get(f"/isbndb/book/{unknown.isbn13}", headers=ISBNDB_KEY)
    assert (response.status_code, response.json()) == (404, {"errorMessage": "Not Found"})
    known = books_known_by("isbndb", 1)[0]
    assert (await client.get(f"/isbndb/book/{known.isbn13}")).status_code == 401
    bearer = {"Authorization": "Bearer test-key"}  # ISBNdb wants the raw key
    assert (await client.get(f"/isbndb/book/{known.isbn13}", headers=bearer)).status_code == 401


async def test_isbndb_batch_accepts_form_and_json_bodies(client: httpx.AsyncClient) -> None:
    known = [b.isbn13 for b in books_known_by("isbndb", 3)]
    unknown = book_unknown_to("isbndb").isbn13
    form_body = "isbns=" + ",".join([*known, unknown])
    headers = {**ISBNDB_KEY, "Content-Type": "application/json"}  # as ISBNdb's own examples
    form = await client.post("/isbndb/books", content=form_body, headers=headers)
    as_json = await client.post(
        "/isbndb/books", json={"isbns": [*known, unknown]}, headers=ISBNDB_KEY
    )
    for response in (form, as_json):
        assert response.status_code == 200, response.text
        body = response.json()
        shapes.isbndb_batch(body)
        assert body["requested"] == 4
        assert sorted(b["isbn13"] for b in body["data"]) == sorted(known)  # unknown left out


async def test_isbndb_search_by_title(client: httpx.AsyncClient) -> None:
    book = books_known_by("isbndb", 1)[0]
    response = await client.get(
        f"/isbndb/books/{book.title}",
        params={"column": "title", "pageSize": 50},
        headers=ISBNDB_KEY,
    )
    assert response.status_code == 200
    body = response.json()
    shapes.isbndb_search(body)
    assert book.isbn13 in {b["isbn13"] for b in body["books"]}


async def test_isbndb_records_vary_like_real_ones(client: httpx.AsyncClient) -> None:
    isbns = [b.isbn13 for b in books_known_by("isbndb", 100)]
    response = await client.post("/isbndb/books", json={"isbns": isbns}, headers=ISBNDB_KEY)
    records = response.json()["data"]
    assert len({len(r["date_published"]) for r in records}) >= 2  # "2019" and "2019-03-05"
    assert any("synopsis" in r for r in records)
    assert any("synopsys" in r or "overview" in r for r in records)
    assert any(not ({"synopsis", "synopsys", "overview"} & set(r)) for r in records)
    assert any("," in name for r in records for name in r["authors"])  # "Rowling, J. K."
    assert any("subjects" not in r for r in records) and any("subjects" in r for r in records)


# --- Google Books -------------------------------------------------------------------------------


def _google_findable(count: int) -> list:
    return books_known_by("google_books", count)


async def test_google_isbn_search_and_full_volume(client: httpx.AsyncClient) -> None:
    book = _google_findable(1)[0]
    search = await client.get("/google-books/volumes", params={"q": f"isbn:{book.isbn13}"})
    assert search.status_code == 200
    body = search.json()
    shapes.google_volumes(body)
    assert body["totalItems"] >= 1
    item = body["items"][0]
    identifiers = {i["identifier"] for i in item["volumeInfo"]["industryIdentifiers"]}
    assert identifiers & {book.isbn13, to_isbn10(book.isbn13)}
    full = await client.get(f"/google-books/volumes/{item['id']}")
    assert full.status_code == 200
    shapes.google_volume(full.json(), full=True)
    assert {"small", "medium", "large"} <= set(full.json()["volumeInfo"]["imageLinks"])


async def test_google_title_author_search_and_no_match(client: httpx.AsyncClient) -> None:
    book = _google_findable(1)[0]
    surname = book.authors[0].split()[-1]
    for q in (
        f"intitle:{book.title}+inauthor:{surname}",
        f'intitle:"{book.title}" inauthor:{surname}',
    ):
        response = await client.get("/google-books/volumes", params={"q": q, "maxResults": 40})
        shapes.google_volumes(response.json())
        titles = [i["volumeInfo"]["title"] for i in response.json().get("items", [])]
        assert any(book.title in title for title in titles), (q, titles)
    nothing = await client.get("/google-books/volumes", params={"q": "intitle:zzzqqqxxy"})
    assert nothing.json() == {"kind": "books#volumes", "totalItems": 0}


async def test_google_bad_requests_use_google_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/google-books/volumes")
    assert missing.status_code == 400
    shapes.google_error(missing.json(), 400, "INVALID_ARGUMENT")
    too_many = await client.get("/google-books/volumes", params={"q": "dune", "maxResults": 41})
    assert too_many.status_code == 400
    unknown = await client.get("/google-books/volumes/doesnotexist")
    assert unknown.status_code == 404
    shapes.google_error(unknown.json(), 404, "NOT_FOUND")


async def test_google_volumes_vary_like_real_ones(client: httpx.AsyncClient) -> None:
    kinds: set[tuple[str, ...]] = set()
    dates: set[int] = set()
    search_without_description = 0
    known = [b for b in catalogue().books if chance(0.8, "coverage", "google_books", b.id)][:60]
    for book in known:
        volume_id = ids.google_volume_id(book, book.isbn13)
        full = (await client.get(f"/google-books/volumes/{volume_id}")).json()
        info = full["volumeInfo"]
        kinds.add(tuple(sorted(i["type"] for i in info["industryIdentifiers"])))
        dates.add(len(info["publishedDate"]))
        hits = await client.get("/google-books/volumes", params={"q": f"intitle:{book.title}"})
        for item in hits.json().get("items", []):
            if item["id"] == volume_id and "description" not in item["volumeInfo"]:
                search_without_description += 1
    assert ("ISBN_10", "ISBN_13") in kinds and len(kinds) >= 3  # 13 only, 10 only, OTHER only
    assert len(dates) >= 2  # "2019", "2019-03", "2019-03-05"
    assert search_without_description > 0  # search gives a reduced record


async def test_google_title_search_can_return_a_study_guide_first(
    client: httpx.AsyncClient,
) -> None:
    book = next(b for b in _google_findable(40) if chance(DECOY_RATE, "decoy", b.id))
    response = await client.get("/google-books/volumes", params={"q": f"intitle:{book.title}"})
    titles = [i["volumeInfo"]["title"] for i in response.json()["items"]]
    assert f"Summary of {book.title}" in titles


# --- Open Library --------------------------------------------------------------------------------


async def test_openlibrary_isbn_redirects_to_edition_then_work_and_author(
    client: httpx.AsyncClient,
) -> None:
    book = books_known_by("openlibrary", 1)[0]
    redirect = await client.get(f"/openlibrary/isbn/{book.isbn13}.json")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith("/openlibrary/books/OL") and location.endswith("M.json")
    edition = (
        await client.get(f"/openlibrary/isbn/{book.isbn13}.json", follow_redirects=True)
    ).json()
    shapes.ol_edition(edition)
    assert edition["isbn_13"] == [book.isbn13]
    work = await client.get(f"/openlibrary{edition['works'][0]['key']}.json")
    shapes.ol_work(work.json())
    author = await client.get(f"/openlibrary{edition['authors'][0]['key']}.json")
    shapes.ol_author(author.json())
    unknown = book_unknown_to("openlibrary")
    missing = await client.get(f"/openlibrary/isbn/{unknown.isbn13}.json")
    assert missing.status_code == 404


async def test_openlibrary_search_and_api_books(client: httpx.AsyncClient) -> None:
    first, second = books_known_by("openlibrary", 2)
    by_isbn = await client.get(
        "/openlibrary/search.json", params={"q": first.isbn13, "fields": "*"}
    )
    shapes.ol_search(by_isbn.json())
    assert [d["title"] for d in by_isbn.json()["docs"]] == [first.title]
    assert first.isbn13 in by_isbn.json()["docs"][0]["isbn"]
    by_title = await client.get(
        "/openlibrary/search.json", params={"title": first.title, "author": first.authors[0]}
    )
    assert first.title in [d["title"] for d in by_title.json()["docs"]]
    missing = book_unknown_to("openlibrary").isbn13
    keys = f"ISBN:{first.isbn13},{second.isbn13},ISBN:{missing}"
    api = await client.get(
        "/openlibrary/api/books", params={"bibkeys": keys, "format": "json", "jscmd": "data"}
    )
    body = api.json()
    assert set(body) == {f"ISBN:{first.isbn13}", second.isbn13}  # keyed as sent; misses omitted
    for entry in body.values():
        shapes.ol_api_data(entry)
    script = await client.get("/openlibrary/api/books", params={"bibkeys": f"ISBN:{first.isbn13}"})
    assert script.text.startswith("var _OLBookInfo = ")


async def test_openlibrary_descriptions_come_as_string_or_object(client: httpx.AsyncClient) -> None:
    styles = set()
    for book in books_known_by("openlibrary", 30):
        work = (await client.get(f"/openlibrary/works/{ids.ol_work_id(book)}.json")).json()
        if "description" in work:
            styles.add(type(work["description"]).__name__)
    assert styles == {"str", "dict"}


async def test_openlibrary_refuses_default_python_requests_agent(client: httpx.AsyncClient) -> None:
    book = books_known_by("openlibrary", 1)[0]
    response = await client.get(
        f"/openlibrary/isbn/{book.isbn13}.json", headers={"User-Agent": "python-requests/2.32"}
    )
    assert response.status_code == 403


# --- Internet Archive ----------------------------------------------------------------------------


async def test_archive_search_and_metadata(client: httpx.AsyncClient) -> None:
    book = books_known_by("archive", 1)[0]
    params = [
        ("q", f"isbn:{book.isbn13}"),
        ("fl[]", "identifier"),
        ("fl[]", "title"),
        ("fl[]", "isbn"),
        ("fl[]", "openlibrary_edition"),
        ("output", "json"),
    ]
    search = await client.get("/archive/advancedsearch.php", params=params)
    body = search.json()
    shapes.ia_search(body)
    docs = body["response"]["docs"]
    assert len(docs) == 1 and set(docs[0]) <= {"identifier", "title", "isbn", "openlibrary_edition"}
    identifier = docs[0]["identifier"]
    item = (await client.get(f"/archive/metadata/{identifier}")).json()
    shapes.ia_item(item)
    part = (await client.get(f"/archive/metadata/{identifier}/metadata")).json()
    assert part["result"]["identifier"] == identifier
    assert (await client.get("/archive/metadata/no-such-item-here")).json() == {}


async def test_archive_values_are_strings_or_arrays(client: httpx.AsyncClient) -> None:
    kinds = set()
    for book in books_known_by("archive", 20):
        identifier = index().archive_ids[book.id]
        metadata = (await client.get(f"/archive/metadata/{identifier}")).json()["metadata"]
        kinds.update(type(metadata[k]).__name__ for k in ("creator", "description", "isbn"))
    assert kinds == {"str", "list"}


def test_providers_know_different_books() -> None:
    sample = catalogue().books[:300]
    found = {name: 0 for name in ("isbndb", "google_books", "openlibrary", "archive", "wikidata")}
    for book in sample:
        for name, known in known_by(index(), book.isbn13).items():
            found[name] += known
    assert len(sample) > found["isbndb"] > found["google_books"] > found["archive"] > 0
    assert found["isbndb"] > found["openlibrary"] > found["archive"]
