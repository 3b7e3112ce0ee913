"""Open Library client: editions by ISBN, batch /api/books, search, works and authors."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse
from shared.providers.http import HttpTransport
from shared.providers.models import AuthorRecord, BookRecord, Covers, ExternalIds, WorkRecord
from shared.providers.normalise import (
    JsonObject,
    as_int,
    as_str,
    as_str_list,
    description_text,
    first_str,
    isbn_pair,
    language_code,
    olid,
    unwrap_text,
    valid_isbn13s,
)
from shared.providers.spec import ProviderSpec, spec_from_block
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "openlibrary"
COVERS = "https://covers.openlibrary.org"
SEARCH_FIELDS = (
    "key,title,subtitle,author_name,author_key,first_publish_year,isbn,publisher,publish_date,"
    "cover_i,cover_edition_key,edition_key,language,number_of_pages_median,subject,ddc,"
    "id_goodreads,id_amazon,ia"
)


def spec_from_settings(settings: Settings) -> ProviderSpec:
    return spec_from_block(PROVIDER, settings.openlibrary, settings.http)


# --- parsing (pure) ------------------------------------------------------------------------------


def cover_urls(cover_id: Any) -> Covers:
    """Cover URLs by cover ID (unthrottled, unlike by-ISBN cover URLs)."""
    if isinstance(cover_id, bool) or not isinstance(cover_id, int) or cover_id <= 0:
        return Covers()
    base = f"{COVERS}/b/id/{cover_id}"
    return Covers(large=f"{base}-L.jpg", medium=f"{base}-M.jpg", small=f"{base}-S.jpg")


def _mapping(value: Any) -> JsonObject:
    return value if isinstance(value, Mapping) else {}


def _first_id(identifiers: Any, name: str) -> str | None:
    return first_str(_mapping(identifiers).get(name))


def _first_cover(covers: Any) -> Covers:
    if isinstance(covers, list):
        # -1 marks a deleted cover.
        for cover in covers:
            if isinstance(cover, int) and not isinstance(cover, bool) and cover > 0:
                return cover_urls(cover)
    return Covers()


def parse_edition(data: JsonObject) -> BookRecord:
    """`/books/OL...M.json` (the target of `/isbn/{isbn}.json`). Authors are keys only here."""
    isbn13, isbn10 = isbn_pair([*(data.get("isbn_13") or ()), *(data.get("isbn_10") or ())])
    works = data.get("works") or []
    work_key = works[0].get("key") if works and isinstance(works[0], Mapping) else None
    identifiers = data.get("identifiers")
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn10,
        title=as_str(data.get("title")),
        subtitle=as_str(data.get("subtitle")),
        publisher=first_str(data.get("publishers")),
        publication_date=as_str(data.get("publish_date")),
        page_count=as_int(data.get("number_of_pages")) or as_int(data.get("pagination")),
        language=language_code(
            [lang.get("key") for lang in data.get("languages") or () if isinstance(lang, Mapping)]
        ),
        format=as_str(data.get("physical_format")),
        description=description_text(data.get("description")),
        subjects=as_str_list(data.get("subjects")),
        covers=_first_cover(data.get("covers")),
        external_ids=ExternalIds(
            openlibrary_edition=olid(data.get("key")),
            openlibrary_work=olid(work_key),
            amazon_asin=_first_id(identifiers, "amazon"),
            goodreads_edition=_first_id(identifiers, "goodreads"),
            archive=as_str(data.get("ocaid")),
        ),
        dewey=as_str_list(data.get("dewey_decimal_class")),
    )


def parse_data_entry(data: JsonObject) -> BookRecord:
    """One value of `/api/books?jscmd=data`: names resolved, covers given, no description."""
    identifiers = _mapping(data.get("identifiers"))
    isbn13, isbn10 = isbn_pair(
        [*(identifiers.get("isbn_13") or ()), *(identifiers.get("isbn_10") or ())]
    )
    cover = _mapping(data.get("cover"))
    dewey = as_str_list(_mapping(data.get("classifications")).get("dewey_decimal_class"))
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn10,
        title=as_str(data.get("title")),
        subtitle=as_str(data.get("subtitle")),
        authors=as_str_list(data.get("authors")),
        publisher=first_str(as_str_list(data.get("publishers"))),
        publication_date=as_str(data.get("publish_date")),
        page_count=as_int(data.get("number_of_pages")) or as_int(data.get("pagination")),
        subjects=as_str_list(data.get("subjects")),
        covers=Covers(
            large=as_str(cover.get("large")),
            medium=as_str(cover.get("medium")),
            small=as_str(cover.get("small")),
        ),
        external_ids=ExternalIds(
            openlibrary_edition=olid(data.get("key"))
            or olid(_first_id(identifiers, "openlibrary")),
            amazon_asin=_first_id(identifiers, "amazon"),
            goodreads_edition=_first_id(identifiers, "goodreads"),
        ),
        dewey=dewey,
    )


def parse_data_response(body: Any) -> dict[str, BookRecord]:
    """`/api/books` keyed by bibkey; unmatched keys are omitted. Result keyed by ISBN-13."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, "expected an object keyed by bibkey from /api/books")
    found: dict[str, BookRecord] = {}
    for bibkey, entry in body.items():
        if not isinstance(entry, Mapping):
            log.warning("openlibrary: dropped %s: not an object", bibkey)
            continue
        record = parse_data_entry(entry)
        # The bibkey is authoritative for which ISBN was asked; the record may list another.
        asked = isbn_lib.isbn13_or_none(str(bibkey).removeprefix("ISBN:"))
        key = asked or record.isbn13
        if key is None:
            continue
        if record.isbn13 is None:
            record = replace(record, isbn13=key, isbn10=isbn_lib.to_isbn10(key))
        found[key] = record
    return found


