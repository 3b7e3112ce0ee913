"""Internet Archive (archive.org): advancedsearch.php and the metadata read API /metadata/{id}."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from sandbox import ids, variants
from sandbox.catalogue import CatalogueBook
from sandbox.catalogue_index import CatalogueIndex, editions_of, knows, parse_date
from sandbox.errors import json_response, text_response
from sandbox.faults import fault_middleware
from sandbox.hashing import chance, stable_int
from sandbox.isbns import compact, to_isbn10, to_isbn13
from sandbox.matching import content_words, score
from sandbox.state import SandboxState, state_of

PROVIDER = "archive"
_SERVERS = ("ia800300.us.archive.org", "ia600300.us.archive.org")


def _maybe_list(values: list[str], key: str) -> str | list[str]:
    """Any metadata value may be a string or an array; single values come both ways."""
    if len(values) == 1 and chance(0.5, PROVIDER, "scalar", key):
        return values[0]
    return values


def item_metadata(book: CatalogueBook, identifier: str) -> dict[str, Any]:
    key = book.id
    date = parse_date(book.publication_date)
    isbns: list[str] = []
    for edition in editions_of(book)[:2]:
        isbn10 = to_isbn10(edition.isbn13)
        isbns.extend([isbn10, edition.isbn13] if isbn10 else [edition.isbn13])
    description: str | list[str]
    if chance(0.5, PROVIDER, "desc", key):
        # Scanned items often carry the jacket text as an array of HTML paragraphs.
        paragraphs = re.split(r"(?<=[.!?])\s+", book.description.strip())
        description = [f"<p>{part}</p>" for part in paragraphs if part]
    else:
        description = book.description
    metadata: dict[str, Any] = {
        "identifier": identifier,
        "mediatype": "texts",
        "collection": ["inlibrary", "printdisabled", "internetarchivebooks"],
        "title": book.title if not book.subtitle else f"{book.title} : {book.subtitle}",
        "creator": _maybe_list(
            [variants.invert_name(name) for name in book.authors], f"creator:{key}"
        ),
        "publisher": (
            f"New York : {book.publisher}" if chance(0.5, PROVIDER, "pub", key) else book.publisher
        ),
        "date": str(date.year),
        "year": str(date.year),
        "language": variants.lang3(book.language),
        "subject": _maybe_list([*book.subjects, *book.genres], f"subject:{key}"),
        "description": description,
        "isbn": _maybe_list(isbns, f"isbn:{key}"),
        "openlibrary_edition": ids.ol_edition_id(book, book.isbn13),
        "openlibrary_work": ids.ol_work_id(book),
        "external-identifier": [f"urn:isbn:{isbn}" for isbn in isbns],
        "imagecount": str(book.pages + 12 if book.pages else 300),
        "scanner": "station12.cebu.archive.org",
        "uploader": "associate-scanner@archive.org",
        "publicdate": f"{date.year + 2}-05-11 03:22:10",
        "addeddate": f"{date.year + 2}-05-10 21:14:02",
    }
    if book.pages:
        metadata["pages"] = str(book.pages)
    return metadata


def _files(identifier: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{identifier}.pdf",
            "source": "derivative",
            "format": "Text PDF",
            "size": "24876123",
            "md5": f"{stable_int('md5', identifier):016x}" * 2,
        },
        {
            "name": f"{identifier}_djvu.txt",
            "source": "derivative",
            "format": "DjVuTXT",
            "size": "512301",
            "md5": f"{stable_int('md5t', identifier):016x}" * 2,
        },
        {
            "name": f"{identifier}_meta.xml",
            "source": "original",
            "format": "Metadata",
            "size": "1893",
        },
    ]


def item_json(book: CatalogueBook, identifier: str) -> dict[str, Any]:
    files = _files(identifier)
    server = _SERVERS[stable_int("server", identifier) % len(_SERVERS)]
    return {
        "created": 1_700_000_000 + stable_int("created", identifier) % 10_000_000,
        "d1": server,
        "d2": _SERVERS[1] if server == _SERVERS[0] else _SERVERS[0],
        "dir": f"/33/items/{identifier}",
        "files": files,
        "files_count": len(files),
        "item_last_updated": 1_700_000_000,
        "item_size": sum(int(f["size"]) for f in files),
        "metadata": item_metadata(book, identifier),
        "server": server,
        "uniq": stable_int("uniq", identifier) % 2_000_000_000,
        "workable_servers": list(_SERVERS),
    }


_CLAUSE = re.compile(r'([\w-]+):\s*(\([^)]*\)|"[^"]*"|[^\s()]+)')


def parse_query(q: str) -> tuple[list[tuple[str, str]], str]:
    """Lucene-like `field:value`, `field:(a OR b)` and `field:"a b"` clauses, plus free words."""
    clauses = [(field.lower(), value.strip('()"')) for field, value in _CLAUSE.findall(q)]
    free = _CLAUSE.sub(" ", q)
    free = re.sub(r"\b(AND|OR|NOT)\b|[()]", " ", free).strip()
    return clauses, free


def _clause_matches(field: str, value: str, doc: dict[str, Any], book: CatalogueBook) -> bool:
    alternatives = [v for v in re.split(r"\s+OR\s+", value) if v.strip()]
    if field == "mediatype":
        return any(v.strip().lower() == "texts" for v in alternatives)
    if field in {"isbn", "external-identifier"}:
        wanted = {to_isbn13(compact(v.replace("urn:isbn:", ""))) for v in alternatives}
        have = {to_isbn13(i) for i in _as_list(doc["isbn"])}
        return bool(wanted & have - {None})
    if field in {"identifier", "openlibrary_edition", "openlibrary_work"}:
        return any(v.strip() == doc[field] for v in alternatives)
    haystacks = {
        "title": str(doc["title"]),
        "creator": " ".join(_as_list(doc["creator"])),
        "subject": " ".join(_as_list(doc["subject"])),
        "publisher": str(doc["publisher"]),
        "language": str(doc["language"]),
        "date": str(doc["date"]),
        "year": str(doc["year"]),
    }
    haystack = haystacks.get(field)
    if haystack is None:
        return True  # fields the sandbox does not model (collection, ...) do not filter
    return any(score(content_words(v), haystack, match_all=True) for v in alternatives)


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _search_doc(metadata: dict[str, Any]) -> dict[str, Any]:
    doc = dict(metadata)
    # advancedsearch returns dates as full timestamps and multi-valued fields as arrays.
    doc["date"] = f"{metadata['date']}-01-01T00:00:00Z"
    doc["year"] = int(metadata["year"])
    for field in ("creator", "subject", "isbn", "collection"):
        doc[field] = _as_list(metadata[field])
    return doc


def _xml_answer(docs: list[dict[str, Any]], total: int, start: int) -> str:
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<response><result name="response" '
        f'numFound="{total}" start="{start}">'
    ]
    for doc in docs:
        parts.append("<doc>")
        for field, value in doc.items():
            if isinstance(value, list):
                items = "".join(f"<str>{escape(str(v))}</str>" for v in value)
                parts.append(f'<arr name="{field}">{items}</arr>')
            else:
                parts.append(f'<str name="{field}">{escape(str(value))}</str>')
        parts.append("</doc>")
    parts.append("</result></response>")
    return "".join(parts)


def create_app(index: CatalogueIndex) -> web.Application:
    def known(state: SandboxState, book: CatalogueBook) -> bool:
        return knows(PROVIDER, index.editions[book.isbn13], state.coverage(PROVIDER))

    docs_by_id: dict[str, dict[str, Any]] = {}

    def search_doc(book: CatalogueBook) -> dict[str, Any]:
        # A book's search doc never changes, so it is built once.
        if book.id not in docs_by_id:
            docs_by_id[book.id] = _search_doc(item_metadata(book, index.archive_ids[book.id]))
        return docs_by_id[book.id]

    async def advanced_search(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        q = request.query.get("q", "").strip()
        if not q:
            return json_response(
                {
                    "responseHeader": {"status": 400, "QTime": 0},
                    "error": {"msg": "no query specified", "code": 400},
                },
                400,
            )
        fields = [
            f.strip()
            for name in ("fl[]", "fl")
            if name in request.query
            for value in request.query.getall(name)
            for f in value.split(",")
            if f.strip()
        ]
        try:
            rows = int(request.query.get("rows", "50"))
            page = max(int(request.query.get("page", "1")), 1)
        except ValueError:
            rows, page = 50, 1
        start = (page - 1) * rows
        if start + rows > 10_000 and "sort[]" in request.query:
            return json_response(
                {
                    "responseHeader": {"status": 400, "QTime": 0},
                    "error": {
                        "msg": "Sorted paging stops at 10,000 results; use the scrape API",
                        "code": 400,
                    },
                },
                400,
            )
        clauses, free = parse_query(q)
        docs: list[dict[str, Any]] = []
        for book in index.catalogue.books:
            if not known(state, book):
                continue
            doc = search_doc(book)
            if not all(_clause_matches(f, v, doc, book) for f, v in clauses):
                continue
            if free and not score(content_words(free), f"{doc['title']} {doc['creator']}", True):
                continue
            docs.append(doc)
        page_docs = docs[start : start + rows]
        if fields:
            page_docs = [{f: d[f] for f in fields if f in d} for d in page_docs]
        else:
            page_docs = [{"identifier": d["identifier"]} for d in page_docs]
        if request.query.get("output") != "json":
            return text_response(_xml_answer(page_docs, len(docs), start), 200, "text/xml")
        params = {
            "query": q,
            "qin": q,
            "fields": ",".join(fields),
            "wt": "json",
            "rows": str(rows),
            "start": start,
        }
        return json_response(
            {
                "responseHeader": {"status": 0, "QTime": 3 + len(docs) % 20, "params": params},
                "response": {"numFound": len(docs), "start": start, "docs": page_docs},
            }
        )

    def _item(state: SandboxState, identifier: str) -> CatalogueBook | None:
        book = index.archive_items.get(identifier)
        return book if book is not None and known(state, book) else None

    async def metadata(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        identifier = request.match_info["identifier"]
        book = _item(state, identifier)
        if book is None:
            return json_response({})  # an unknown identifier gives 200 with {}
        whole = item_json(book, identifier)
        section = request.match_info.get("section")
        if section is None:
            return json_response(whole)
        if section == "metadata":
            field = request.match_info.get("field")
            meta = whole["metadata"]
            if field:
                if field not in meta:
                    return json_response({"error": f"no such element: {field}"})
                return json_response({"result": meta[field]})
            return json_response({"result": meta})
        if section == "files":
            return json_response({"result": whole["files"]})
        if section in whole:
            return json_response({"result": whole[section]})
        return json_response({"error": f"no such element: {section}"})

    app = web.Application(middlewares=[fault_middleware(PROVIDER)])
    app.router.add_get("/advancedsearch.php", advanced_search)
    app.router.add_get("/metadata/{identifier}", metadata)
    app.router.add_get("/metadata/{identifier}/{section}", metadata)
    app.router.add_get("/metadata/{identifier}/{section}/{field}", metadata)
    return app
