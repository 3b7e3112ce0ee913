"""The SPARQL endpoint answers the query shapes a client sends (ISBN batches by P212/P957 with
labels, title searches) in SPARQL JSON, with ISBNs hyphenated as Wikidata stores them."""

from __future__ import annotations

import httpx

from sandbox import ids
from sandbox.isbns import hyphenate, to_isbn10
from tests.sandbox import shapes
from tests.sandbox.support import book_unknown_to, books_known_by, client, sandbox_url

__all__ = ["client", "sandbox_url"]

# The batch pattern from providers.md (one line break added; VALUES filled in per test).
BATCH = """
SELECT ?isbn ?item ?work ?workLabel ?authorLabel ?genreLabel ?subjectLabel ?pub ?olid ?grWork
WHERE {
  VALUES ?isbn { %s }
  ?item wdt:P212 ?isbn .
  OPTIONAL { ?item wdt:P629 ?w0 }  BIND(COALESCE(?w0, ?item) AS ?work)
  OPTIONAL { ?work wdt:P50 ?author }   OPTIONAL { ?work wdt:P136 ?genre }
  OPTIONAL { ?work wdt:P921 ?subject } OPTIONAL { ?work wdt:P577 ?pub }
  OPTIONAL { ?work wdt:P648 ?olid }    OPTIONAL { ?work wdt:P8383 ?grWork }
  SERVICE wikibase:label { bd:serviceParam wikibase:language "en". }
}
"""