def merge_edition(edition: BookRecord, data: BookRecord | None) -> BookRecord:
    """The edition record (format, language, work) completed with the data view's names/covers."""
    if data is None:
        return edition
    ids = edition.external_ids
    return replace(
        edition,
        authors=edition.authors or data.authors,
        publisher=edition.publisher or data.publisher,
        subjects=edition.subjects or data.subjects,
        covers=data.covers if not data.covers.is_empty() else edition.covers,
        dewey=edition.dewey or data.dewey,
        external_ids=replace(
            ids,
            amazon_asin=ids.amazon_asin or data.external_ids.amazon_asin,
            goodreads_edition=ids.goodreads_edition or data.external_ids.goodreads_edition,
        ),
    )


def parse_search_doc(doc: JsonObject) -> BookRecord:
    """A `/search.json` doc is a work: first valid ISBN leads, the others go to related_isbns."""
    isbns = valid_isbn13s(doc.get("isbn") or ())
    isbn13 = isbns[0] if isbns else None
    return BookRecord(
        provider=PROVIDER,
        isbn13=isbn13,
        isbn10=isbn_lib.to_isbn10(isbn13) if isbn13 else None,
        title=as_str(doc.get("title")),
        subtitle=as_str(doc.get("subtitle")),
        authors=as_str_list(doc.get("author_name")),
        publisher=first_str(doc.get("publisher")),
        publication_date=first_str(doc.get("publish_date"))
        or as_str(doc.get("first_publish_year")),
        page_count=as_int(doc.get("number_of_pages_median")),
        language=language_code(doc.get("language")),
        subjects=as_str_list(doc.get("subject"))[:25],
        covers=cover_urls(doc.get("cover_i")),
        external_ids=ExternalIds(
            openlibrary_edition=olid(doc.get("cover_edition_key"))
            or olid(first_str(doc.get("edition_key"))),
            openlibrary_work=olid(doc.get("key")),
            amazon_asin=first_str(doc.get("id_amazon")),
            goodreads_edition=first_str(doc.get("id_goodreads")),
            archive=first_str(doc.get("ia")),
        ),
        related_isbns={other: "" for other in isbns[1:]},
        dewey=as_str_list(doc.get("ddc")),
    )


def parse_search_response(body: Any) -> list[BookRecord]:
    if not isinstance(body, Mapping) or not isinstance(body.get("docs", []), list):
        raise MalformedResponse(PROVIDER, "expected {'docs': [...]} from /search.json")
    records: list[BookRecord] = []
    for doc in body.get("docs", []):
        if isinstance(doc, Mapping) and olid(doc.get("key")):
            records.append(parse_search_doc(doc))
        else:
            log.warning("openlibrary: dropped a search doc without a work key")
    return records


def parse_work(data: JsonObject) -> WorkRecord:
    """`/works/OL...W.json`; authors are `[{author: {key}, type}]` (sometimes `[{key}]`)."""
    work_id = olid(data.get("key"))
    if work_id is None:
        raise MalformedResponse(PROVIDER, "work without a key")
    author_ids: list[str] = []
    for entry in data.get("authors") or ():
        if isinstance(entry, Mapping):
            ref = entry.get("author", entry)
            key = olid(ref.get("key")) if isinstance(ref, Mapping) else olid(ref)
            if key:
                author_ids.append(key)
    return WorkRecord(
        provider=PROVIDER,
        work_id=work_id,
        title=as_str(data.get("title")),
        subtitle=as_str(data.get("subtitle")),
        author_ids=tuple(author_ids),
        description=description_text(data.get("description")),
        subjects=as_str_list(data.get("subjects")),
        first_publish_date=as_str(data.get("first_publish_date")),
        covers=_first_cover(data.get("covers")),
    )


