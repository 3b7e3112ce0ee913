"""ISBNdb API v2 client: single and batch lookups (quota-reserved per call) and title search."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse, NotFound, RequestRejected
from shared.providers.http import HttpTransport
from shared.providers.models import BookRecord, Covers
from shared.providers.normalise import (
    JsonObject,
    as_int,
    as_str,
    as_str_list,
    description_text,
    isbn_pair,
    language_code,
    valid_isbn13s,
)
from shared.providers.outcomes import Outcome, classify_status, json_body
from shared.providers.spec import Credential, ProviderSpec, spec_from_block
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "isbndb"
BodyStyle = Literal["form", "json"]


def spec_from_settings(settings: Settings) -> ProviderSpec:
    block = settings.isbndb
    return spec_from_block(PROVIDER, block, settings.http, daily_limit=block.daily_quota)


# --- parsing (pure) ------------------------------------------------------------------------------


def parse_book(data: JsonObject) -> BookRecord:
    """One ISBNdb `book` object -> BookRecord; raises MalformedResponse without a usable ISBN."""
    isbn13, isbn10 = isbn_pair([data.get("isbn13"), data.get("isbn"), data.get("isbn10")])
    if isbn13 is None:
        raise MalformedResponse(PROVIDER, "book without a valid ISBN")
    # ISBNdb has no subtitle field: "Thick: And Other Essays" is title and subtitle in one.
    title, _, subtitle = (
        as_str(data.get("title")) or as_str(data.get("title_long")) or ""
    ).partition(": ")
    related: dict[str, str] = {}
    for other in data.get("other_isbns") or ():
        if isinstance(other, Mapping):
            other13 = isbn_lib.isbn13_or_none(as_str(other.get("isbn")))
            if other13 and other13 != isbn13:
                related[other13] = as_str(other.get("binding")) or ""
    related_by_format = data.get("related")
    if isinstance(related_by_format, Mapping):
        for fmt, value in related_by_format.items():
            other13 = isbn_lib.isbn13_or_none(as_str(value))
            if other13 and other13 != isbn13:
                related.setdefault(other13, str(fmt))
    # The FAQ and older docs spell it `synopsys`; `overview` is the long fallback.
    description = (
        description_text(data.get("synopsis"), strip_markup=True)
        or description_text(data.get("synopsys"), strip_markup=True)
        or description_text(data.get("overview"), strip_markup=True)
    )
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn10,
        title=title.strip() or None,
        subtitle=subtitle.strip() or None,
        authors=as_str_list(data.get("authors")),
        publisher=as_str(data.get("publisher")),
        publication_date=as_str(data.get("date_published")),
        page_count=as_int(data.get("pages")),
        language=language_code(data.get("language")),
        format=as_str(data.get("binding")),
        description=description,
        subjects=as_str_list(data.get("subjects")),
        covers=Covers(
            large=as_str(data.get("image")),
            original=as_str(data.get("image_original")),
        ),
        related_isbns=related,
        # An array in v2.6, a string in the old spec.
        dewey=as_str_list(data.get("dewey_decimal")),
    )


def parse_books(items: Any) -> list[BookRecord]:
    """A list of book objects; a malformed item is logged and dropped, not fatal to the rest."""
    if not isinstance(items, list):
        raise MalformedResponse(PROVIDER, f"expected a list of books, got {type(items).__name__}")
    books: list[BookRecord] = []
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise MalformedResponse(PROVIDER, f"book is a {type(item).__name__}")
            books.append(parse_book(item))
        except MalformedResponse as exc:
            log.warning("isbndb: dropped one book: %s", exc)
    return books


def parse_book_response(body: Any) -> BookRecord:
    """`GET /book/{isbn}` -> `{"book": {...}}`."""
    if not isinstance(body, Mapping) or not isinstance(body.get("book"), Mapping):
        raise MalformedResponse(PROVIDER, "expected {'book': {...}}")
    return parse_book(body["book"])


def parse_batch_response(body: Any) -> dict[str, BookRecord]:
    """`POST /books` -> `{"data": [...]}`; keyed by ISBN-13, unknown ISBNs are simply absent."""
    if not isinstance(body, Mapping) or "data" not in body:
        raise MalformedResponse(PROVIDER, "expected {'data': [...]} from POST /books")
    return {book.isbn13: book for book in parse_books(body["data"]) if book.isbn13}


def parse_search_response(body: Any) -> list[BookRecord]:
    """`GET /books/{query}` -> `{"total", "books": [...]}` (no `books` when nothing matched)."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, "expected an object from GET /books/{query}")
    return parse_books(body.get("books") or body.get("data") or [])


