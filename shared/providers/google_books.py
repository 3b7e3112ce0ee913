"""Google Books API v1 client: lookup by ISBN (search, then the full volume) and title search."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse, NotFound
from shared.providers.google_errors import classify_google
from shared.providers.http import HttpTransport
from shared.providers.models import BookRecord, Covers, ExternalIds
from shared.providers.normalise import (
    JsonObject,
    as_int,
    as_str,
    as_str_list,
    description_text,
    language_code,
)
from shared.providers.spec import Credential, ProviderSpec, spec_from_block
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "google_books"
# Search results carry a reduced record (no description, small thumbnails only, sometimes other
# page counts); the full record needs /volumes/{id}.
_IMAGE_SIZES = ("extraLarge", "large", "medium", "small", "thumbnail", "smallThumbnail")


def spec_from_settings(settings: Settings) -> ProviderSpec:
    # Per-day exhaustion is shared across replicas. Google documents a Pacific-midnight reset for
    # Gemini only; for Books we assume UTC, which resumes earlier: one 429 re-marks the day.
    return spec_from_block(PROVIDER, settings.google_books, settings.http, shares_exhaustion=True)


# --- parsing (pure) ------------------------------------------------------------------------------


def _identifiers(info: JsonObject) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in info.get("industryIdentifiers") or ():
        if isinstance(item, Mapping):
            kind, value = as_str(item.get("type")), as_str(item.get("identifier"))
            if kind and value:
                found.setdefault(kind, value)
    return found


def _covers(links: Any) -> Covers:
    if not isinstance(links, Mapping):
        return Covers()

    def pick(*names: str) -> str | None:
        return next((url for name in names if (url := as_str(links.get(name)))), None)

    return Covers(
        large=pick("extraLarge", "large", "medium"),
        medium=pick("medium", "small", "thumbnail"),
        small=pick("thumbnail", "smallThumbnail"),
    )


def parse_volume(volume: JsonObject) -> BookRecord:
    """One volume -> BookRecord. Volumes with only `OTHER` identifiers get isbn13=None."""
    info = volume.get("volumeInfo")
    if not isinstance(info, Mapping):
        raise MalformedResponse(PROVIDER, "volume without volumeInfo")
    ids = _identifiers(info)
    isbn13 = isbn_lib.isbn13_or_none(ids.get("ISBN_13")) or isbn_lib.isbn13_or_none(
        ids.get("ISBN_10")
    )
    isbn10 = isbn_lib.isbn10_or_none(ids.get("ISBN_10")) or isbn_lib.isbn10_or_none(isbn13)
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn10,
        title=as_str(info.get("title")),
        subtitle=as_str(info.get("subtitle")),
        authors=as_str_list(info.get("authors")),
        publisher=as_str(info.get("publisher")),
        publication_date=as_str(info.get("publishedDate")),
        page_count=as_int(info.get("pageCount")) or as_int(info.get("printedPageCount")),
        language=language_code(info.get("language")),
        description=description_text(info.get("description"), strip_markup=True),
        subjects=as_str_list(info.get("categories")),
        covers=_covers(info.get("imageLinks")),
        external_ids=ExternalIds(google_volume=as_str(volume.get("id"))),
    )


def parse_volumes(body: Any) -> list[BookRecord]:
    """A `books#volumes` list; `items` is absent when nothing matched; bad items are dropped."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, "expected a volumes object")
    items = body.get("items") or []
    if not isinstance(items, list):
        raise MalformedResponse(PROVIDER, "`items` is not a list")
    books: list[BookRecord] = []
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise MalformedResponse(PROVIDER, f"volume is a {type(item).__name__}")
            books.append(parse_volume(item))
        except MalformedResponse as exc:
            log.warning("google_books: dropped one volume: %s", exc)
    return books


def search_query(title: str, author: str | None) -> str:
    """`intitle:"..." inauthor:"..."`; quotes keep multi-word titles bound to the keyword."""
    clean_title = title.replace('"', " ").strip()
    query = f'intitle:"{clean_title}"'
    if author:
        query += f' inauthor:"{author.replace(chr(34), " ").strip()}"'
    return query


def pick_isbn_match(books: list[BookRecord], isbn13: str) -> BookRecord | None:
    """The volume that carries the ISBN; Google's isbn: search occasionally returns neighbours."""
    return next((book for book in books if book.isbn13 == isbn13), None)


# --- client --------------------------------------------------------------------------------------


@dataclass
class GoogleBooksClient:
    transport: HttpTransport
    spec: ProviderSpec
    api_key: SecretStr | None

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> GoogleBooksClient:
        return cls(transport, spec_from_settings(settings), settings.google_books.api_key)

    async def _get(
        self, path: str, params: Mapping[str, Any] | None = None, route: str | None = None
    ) -> Any:
        # Anonymous calls share a global quota that is nearly always exhausted: send a key.
        credential = Credential.in_query(self.api_key, "key") if self.api_key else None
        return await self.transport.request_json(
            self.spec,
            "GET",
            path,
            params=params,
            credential=credential,
            classify=classify_google,
            route=route,
        )

    async def volume(self, volume_id: str) -> BookRecord:
        """The full record of one volume."""
        body = await self._get(f"/volumes/{quote(volume_id, safe='')}", route="/volumes/{id}")
        if not isinstance(body, Mapping):
            raise MalformedResponse(PROVIDER, "expected a volume object")
        return parse_volume(body)

    async def by_isbn(self, isbn: str, *, full: bool = True) -> BookRecord:
        """The edition with this ISBN; `full` spends a second call on the complete volume."""
        isbn13 = isbn_lib.to_isbn13(isbn)
        books = parse_volumes(await self._get("/volumes", {"q": f"isbn:{isbn13}"}))
        found = pick_isbn_match(books, isbn13)
        if found is None:
            raise NotFound(PROVIDER, f"no volume with ISBN {isbn13}")
        volume_id = found.external_ids.google_volume
        if not full or volume_id is None:
            return found
        try:
            complete = await self.volume(volume_id)
        except NotFound:
            return found
        return complete if complete.isbn13 == isbn13 else found

    async def search(
        self, title: str, author: str | None = None, *, limit: int = 20
    ) -> list[BookRecord]:
        """Reduced records of matching volumes, most relevant first."""
        params = {
            "q": search_query(title, author),
            "maxResults": min(limit, 40),
            "printType": "books",
        }
        return parse_volumes(await self._get("/volumes", params))
