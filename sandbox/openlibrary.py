"""Open Library (openlibrary.org): /search.json, /isbn/{isbn}.json (302 to /books/{OLID}.json),
/books/{OLID}.json, /works/{OLID}.json, /authors/{OLID}.json and /api/books."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from sandbox import ids, variants
from sandbox.catalogue import AuthorDetail, CatalogueBook
from sandbox.catalogue_index import (
    CatalogueIndex,
    EditionView,
    author_detail,
    editions_of,
    knows,
    parse_date,
)
from sandbox.errors import json_response, text_response
from sandbox.faults import fault_middleware
from sandbox.hashing import chance, pick, stable_int
from sandbox.isbns import compact, is_valid, to_isbn10
from sandbox.matching import content_words, score, words
from sandbox.state import SandboxState, state_of

PROVIDER = "openlibrary"
SITE = "https://openlibrary.org"
COVERS = "https://covers.openlibrary.org"
_STAMP = {"type": "/type/datetime", "value": "2023-01-14T09:12:44.193071"}


def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
    """Open Library refuses the default python-requests User-Agent with 403 (observed)."""
    agent = request.headers.get("User-Agent", "")
    if agent.lower().startswith("python-requests/"):
        return text_response("<html><body><h1>403 Forbidden</h1></body></html>", 403, "text/html")
    return None


def _not_found(key: str) -> web.Response:
    return json_response({"error": "notfound", "key": key}, 404)


def _cover_id(book: CatalogueBook, isbn13: str) -> int:
    return 8_000_000 + stable_int("cover", book.id, isbn13) % 6_000_000


def _text_value(text: str, key: str) -> str | dict[str, str]:
    """Descriptions and bios come as a string or as {type, value}; both are common."""
    if chance(0.5, PROVIDER, "textvalue", key):
        return {"type": "/type/text", "value": text}
    return text


def _author_refs(book: CatalogueBook) -> list[tuple[str, str, AuthorDetail | None]]:
    refs = []
    for name in book.authors:
        detail = author_detail(book, name)
        refs.append((ids.ol_author_id(name, detail), name, detail))
    return refs


def _publish_date(edition: EditionView) -> str:
    date = parse_date(edition.publication_date)
    style = pick(("long", "long", "short", "year"), PROVIDER, "date", edition.isbn13)
    if style == "year":
        return str(date.year)
    return variants.short_date(date) if style == "short" else variants.long_date(date)


def edition_json(edition: EditionView, archive_id: str | None) -> dict[str, Any]:
    book = edition.book
    key = edition.isbn13
    olid = ids.ol_edition_id(book, key)
    record: dict[str, Any] = {
        "key": f"/books/{olid}",
        "title": book.title,
        "authors": [{"key": f"/authors/{aid}"} for aid, _, _ in _author_refs(book)],
        "works": [{"key": f"/works/{ids.ol_work_id(book)}"}],
        "type": {"key": "/type/edition"},
        "publishers": [edition.publisher],
        "publish_date": _publish_date(edition),
        "isbn_13": [key],
        "languages": [{"key": f"/languages/{variants.lang3(book.language)}"}],
    }
    if book.subtitle:
        record["subtitle"] = book.subtitle
    isbn10 = to_isbn10(key)
    if isbn10:
        record["isbn_10"] = [isbn10]
    if book.pages is not None and chance(0.85, PROVIDER, "pages", key):
        record["number_of_pages"] = book.pages
        record["pagination"] = f"{book.pages} p."
    if chance(0.8, PROVIDER, "format", key):
        record["physical_format"] = variants.physical_format(edition.format)
    if chance(0.7, PROVIDER, "covers", key):
        record["covers"] = [_cover_id(book, key)]
    if chance(0.4, PROVIDER, "edsubjects", key):
        record["subjects"] = list(book.subjects)
    if chance(0.3, PROVIDER, "by", key):
        record["by_statement"] = f"{', '.join(book.authors)}."
    if archive_id is not None and edition.primary:
        record["ocaid"] = archive_id
    record["identifiers"] = {"goodreads": [str(1_000_000 + stable_int("gr", key) % 9_000_000)]}
    record["latest_revision"] = 3
    record["revision"] = 3
    record["created"] = _STAMP
    record["last_modified"] = _STAMP
    return record


def work_json(book: CatalogueBook) -> dict[str, Any]:
    work_id = ids.ol_work_id(book)
    record: dict[str, Any] = {
        "key": f"/works/{work_id}",
        "title": book.title,
        "authors": [
            {"author": {"key": f"/authors/{aid}"}, "type": {"key": "/type/author_role"}}
            for aid, _, _ in _author_refs(book)
        ],
        "type": {"key": "/type/work"},
        "subjects": [*book.subjects, *book.genres],
        "covers": [_cover_id(book, book.isbn13)],
        "first_publish_date": variants.long_date(parse_date(book.publication_date)),
        "latest_revision": 5,
        "revision": 5,
        "created": _STAMP,
        "last_modified": _STAMP,
    }
    if book.subtitle:
        record["subtitle"] = book.subtitle
    if chance(0.9, PROVIDER, "workdesc", book.id):
        record["description"] = _text_value(book.description, book.id)
    return record


def author_json(author_id: str, name: str, detail: AuthorDetail | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "key": f"/authors/{author_id}",
        "name": name,
        "personal_name": name,
        "type": {"key": "/type/author"},
        "latest_revision": 2,
        "revision": 2,
        "created": _STAMP,
        "last_modified": _STAMP,
    }
    alternates = {variants.squash_initials(name), variants.spread_initials(name)} - {name}
    if alternates:
        record["alternate_names"] = sorted(alternates)
    if detail is not None:
        if detail.birth_year is not None:
            record["birth_date"] = str(detail.birth_year)
        if detail.death_year is not None:
            record["death_date"] = str(detail.death_year)
        if detail.bio:
            record["bio"] = _text_value(detail.bio, author_id)
        if detail.wikidata_id:
            record["remote_ids"] = {"wikidata": detail.wikidata_id}
    return record


def _data_json(edition: EditionView) -> dict[str, Any]:
    """jscmd=data: built from the edition plus its work's authors and subjects; no description."""
    book = edition.book
    key = edition.isbn13
    olid = ids.ol_edition_id(book, key)
    record: dict[str, Any] = {
        "url": f"{SITE}/books/{olid}/{ids.slug(book.title)}",
        "key": f"/books/{olid}",
        "title": book.title,
        "authors": [
            {"url": f"{SITE}/authors/{aid}/{name.replace(' ', '_')}", "name": name}
            for aid, name, _ in _author_refs(book)
        ],
        "identifiers": {"isbn_13": [key], "openlibrary": [olid]},
        "publishers": [{"name": edition.publisher}],
        "publish_date": _publish_date(edition),
        "subjects": [
            {"name": s, "url": f"{SITE}/subjects/{'_'.join(words(s))}"}
            for s in (*book.subjects, *book.genres)
        ],
    }
    if book.subtitle:
        record["subtitle"] = book.subtitle
    isbn10 = to_isbn10(key)
    if isbn10:
        record["identifiers"]["isbn_10"] = [isbn10]
    if book.pages is not None and chance(0.85, PROVIDER, "pages", key):
        record["number_of_pages"] = book.pages
        record["pagination"] = f"{book.pages} p."
    if chance(0.7, PROVIDER, "covers", key):
        cover = _cover_id(book, key)
        record["cover"] = {
            size: f"{COVERS}/b/id/{cover}-{letter}.jpg"
            for size, letter in (("small", "S"), ("medium", "M"), ("large", "L"))
        }
    return record


