"""Internet Archive client: advancedsearch for texts and the item metadata API."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse, NotFound
from shared.providers.http import HttpTransport
from shared.providers.models import BookRecord, Covers, ExternalIds
from shared.providers.normalise import (
    JsonObject,
    as_int,
    as_str_list,
    description_text,
    first_str,
    language_code,
    olid,
    valid_isbn13s,
)
from shared.providers.spec import ProviderSpec, spec_from_block
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "archive"
SEARCH_FIELDS = (
    "identifier", "title", "creator", "publisher", "date", "year", "language", "isbn",
    "subject", "openlibrary_edition", "openlibrary_work", "imagecount", "mediatype",
)  # fmt: skip
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def spec_from_settings(settings: Settings) -> ProviderSpec:
    return spec_from_block(PROVIDER, settings.archive, settings.http)


# --- parsing (pure) ------------------------------------------------------------------------------


def lucene_escape(text: str) -> str:
    return _LUCENE_SPECIAL.sub(r"\\\1", text)


def search_query(title: str, author: str | None) -> str:
    """`title:(...) AND creator:(...) AND mediatype:texts`, user text escaped."""
    query = f"title:({lucene_escape(title)}) AND mediatype:texts"
    if author:
        query += f" AND creator:({lucene_escape(author)})"
    return query


def _isbns(meta: JsonObject) -> tuple[str, ...]:
    """`isbn` mixes ISBN-10 and -13; `external-identifier` may hold `urn:isbn:...` (unconfirmed)."""
    candidates: list[Any] = list(as_str_list(meta.get("isbn")))
    for ident in as_str_list(meta.get("external-identifier")):
        if ident.lower().startswith("urn:isbn:"):
            candidates.append(ident)
    return tuple(valid_isbn13s(candidates))


def _title_parts(meta: JsonObject) -> tuple[str | None, str | None]:
    """Catalogue records write "Title : subtitle" (ISBD punctuation)."""
    title = first_str(meta.get("title"))
    if title and " : " in title:
        main, _, sub = title.partition(" : ")
        return main.strip() or title, sub.strip() or None
    return title, None


def _date(meta: JsonObject) -> str | None:
    """advancedsearch pads a bare year to "YYYY-01-01T00:00:00Z"; keep what was published."""
    date = first_str(meta.get("date"))
    year = first_str(meta.get("year"))
    if date and year and re.fullmatch(r"\d{4}-01-01T00:00:00Z", date) and date.startswith(year):
        return year
    return date or year


def thumbnail(base_url: str, identifier: str) -> str:
    return f"{base_url.rstrip('/')}/services/img/{quote(identifier, safe='')}"


def parse_item(meta: JsonObject, base_url: str = "https://archive.org") -> BookRecord:
    """An item's `metadata` (or a search doc). Any value may be a string or an array."""
    identifier = first_str(meta.get("identifier"))
    if identifier is None:
        raise MalformedResponse(PROVIDER, "item without identifier")
    isbns = _isbns(meta)
    isbn13 = isbns[0] if isbns else None
    title, subtitle = _title_parts(meta)
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn_lib.to_isbn10(isbn13) if isbn13 else None,
        title=title,
        subtitle=subtitle,
        authors=as_str_list(meta.get("creator")),
        publisher=first_str(meta.get("publisher")),
        publication_date=_date(meta),
        page_count=as_int(first_str(meta.get("imagecount"))),
        language=language_code(meta.get("language")),
        # Often an array of paragraphs, often HTML.
        description=description_text(meta.get("description"), strip_markup=True),
        subjects=as_str_list(meta.get("subject")),
        covers=Covers(medium=thumbnail(base_url, identifier)),
        external_ids=ExternalIds(
            openlibrary_edition=olid(first_str(meta.get("openlibrary_edition"))),
            openlibrary_work=olid(first_str(meta.get("openlibrary_work"))),
            archive=identifier,
        ),
        related_isbns={other: "" for other in isbns[1:]},
    )


def parse_metadata_response(body: Any, identifier: str, base_url: str) -> BookRecord:
    """`/metadata/{id}`: an unknown identifier reportedly answers 200 with `{}`."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, "expected an object from /metadata")
    if not body or "metadata" not in body:
        raise NotFound(PROVIDER, f"no item {identifier!r}")
    meta = body["metadata"]
    if not isinstance(meta, Mapping):
        raise MalformedResponse(PROVIDER, "`metadata` is not an object")
    return parse_item({"identifier": identifier, **meta}, base_url)


def parse_search_response(body: Any, base_url: str) -> list[BookRecord]:
    response = body.get("response") if isinstance(body, Mapping) else None
    if not isinstance(response, Mapping) or not isinstance(response.get("docs", []), list):
        raise MalformedResponse(PROVIDER, "expected {'response': {'docs': [...]}}")
    records: list[BookRecord] = []
    for doc in response.get("docs", []):
        try:
            if not isinstance(doc, Mapping):
                raise MalformedResponse(PROVIDER, f"doc is a {type(doc).__name__}")
            records.append(parse_item(doc, base_url))
        except MalformedResponse as exc:
            log.warning("archive: dropped one search doc: %s", exc)
    return records


# --- client --------------------------------------------------------------------------------------


@dataclass
class ArchiveClient:
    transport: HttpTransport
    spec: ProviderSpec

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> ArchiveClient:
        return cls(transport, spec_from_settings(settings))

    async def search(
        self, title: str, author: str | None = None, *, limit: int = 20
    ) -> list[BookRecord]:
        params: list[tuple[str, Any]] = [("q", search_query(title, author))]
        params += [("fl[]", name) for name in SEARCH_FIELDS]
        params += [("rows", limit), ("page", 1), ("output", "json")]
        body = await self.transport.request_json(
            self.spec, "GET", "/advancedsearch.php", params=params
        )
        return parse_search_response(body, self.spec.base_url)

    async def metadata(self, identifier: str) -> BookRecord:
        path = f"/metadata/{quote(identifier, safe='')}"
        body = await self.transport.request_json(
            self.spec, "GET", path, route="/metadata/{identifier}"
        )
        return parse_metadata_response(body, identifier, self.spec.base_url)