async def _select(client: httpx.AsyncClient, query: str) -> list[dict]:
    response = await client.get("/wikidata/sparql", params={"query": query, "format": "json"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/sparql-results+json")
    body = response.json()
    shapes.sparql_json(body)
    return body["results"]["bindings"]


async def test_isbn13_batch_returns_work_labels_genres_and_subjects(
    client: httpx.AsyncClient,
) -> None:
    books = books_known_by("wikidata", 8)
    values = " ".join(f'"{hyphenate(b.isbn13)}"' for b in books)
    rows = await _select(client, BATCH % values)
    by_isbn: dict[str, list[dict]] = {}
    for row in rows:
        by_isbn.setdefault(row["isbn"]["value"], []).append(row)
    for book in books:
        found = by_isbn[hyphenate(book.isbn13)]
        assert {r["workLabel"]["value"] for r in found} == {book.title}
        assert found[0]["work"]["value"].endswith("/" + ids.work_qid(book))
        genres = {r["genreLabel"]["value"] for r in found if "genreLabel" in r}
        assert genres == {g.lower() for g in book.genres}
        subjects = {r["subjectLabel"]["value"] for r in found if "subjectLabel" in r}
        assert subjects == set(book.subjects)
        assert {r["olid"]["value"] for r in found} == {ids.ol_work_id(book)}
        assert found[0]["pub"]["datatype"].endswith("#dateTime")


async def test_isbn10_lookup_and_unhyphenated_or_unknown_isbns(client: httpx.AsyncClient) -> None:
    book = next(b for b in books_known_by("wikidata", 30) if to_isbn10(b.isbn13))
    isbn10 = hyphenate(to_isbn10(book.isbn13) or "")
    query = f"""SELECT ?item ?itemLabel WHERE {{ ?item wdt:P957 "{isbn10}" .
        SERVICE wikibase:label {{ bd:serviceParam wikibase:language "[AUTO_LANGUAGE],en". }} }}"""
    rows = await _select(client, query)
    assert [r["itemLabel"]["value"] for r in rows] == [book.title]
    # Wikidata stores ISBNs hyphenated: an unhyphenated literal matches nothing.
    assert await _select(client, BATCH % f'"{book.isbn13}"') == []
    unknown = book_unknown_to("wikidata")
    assert await _select(client, BATCH % f'"{hyphenate(unknown.isbn13)}"') == []


async def test_post_form_and_raw_sparql_query(client: httpx.AsyncClient) -> None:
    book = books_known_by("wikidata", 1)[0]
    query = f'SELECT ?item WHERE {{ ?item wdt:P212 "{hyphenate(book.isbn13)}" }}'
    accept = {"Accept": "application/sparql-results+json"}
    form = await client.post("/wikidata/sparql", data={"query": query}, headers=accept)
    raw = await client.post(
        "/wikidata/sparql",
        content=query,
        headers={**accept, "Content-Type": "application/sparql-query"},
    )
    for response in (form, raw):
        assert response.status_code == 200
        assert len(response.json()["results"]["bindings"]) == 1


async def test_title_searches(client: httpx.AsyncClient) -> None:
    book = books_known_by("wikidata", 1)[0]
    title = book.title.replace('"', "")
    work = ids.work_qid(book)
    contains = f"""
        SELECT DISTINCT ?work ?title WHERE {{
          ?work wdt:P31/wdt:P279* wd:Q47461344 ; wdt:P1476 ?title .
          FILTER(CONTAINS(LCASE(STR(?title)), "{title.lower()}"))
        }} LIMIT 50"""
    exact = f'SELECT ?work WHERE {{ ?work rdfs:label "{title}"@en ; wdt:P31 wd:Q7725634 . }}'
    mwapi = f"""
        SELECT ?item ?itemLabel WHERE {{
          SERVICE wikibase:mwapi {{
            bd:serviceParam wikibase:api "EntitySearch" ; wikibase:endpoint "www.wikidata.org" ;
                            mwapi:search "{title}" ; mwapi:language "en" .
            ?item wikibase:apiOutputItem mwapi:item .
          }}
          SERVICE wikibase:label {{ bd:serviceParam wikibase:language "en". }}
        }}"""
    for query in (contains, exact, mwapi):
        rows = await _select(client, query)
        found = {r.get("work", r.get("item"))["value"].rsplit("/", 1)[1] for r in rows}
        assert work in found, query


async def test_group_concat_of_genre_labels(client: httpx.AsyncClient) -> None:
    book = next(b for b in books_known_by("wikidata", 40) if len(b.genres) > 1)
    query = f"""
        SELECT ?work (GROUP_CONCAT(DISTINCT ?genreLabel; separator="|") AS ?genres) WHERE {{
          ?edition wdt:P212 "{hyphenate(book.isbn13)}" .
          OPTIONAL {{ ?edition wdt:P629 ?w }} BIND(COALESCE(?w, ?edition) AS ?work)
          ?work wdt:P136 ?genre .
          SERVICE wikibase:label {{ bd:serviceParam wikibase:language "en". }}
        }} GROUP BY ?work"""
    rows = await _select(client, query)
    assert len(rows) == 1
    assert set(rows[0]["genres"]["value"].split("|")) == {g.lower() for g in book.genres}


async def test_formats_and_malformed_queries(client: httpx.AsyncClient) -> None:
    query = "SELECT ?x WHERE { ?x wdt:P31 wd:Q7725634 } LIMIT 2"
    default = await client.get("/wikidata/sparql", params={"query": query})
    assert default.headers["Content-Type"].startswith("application/sparql-results+xml")
    assert "<sparql" in default.text
    as_csv = await client.get(
        "/wikidata/sparql", params={"query": query}, headers={"Accept": "text/csv"}
    )
    assert as_csv.text.splitlines()[0] == "x" and len(as_csv.text.splitlines()) == 3
    ask = await client.get(
        "/wikidata/sparql", params={"query": "ASK { ?x wdt:P31 wd:Q5 }", "format": "json"}
    )
    assert ask.json() == {"head": {}, "boolean": True}
    broken = await client.get(
        "/wikidata/sparql", params={"query": "SELECT ?x WHERE { ?x wdt:P31 ", "format": "json"}
    )
    assert broken.status_code == 400
    assert "MalformedQueryException" in broken.text