def _search_doc(book: CatalogueBook, known_editions: list[EditionView]) -> dict[str, Any]:
    refs = _author_refs(book)
    date = parse_date(book.publication_date)
    isbns: list[str] = []
    for edition in known_editions:
        isbns.append(edition.isbn13)
        isbn10 = to_isbn10(edition.isbn13)
        if isbn10:
            isbns.append(isbn10)
    doc: dict[str, Any] = {
        "key": f"/works/{ids.ol_work_id(book)}",
        "type": "work",
        "title": book.title,
        "author_name": [name for _, name, _ in refs],
        "author_key": [aid for aid, _, _ in refs],
        "edition_count": len(known_editions),
        "first_publish_year": date.year,
        "cover_i": _cover_id(book, book.isbn13),
        "cover_edition_key": ids.ol_edition_id(book, known_editions[0].isbn13),
        "edition_key": [ids.ol_edition_id(book, e.isbn13) for e in known_editions],
        "language": [variants.lang3(book.language)],
        "has_fulltext": False,
        "ebook_access": "no_ebook",
        "public_scan_b": False,
        "isbn": isbns,
        "publisher": sorted({e.publisher for e in known_editions}),
        "publish_date": sorted({_publish_date(e) for e in known_editions}),
        "publish_year": sorted({parse_date(e.publication_date).year for e in known_editions}),
        "subject": [*book.subjects, *book.genres],
        "title_suggest": book.title,
    }
    if book.subtitle:
        doc["subtitle"] = book.subtitle
    if book.pages is not None:
        doc["number_of_pages_median"] = book.pages
    return doc


