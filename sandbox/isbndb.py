"""ISBNdb API v2 (api2.isbndb.com): /book/{isbn}, POST /books, /books/{query}, /author/{name}."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from sandbox import variants
from sandbox.catalogue_index import EditionView, knows, parse_date
from sandbox.errors import ISBNDB, isbndb_not_found, json_response
from sandbox.faults import fault_middleware
from sandbox.hashing import chance, pick
from sandbox.isbns import compact, to_isbn10
from sandbox.matching import score, words
from sandbox.state import SandboxState, state_of

PROVIDER = "isbndb"
BATCH_LIMIT = 1000  # Premium and Pro plans; Basic allows 100 (providers.md)
RESPONSE_LIMIT = 6 * 1024 * 1024  # larger answers fail with HTTP 500


def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
    """The raw key in Authorization, no 'Bearer' (the 401 body is a guess)."""
    key = request.headers.get("Authorization", "").strip()
    expected = state.knobs.for_provider(PROVIDER).api_key
    if not key or key.lower().startswith("bearer ") or (expected is not None and key != expected):
        return json_response({"message": "Unauthorized"}, 401)
    return None


def _known(state: SandboxState, edition: EditionView) -> bool:
    return knows(PROVIDER, edition, state.coverage(PROVIDER))


def book_json(edition: EditionView) -> dict[str, Any]:
    """One ISBNdb book record, with the field variants real records show."""
    book = edition.book
    key = edition.isbn13
    date = parse_date(edition.publication_date)
    long_title = variants.full_title(book.title, book.subtitle)
    record: dict[str, Any] = {
        # ISBNdb has no subtitle field; about half the records fold it into the title.
        "title": long_title if chance(0.5, PROVIDER, "title", key) else book.title,
        "title_long": long_title,
        "isbn": to_isbn10(key) or key,
        "isbn13": key,
    }
    style = pick(("plain", "plain", "plain", "inverted"), PROVIDER, "authors", key)
    record["authors"] = [
        variants.invert_name(name) if style == "inverted" else name for name in book.authors
    ]
    record["publisher"] = edition.publisher
    record["language"] = book.language
    date_style = pick(("iso", "iso", "year", "timestamp"), PROVIDER, "date", key)
    if date_style == "year":
        record["date_published"] = str(date.year)
    elif date_style == "timestamp" and date.day is not None:
        record["date_published"] = f"{variants.iso_date(date)}T00:00:01Z"
    else:
        record["date_published"] = variants.iso_date(date)
    if chance(0.3, PROVIDER, "edition", key):
        record["edition"] = pick(("1", "First Edition", "Reprint"), PROVIDER, "ed", key)
    if book.pages is not None and chance(0.9, PROVIDER, "pages", key):
        record["pages"] = book.pages
    record["binding"] = variants.binding(edition.format)
    if chance(0.6, PROVIDER, "subjects", key):
        record["subjects"] = list(book.subjects)
    if chance(0.5, PROVIDER, "dims", key):
        record["dimensions"] = (
            "Height: 9.5 Inches, Length: 6.4 Inches, Weight: 1.2 Pounds, Width: 1.1 Inches"
        )
        record["dimensions_structured"] = {
            "length": {"unit": "inches", "value": 6.4},
            "width": {"unit": "inches", "value": 1.1},
            "height": {"unit": "inches", "value": 9.5},
            "weight": {"unit": "pounds", "value": 1.2},
        }
    if chance(0.3, PROVIDER, "dewey", key):
        record["dewey_decimal"] = ["813.6"]
    # The description field has three spellings across ISBNdb's history; some records have none.
    text_field = pick(("synopsis", "synopsis", "synopsys", "overview", None), PROVIDER, "syn", key)
    if text_field is not None:
        text = book.description
        if chance(0.3, PROVIDER, "html", key):
            text = f"<p>{text}</p>"
        record[text_field] = text
    record["image"] = f"https://images.isbndb.com/covers/{key[-4:-2]}/{key[-2:]}/{key}.jpg"
    record["msrp"] = pick(("0.00", "16.99", "27.00", "28.95"), PROVIDER, "msrp", key)
    siblings = [(isbn, fmt) for isbn, fmt in _siblings(edition) if isbn != key]
    record["other_isbns"] = [{"isbn": isbn, "binding": variants.binding(f)} for isbn, f in siblings]
    if siblings:
        record["related"] = {variants.binding(f): isbn for isbn, f in siblings}
    return record


def _siblings(edition: EditionView) -> list[tuple[str, str]]:
    book = edition.book
    return [(book.isbn13, book.format)] + [(e.isbn13, e.format) for e in book.other_editions]


async def get_book(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    edition = state.index.edition(request.match_info["isbn"])
    if edition is None or not _known(state, edition):
        return isbndb_not_found()
    return json_response({"book": book_json(edition)})


def _batch_isbns(raw: str) -> list[str] | None:
    """Both body forms seen in the wild: JSON {"isbns": [...]} and form-style isbns=a,b."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        value = data.get("isbns") if isinstance(data, dict) else None
        if isinstance(value, str):
            return [part for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
            return [str(item) for item in value]
        return None
    values = parse_qs(text).get("isbns")
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part.strip()]