def batch_body(isbns: Sequence[str], style: BodyStyle) -> tuple[str, dict[str, str]]:
    """The POST /books body. The swagger says JSON; ISBNdb's own examples send `isbns=a,b`."""
    if style == "json":
        return json.dumps({"isbns": list(isbns)}), {"Content-Type": "application/json"}
    return "isbns=" + ",".join(isbns), {"Content-Type": "application/json"}


def matches_author(book: BookRecord, author: str | None) -> bool:
    """Loose author check for search results: every token of the surname appears."""
    if not author:
        return True
    surname = author.split()[-1].casefold() if author.split() else ""
    return any(surname in name.casefold() for name in book.authors)


def classify(response: httpx.Response, now: datetime, rate_window_s: float = 1.0) -> Outcome:
    """ISBNdb answers both its per-second and its daily limit with 429 "Limit Exceeded".

    Without a Retry-After we wait one rate window and, if the 429 outlasts every retry (so
    several windows), take it as the daily quota, as providers.md advises.
    """
    outcome = classify_status(response, now)
    if outcome.kind != "rate_limited":
        return outcome
    body = json_body(response)
    message = as_str(body.get("message")) if isinstance(body, Mapping) else None
    detail = f"429 {message or 'rate limited'}"
    if outcome.retry_after_s is not None:
        return Outcome("rate_limited", detail, outcome.retry_after_s)
    return Outcome("rate_limited", detail, rate_window_s, daily_if_persistent=True)


# --- client --------------------------------------------------------------------------------------


@dataclass
class IsbndbClient:
    """ISBNdb calls; each HTTP attempt reserves one call of the shared daily quota first."""

    transport: HttpTransport
    spec: ProviderSpec
    api_key: SecretStr | None
    batch_size: int = 100
    # ISBNdb's limits are per second: a 429 without Retry-After is retried after this long, so
    # a 429 that outlasts every retry has outlasted several windows and means the day is over.
    rate_window_s: float = 1.0
    _body_style: BodyStyle = field(default="form")

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> IsbndbClient:
        return cls(
            transport,
            spec_from_settings(settings),
            settings.isbndb.api_key,
            batch_size=settings.isbndb.batch_size,
        )

    def _credential(self) -> Credential | None:
        # The raw key, no "Bearer" prefix.
        return Credential.in_header(self.api_key, "Authorization") if self.api_key else None

    def _classify(self, response: httpx.Response, now: datetime) -> Outcome:
        return classify(response, now, self.rate_window_s)

    async def _get(
        self, path: str, params: Mapping[str, Any] | None = None, route: str | None = None
    ) -> Any:
        return await self._call("GET", path, params=params, route=route)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.transport.request_json(
            self.spec,
            method,
            path,
            credential=self._credential(),
            classify=self._classify,
            **kwargs,
        )

    async def book(self, isbn: str) -> BookRecord:
        """One edition by ISBN-10 or -13. NotFound may also mean "not indexed yet" (docs)."""
        number = isbn_lib.validate(isbn)
        return parse_book_response(await self._get(f"/book/{number}", route="/book/{isbn}"))

    async def books_batch(self, isbns: Iterable[str]) -> dict[str, BookRecord]:
        """Many editions, `batch_size` per POST (one quota call each); keyed by ISBN-13."""
        wanted = valid_isbn13s(isbns)
        found: dict[str, BookRecord] = {}
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start : start + self.batch_size]
            found.update(await self._batch(chunk))
        return found

    async def _batch(self, chunk: Sequence[str]) -> dict[str, BookRecord]:
        try:
            body = await self._post_books(chunk, self._body_style)
        except RequestRejected as exc:
            if exc.status not in (400, 415, 422):
                raise
            # Which body ISBNdb wants is unconfirmed: switch once and remember what worked.
            other: BodyStyle = "json" if self._body_style == "form" else "form"
            log.info("isbndb: POST /books refused a %s body; trying %s", self._body_style, other)
            body = await self._post_books(chunk, other)
            self._body_style = other
        return parse_batch_response(body)

    async def _post_books(self, chunk: Sequence[str], style: BodyStyle) -> Any:
        content, headers = batch_body(chunk, style)
        return await self._call("POST", "/books", content=content, headers=headers)

    async def search(
        self, title: str, author: str | None = None, *, limit: int = 20
    ) -> list[BookRecord]:
        """Editions whose title matches; with an author, only those whose authors match too."""
        params = {"column": "title", "page": 1, "pageSize": limit}
        try:
            body = await self._get(f"/books/{quote(title, safe='')}", params, "/books/{title}")
        except NotFound:
            return []  # ISBNdb answers an empty search with 404
        return [b for b in parse_search_response(body) if matches_author(b, author)]