_DEFAULT_FIELDS = (
    "key", "type", "title", "subtitle", "author_name", "author_key", "edition_count",
    "first_publish_year", "cover_i", "cover_edition_key", "language", "ia", "has_fulltext",
    "ebook_access", "public_scan_b",
)  # fmt: skip
_Q_FIELD = re.compile(r'(\w+):\s*(\([^)]*\)|"[^"]*"|\S+)')


def _parse_search(request: web.Request) -> tuple[dict[str, str], str]:
    """Field shortcuts from parameters and from `field:value` clauses inside q; the rest is free."""
    wanted = {
        name: request.query[name]
        for name in ("title", "author", "isbn", "publisher", "subject")
        if request.query.get(name)
    }
    q = request.query.get("q", "")
    for field, value in _Q_FIELD.findall(q):
        wanted.setdefault(field.lower(), value.strip('()"'))
    free = _Q_FIELD.sub(" ", q).strip()
    # A bare ISBN in q is rewritten to isbn:(...).
    if free and is_valid(free) and "isbn" not in wanted:
        wanted["isbn"] = free
        free = ""
    return wanted, free


def create_app(index: CatalogueIndex) -> web.Application:
    def known(state: SandboxState, edition: EditionView) -> bool:
        return knows(PROVIDER, edition, state.coverage(PROVIDER))

    def known_editions(state: SandboxState, book: CatalogueBook) -> list[EditionView]:
        return [edition for edition in editions_of(book) if known(state, edition)]

    def archive_for(book: CatalogueBook) -> str | None:
        # Only the books archive.org would also have get an ocaid (its default coverage).
        return index.archive_ids[book.id] if chance(0.4, "coverage", "archive", book.id) else None

    docs: dict[tuple[str, float], dict[str, Any] | None] = {}

    def search_doc(state: SandboxState, book: CatalogueBook) -> dict[str, Any] | None:
        # Docs depend only on the book and the coverage knob, so they are built once.
        key = (book.id, state.coverage(PROVIDER))
        if key not in docs:
            editions = known_editions(state, book)
            docs[key] = _search_doc(book, editions) if editions else None
        return docs[key]

    async def search(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        wanted, free = _parse_search(request)
        if not wanted and len(free) < 3:
            return json_response(
                {"detail": "q must be at least 3 characters, or use a field such as title="}, 422
            )
        try:
            limit = int(request.query.get("limit", "100"))
            page = int(request.query.get("page", "1"))
            offset = int(request.query.get("offset", str((page - 1) * limit)))
        except ValueError:
            return json_response({"detail": "limit, page and offset must be integers"}, 422)
        matches: list[tuple[int, str, dict[str, Any]]] = []
        for book in index.catalogue.books:
            doc = search_doc(state, book)
            if doc is None:
                continue
            rank = _search_rank(doc, wanted, free)
            if rank:
                matches.append((-rank, book.id, doc))
        matches.sort(key=lambda match: match[:2])
        fields_param = request.query.get("fields", "")
        selected = [f.strip() for f in fields_param.split(",") if f.strip()] or list(
            _DEFAULT_FIELDS
        )
        docs = []
        for _, _, doc in matches[offset : offset + limit]:
            docs.append(doc if "*" in selected else {k: doc[k] for k in selected if k in doc})
        return json_response(
            {
                "numFound": len(matches),
                "start": offset,
                "numFoundExact": True,
                "num_found": len(matches),
                "q": request.query.get("q", ""),
                "offset": request.query.get("offset"),
                "docs": docs,
            }
        )

    async def by_isbn(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        isbn = request.match_info["isbn"]
        edition = index.edition(isbn)
        if edition is None or not known(state, edition):
            return _not_found(f"/isbn/{isbn}")
        olid = ids.ol_edition_id(edition.book, edition.isbn13)
        location = str(request.app.router["edition"].url_for(olid=olid))
        if request.query_string:
            location += f"?{request.query_string}"
        return web.Response(status=302, headers={"Location": location})

    async def edition_view(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        olid = request.match_info["olid"]
        edition = index.ol_editions.get(olid)
        if edition is None or not known(state, edition):
            return _not_found(f"/books/{olid}")
        return json_response(edition_json(edition, archive_for(edition.book)))

    async def work_view(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        olid = request.match_info["olid"]
        book = index.ol_works.get(olid)
        if book is None or not known_editions(state, book):
            return _not_found(f"/works/{olid}")
        return json_response(work_json(book))

    async def work_editions(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        olid = request.match_info["olid"]
        book = index.ol_works.get(olid)
        if book is None or not known_editions(state, book):
            return _not_found(f"/works/{olid}")
        entries = [edition_json(e, archive_for(book)) for e in known_editions(state, book)]
        base = f"/works/{olid}"
        return json_response(
            {
                "links": {"self": f"{base}/editions.json", "work": base},
                "size": len(entries),
                "entries": entries,
            }
        )

    async def author_view(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        olid = request.match_info["olid"]
        entry = index.ol_authors.get(olid)
        if entry is None or not any(known_editions(state, book) for book in entry[2]):
            return _not_found(f"/authors/{olid}")
        name, detail, _ = entry
        return json_response(author_json(olid, name, detail))

    def _bibkey_edition(state: SandboxState, bibkey: str) -> EditionView | None:
        prefix, _, value = bibkey.partition(":")
        if not value:
            prefix, value = "ISBN", bibkey  # a plain number counts as an ISBN
        prefix = prefix.upper()
        edition: EditionView | None = None
        if prefix == "ISBN":
            edition = index.edition(compact(value))
        elif prefix == "OLID":
            edition = index.ol_editions.get(value)
        elif prefix == "IA":
            book = index.archive_items.get(value)
            edition = index.editions[book.isbn13] if book is not None else None
        return edition if edition is not None and known(state, edition) else None

    async def api_books(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        bibkeys = [k.strip() for k in request.query.get("bibkeys", "").split(",") if k.strip()]
        jscmd = request.query.get("jscmd", "viewapi")
        answer: dict[str, Any] = {}
        for bibkey in bibkeys:
            edition = _bibkey_edition(state, bibkey)
            if edition is None:
                continue  # unmatched keys are omitted
            olid = ids.ol_edition_id(edition.book, edition.isbn13)
            info_url = f"{SITE}/books/{olid}/{ids.slug(edition.book.title)}"
            cover = _cover_id(edition.book, edition.isbn13)
            if jscmd == "data":
                answer[bibkey] = _data_json(edition)
            else:
                entry: dict[str, Any] = {
                    "bib_key": bibkey,
                    "info_url": info_url,
                    "preview": "noview",
                    "preview_url": info_url,
                    "thumbnail_url": f"{COVERS}/b/id/{cover}-S.jpg",
                }
                if jscmd == "details":
                    entry["details"] = edition_json(edition, archive_for(edition.book))
                answer[bibkey] = entry
        if request.query.get("format") != "json":
            # Without format=json the answer is JavaScript, as on the real site.
            script = f"var _OLBookInfo = {json.dumps(answer)};"
            return text_response(script, 200, "application/javascript")
        return json_response(answer)

    app = web.Application(middlewares=[fault_middleware(PROVIDER, authorize)])
    app.router.add_get("/search.json", search)
    app.router.add_get("/isbn/{isbn}.json", by_isbn)
    app.router.add_get("/books/{olid}.json", edition_view, name="edition")
    app.router.add_get("/works/{olid}.json", work_view)
    app.router.add_get("/works/{olid}/editions.json", work_editions)
    app.router.add_get("/authors/{olid}.json", author_view)
    app.router.add_get("/api/books", api_books)
    return app


def _search_rank(doc: dict[str, Any], wanted: dict[str, str], free: str) -> int:
    title = f"{doc['title']} {doc.get('subtitle', '')}"
    authors = " ".join(doc["author_name"])
    total = 1
    for field, value in wanted.items():
        if field == "isbn":
            if compact(value) not in doc["isbn"]:
                return 0
            total += 10
            continue
        if field == "author" and value in doc["author_key"]:
            total += 5
            continue
        haystack = {
            "title": title,
            "author": authors,
            "publisher": " ".join(doc["publisher"]),
            "subject": " ".join(doc["subject"]),
        }.get(field)
        if haystack is None:
            continue  # fields the catalogue cannot answer are ignored, not failed
        hits = score(content_words(value), haystack, match_all=True)
        if not hits:
            return 0
        total += hits
    if free:
        hits = score(content_words(free), f"{title} {authors}", match_all=True)
        if not hits:
            return 0
        total += hits
    return total