def parse_author(data: JsonObject) -> AuthorRecord:
    """`/authors/OL...A.json`; `remote_ids` is common but unconfirmed, so optional."""
    author_id = olid(data.get("key"))
    name = as_str(data.get("name")) or as_str(data.get("personal_name"))
    if author_id is None or name is None:
        raise MalformedResponse(PROVIDER, "author without key or name")
    remote = data.get("remote_ids")
    photos = [p for p in data.get("photos") or () if isinstance(p, int) and p > 0]
    return AuthorRecord(
        provider=PROVIDER,
        author_id=author_id,
        name=name,
        personal_name=as_str(data.get("personal_name")),
        alternate_names=as_str_list(data.get("alternate_names")),
        birth_date=as_str(data.get("birth_date")),
        death_date=as_str(data.get("death_date")),
        bio=unwrap_text(data.get("bio")),
        photo=f"{COVERS}/a/id/{photos[0]}-M.jpg" if photos else None,
        remote_ids=(
            {str(k): s for k, v in remote.items() if (s := as_str(v))}
            if isinstance(remote, Mapping)
            else {}
        ),
    )


def _object(body: Any, what: str) -> JsonObject:
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, f"expected an object for {what}")
    return body


# --- client --------------------------------------------------------------------------------------


@dataclass
class OpenLibraryClient:
    """No key; the User-Agent with contact is what earns identified-client limits."""

    transport: HttpTransport
    spec: ProviderSpec
    batch_size: int = 25

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> OpenLibraryClient:
        return cls(transport, spec_from_settings(settings), settings.openlibrary.batch_size)

    async def _get(
        self, path: str, params: Mapping[str, Any] | None = None, route: str | None = None
    ) -> Any:
        return await self.transport.request_json(self.spec, "GET", path, params=params, route=route)

    async def edition(self, isbn: str) -> BookRecord:
        """The edition record; `/isbn/{isbn}.json` answers 302 to `/books/OL...M.json`."""
        number = isbn_lib.validate(isbn)
        return parse_edition(
            _object(
                await self._get(f"/isbn/{number}.json", route="/isbn/{isbn}.json"), "an edition"
            )
        )

    async def books_batch(self, isbns: Iterable[str]) -> dict[str, BookRecord]:
        """`/api/books?jscmd=data`, `batch_size` bibkeys per call; keyed by ISBN-13."""
        wanted = valid_isbn13s(isbns)
        found: dict[str, BookRecord] = {}
        for start in range(0, len(wanted), self.batch_size):
            chunk = wanted[start : start + self.batch_size]
            params = {
                "bibkeys": ",".join(f"ISBN:{i}" for i in chunk),
                "format": "json",  # the default output is JavaScript, not JSON
                "jscmd": "data",
            }
            found.update(parse_data_response(await self._get("/api/books", params)))
        return found

    async def by_isbn(self, isbn: str) -> BookRecord:
        """Edition record merged with the data view, since neither alone has names and format."""
        record = await self.edition(isbn)
        isbn13 = record.isbn13 or isbn_lib.to_isbn13(isbn)
        data = (await self.books_batch([isbn13])).get(isbn13)
        if record.isbn13 is None:
            record = replace(record, isbn13=isbn13, isbn10=isbn_lib.to_isbn10(isbn13))
        return merge_edition(record, data)

    async def search(
        self, title: str, author: str | None = None, *, limit: int = 20
    ) -> list[BookRecord]:
        params: dict[str, Any] = {"title": title, "fields": SEARCH_FIELDS, "limit": limit}
        if author:
            params["author"] = author
        return parse_search_response(await self._get("/search.json", params))

    async def work(self, work_id: str) -> WorkRecord:
        key = olid(work_id)
        if key is None or not key.endswith("W"):
            raise ValueError(f"not an Open Library work id: {work_id!r}")
        return parse_work(
            _object(await self._get(f"/works/{key}.json", route="/works/{id}.json"), "a work")
        )

    async def author(self, author_id: str) -> AuthorRecord:
        key = olid(author_id)
        if key is None or not key.endswith("A"):
            raise ValueError(f"not an Open Library author id: {author_id!r}")
        return parse_author(
            _object(
                await self._get(f"/authors/{key}.json", route="/authors/{id}.json"), "an author"
            )
        )