async def post_books(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    isbns = _batch_isbns(await request.text())
    if isbns is None:
        return json_response({"errorMessage": "isbns is required"}, 400)
    if len(isbns) > BATCH_LIMIT:
        return json_response(
            {"errorMessage": f"Too many ISBNs: the limit is {BATCH_LIMIT} per request"}, 400
        )
    data = []
    seen: set[str] = set()
    for isbn in isbns:
        edition = state.index.edition(isbn)
        if edition is None or edition.isbn13 in seen or not _known(state, edition):
            continue  # ISBNs not found are left out of data
        seen.add(edition.isbn13)
        data.append(book_json(edition))
    response = json_response({"total": len(data), "requested": len(isbns), "data": data})
    if isinstance(response.body, bytes) and len(response.body) > RESPONSE_LIMIT:
        return ISBNDB.server_error(0)
    return response


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        value = default
    return min(max(value, low), high)


def _search_text(edition: EditionView, column: str) -> str:
    book = edition.book
    if column == "title":
        return variants.full_title(book.title, book.subtitle)
    if column == "author":
        return " ".join(book.authors)
    if column == "date_published":
        return edition.publication_date
    if column == "subjects":
        return " ".join((*book.subjects, *book.genres))
    return " ".join(
        (variants.full_title(book.title, book.subtitle), *book.authors, edition.publisher)
    )


async def search_books(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    query = request.match_info["query"]
    column = request.query.get("column", "")
    match_all = request.query.get("shouldMatchAll", "0") == "1"
    language = request.query.get("language")
    year = request.query.get("year")
    page = _int_param(request, "page", 1, 1, 10_000)
    page_size = _int_param(request, "pageSize", 20, 1, 1000)
    wanted = words(query)
    scored: list[tuple[int, str, EditionView]] = []
    for edition in state.index.all_editions():
        if language and edition.book.language != language:
            continue
        if year and not edition.publication_date.startswith(year):
            continue
        if compact(query) == edition.isbn13:
            hits = len(wanted) + 1
        else:
            hits = score(wanted, _search_text(edition, column), match_all)
        if hits and _known(state, edition):
            scored.append((hits, edition.isbn13, edition))
    if not scored:
        return isbndb_not_found()
    scored.sort(key=lambda item: (-item[0], item[1]))
    total = min(len(scored), 10_000)  # searches return at most 10,000 results
    start = (page - 1) * page_size
    books = [book_json(edition) for _, _, edition in scored[start : start + page_size]]
    return json_response({"total": total, "books": books})


async def get_author(request: web.Request) -> web.StreamResponse:
    """Names are written lowercased with underscores ('j.k._rowling'); no total, page by size."""
    state = state_of(request)
    wanted = words(request.match_info["name"].replace("_", " "))
    page = _int_param(request, "page", 1, 1, 10_000)
    page_size = _int_param(request, "pageSize", 20, 1, 1000)
    matched_name = None
    found: list[EditionView] = []
    for edition in state.index.all_editions():
        for name in edition.book.authors:
            if words(name) == wanted and _known(state, edition):
                matched_name = matched_name or name
                found.append(edition)
                break
    if matched_name is None:
        return isbndb_not_found()
    found.sort(key=lambda edition: edition.isbn13)
    start = (page - 1) * page_size
    books = [book_json(edition) for edition in found[start : start + page_size]]
    return json_response({"author": matched_name, "books": books})


def create_app() -> web.Application:
    app = web.Application(middlewares=[fault_middleware(PROVIDER, authorize)])
    app.router.add_get("/book/{isbn}", get_book)
    app.router.add_post("/books", post_books)
    app.router.add_get("/books/{query}", search_books)
    app.router.add_get("/author/{name}", get_author)
    return app
