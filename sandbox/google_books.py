"""Google Books API v1 (www.googleapis.com/books/v1): /volumes?q=... and /volumes/{volumeId}."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox import ids, variants
from sandbox.catalogue_index import CatalogueIndex, EditionView, knows, parse_date
from sandbox.errors import google_error, json_response
from sandbox.faults import fault_middleware
from sandbox.hashing import chance, pick, stable_int
from sandbox.isbns import compact, make_isbn13, to_isbn10, to_isbn13
from sandbox.matching import content_words, score, words
from sandbox.state import SandboxState, state_of

PROVIDER = "google_books"
API_ROOT = "https://www.googleapis.com/books/v1"
DECOY_RATE = 0.3  # share of books that also have a "Summary of ..." knock-off volume
_DECOY_PUBLISHERS = ("Readtrepreneur Publishing", "Book Summary Press", "Quick Reads Publishing")


@dataclass(frozen=True)
class Volume:
    """A Google volume: a catalogue edition, or a study-guide decoy of one (is_decoy)."""

    id: str
    edition: EditionView
    is_decoy: bool = False

    @property
    def isbn13(self) -> str:
        if not self.is_decoy:
            return self.edition.isbn13
        return make_isbn13(f"9798{stable_int('decoy-isbn', self.edition.book.id) % 10**8:08d}")


def _decoy(edition: EditionView) -> Volume:
    return Volume(ids.google_volume_id(edition.book, "decoy"), edition, True)


def build_volumes(index: CatalogueIndex) -> dict[str, Volume]:
    volumes = {vid: Volume(vid, edition) for vid, edition in index.google_volumes.items()}
    for book in index.catalogue.books:
        if chance(DECOY_RATE, "decoy", book.id):
            decoy = _decoy(index.editions[book.isbn13])
            volumes[decoy.id] = decoy
    return volumes


def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
    """`key=` is optional for public data; a key that does not match the knob is refused."""
    expected = state.knobs.for_provider(PROVIDER).api_key
    key = request.query.get("key")
    if expected is not None and key is not None and key != expected:
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            reason="badRequest",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "books.googleapis.com"},
                }
            ],
        )
    return None


def _identifiers(volume: Volume) -> list[dict[str, str]]:
    isbn13 = volume.isbn13
    isbn10 = to_isbn10(isbn13)
    style = pick(("both", "both", "both", "both10", "13", "10", "other"), PROVIDER, "ids", isbn13)
    if style == "other":
        number = stable_int("uom", isbn13) % 10**14
        return [{"type": "OTHER", "identifier": f"UOM:{number:014d}"}]
    if style == "10" and isbn10:
        return [{"type": "ISBN_10", "identifier": isbn10}]
    if style == "13" or isbn10 is None:
        return [{"type": "ISBN_13", "identifier": isbn13}]
    pair = [{"type": "ISBN_13", "identifier": isbn13}, {"type": "ISBN_10", "identifier": isbn10}]
    return pair[::-1] if style == "both10" else pair


def findable_by_isbn(edition: EditionView) -> bool:
    """Whether an isbn: search can find this edition (volumes with only OTHER ids cannot)."""
    volume = Volume(ids.google_volume_id(edition.book, edition.isbn13), edition)
    return any(ident["type"] != "OTHER" for ident in _identifiers(volume))


def _published(edition: EditionView, key: str) -> str:
    date = parse_date(edition.publication_date)
    style = pick(("full", "full", "month", "year"), PROVIDER, "date", key)
    if style == "year":
        return str(date.year)
    if style == "month" and date.month is not None:
        return f"{date.year:04d}-{date.month:02d}"
    return variants.iso_date(date)


def _categories(volume: Volume, full: bool) -> list[str]:
    book = volume.edition.book
    if volume.is_decoy:
        return ["Study Aids"]
    genre = (book.genres or book.subjects or ("Fiction",))[0]
    top = "Fiction" if "fiction" in genre.lower() or "novel" in genre.lower() else genre.title()
    # Full records carry BISAC paths; search results only their first level.
    return [f"{top} / {genre.title()}" if full and top != genre.title() else top]


def _image_links(vid: str, full: bool) -> dict[str, str]:
    base = f"http://books.google.com/books/content?id={vid}&printsec=frontcover&img=1"
    links = {
        "smallThumbnail": f"{base}&zoom=5&edge=curl&source=gbs_api",
        "thumbnail": f"{base}&zoom=1&edge=curl&source=gbs_api",
    }
    if full:
        for name, zoom in (("small", 2), ("medium", 3), ("large", 4), ("extraLarge", 6)):
            links[name] = f"{base}&zoom={zoom}&edge=curl&source=gbs_api"
    return links


def volume_json(volume: Volume, full: bool) -> dict[str, Any]:
    """A volume resource; search results (full=False) carry Google's reduced record."""
    edition = volume.edition
    book = edition.book
    vid = volume.id
    info: dict[str, Any] = {}
    pages: int | None
    if volume.is_decoy:
        author = pick(_DECOY_PUBLISHERS, "decoy-publisher", book.id)
        info["title"] = f"Summary of {book.title}"
        info["subtitle"] = f"by {book.authors[0] if book.authors else 'Anonymous'}"
        info["authors"] = [author]
        info["publisher"] = author
        info["publishedDate"] = str(parse_date(edition.publication_date).year)
        description = f"This is a summary of {book.title}. It is not the original book."
        pages = 40 + stable_int("decoy-pages", book.id) % 40
    else:
        if book.subtitle and chance(0.2, PROVIDER, "title", vid):
            info["title"] = variants.full_title(book.title, book.subtitle)
        else:
            info["title"] = book.title
            if book.subtitle:
                info["subtitle"] = book.subtitle
        squash = chance(0.3, PROVIDER, "authors", vid)
        info["authors"] = [variants.squash_initials(a) if squash else a for a in book.authors]
        info["publisher"] = edition.publisher
        info["publishedDate"] = _published(edition, vid)
        description = book.description
        pages = book.pages
    if full or not chance(0.3, PROVIDER, "nodesc", vid):
        info["description"] = description
    info["industryIdentifiers"] = _identifiers(volume)
    info["readingModes"] = {"text": False, "image": False}
    if pages is not None:
        # Search results sometimes disagree with the full record on the page count.
        info["pageCount"] = pages if full else pages + stable_int(PROVIDER, "pc", vid) % 3
        if full:
            info["printedPageCount"] = pages + 8
            info["dimensions"] = {"height": "24.00 cm", "width": "16.20 cm", "thickness": "2.80 cm"}
    info["printType"] = "BOOK"
    info["categories"] = _categories(volume, full)
    if chance(0.4, PROVIDER, "rating", vid):
        info["averageRating"] = pick((3.5, 4, 4.5), PROVIDER, "avg", vid)
        info["ratingsCount"] = 1 + stable_int(PROVIDER, "rc", vid) % 300
    info["maturityRating"] = "NOT_MATURE"
    info["allowAnonLogging"] = False
    info["contentVersion"] = "preview-1.0.0"
    info["imageLinks"] = _image_links(vid, full)
    info["language"] = book.language
    info["previewLink"] = f"http://books.google.com/books?id={vid}&dq=isbn&hl=&cd=1&source=gbs_api"
    info["infoLink"] = f"http://books.google.com/books?id={vid}&dq=isbn&hl=&source=gbs_api"
    info["canonicalVolumeLink"] = f"https://books.google.com/books/about/?id={vid}"
    item: dict[str, Any] = {
        "kind": "books#volume",
        "id": vid,
        "etag": f"{stable_int('etag', vid) % 16**11:011x}",
        "selfLink": f"{API_ROOT}/volumes/{vid}",
        "volumeInfo": info,
        "saleInfo": {"country": "US", "saleability": "NOT_FOR_SALE", "isEbook": False},
        "accessInfo": {
            "country": "US",
            "viewability": "NO_PAGES",
            "embeddable": False,
            "publicDomain": False,
            "textToSpeechPermission": "ALLOWED",
            "epub": {"isAvailable": False},
            "pdf": {"isAvailable": False},
            "accessViewStatus": "NONE",
            "quoteSharingAllowed": False,
        },
    }
    if not full:
        item["searchInfo"] = {"textSnippet": variants.sentences(description, 1)}
    return item


_TERM = re.compile(r'(\w+):\s*("[^"]*"|[^\s"]+)|("[^"]*")|([^\s"]+)')
_KEYWORDS = {"intitle", "inauthor", "inpublisher", "subject", "isbn", "lccn", "oclc"}


def parse_q(q: str) -> tuple[dict[str, list[str]], list[str]]:
    """Split q into keyword terms and free words; '+' joins terms like a space does."""
    fields: dict[str, list[str]] = {}
    free: list[str] = []
    for match in _TERM.finditer(q.replace("+", " ")):
        keyword, value, quoted, word = match.groups()
        if keyword and keyword.lower() in _KEYWORDS:
            fields.setdefault(keyword.lower(), []).append(value.strip('"'))
        elif keyword:
            free.append(f"{keyword} {value.strip(chr(34))}")
        else:
            free.append((quoted or word).strip('"'))
    return fields, free


def _matches(volume: Volume, fields: dict[str, list[str]], free: list[str]) -> int:
    """0 when the volume fails a term; else how well it matched (higher is better)."""
    book = volume.edition.book
    if volume.is_decoy:
        title = f"Summary of {book.title} by {book.authors[0] if book.authors else ''}"
        authors = pick(_DECOY_PUBLISHERS, "decoy-publisher", book.id)
        publisher = authors
    else:
        title = variants.full_title(book.title, book.subtitle)
        authors = " ".join(book.authors)
        publisher = volume.edition.publisher
    total = 1
    for value in fields.get("isbn", []):
        isbn13 = to_isbn13(compact(value))
        identifiers = {ident["identifier"] for ident in _identifiers(volume)}
        if isbn13 is None or not ({isbn13, to_isbn10(isbn13)} & identifiers):
            return 0
        total += 10
    for key, haystack in (("intitle", title), ("inauthor", authors), ("inpublisher", publisher)):
        for value in fields.get(key, []):
            if not words(value):
                continue  # punctuation such as "&" is not searched for
            hits = score(content_words(value), haystack, match_all=True)
            if not hits:
                return 0
            total += hits
    for value in fields.get("subject", []):
        if not score(words(value), " ".join((*book.genres, *book.subjects)), True):
            return 0
    if fields.get("lccn") or fields.get("oclc"):
        return 0  # the catalogue carries neither
    for value in free:
        if not words(value):
            continue
        hits = score(content_words(value), f"{title} {authors} {publisher}", match_all=True)
        if not hits:
            return 0
        total += hits
    return total


def _bad_request(message: str, reason: str) -> web.Response:
    return google_error(400, "INVALID_ARGUMENT", message, reason=reason)


def create_app(index: CatalogueIndex) -> web.Application:
    volumes = build_volumes(index)
    # isbn: searches look volumes up by any ISBN they show instead of scanning them all.
    by_isbn: dict[str, list[Volume]] = {}
    for candidate in volumes.values():
        for ident in _identifiers(candidate):
            if ident["type"] in {"ISBN_10", "ISBN_13"}:
                isbn13 = to_isbn13(ident["identifier"])
                if isbn13 is not None:
                    by_isbn.setdefault(isbn13, []).append(candidate)

    def known(state: SandboxState, volume: Volume) -> bool:
        # A decoy exists wherever Google knows the book it summarises.
        return knows(PROVIDER, volume.edition, state.coverage(PROVIDER))

    async def search(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        q = request.query.get("q", "").strip()
        if not q:
            return _bad_request("Missing query.", "queryRequired")
        try:
            start = int(request.query.get("startIndex", "0"))
            size = int(request.query.get("maxResults", "10"))
        except ValueError:
            return _bad_request("Invalid value for startIndex or maxResults.", "invalid")
        if not 0 <= size <= 40:
            return _bad_request(
                f"Invalid value '{size}'. Values must be within the range: [0, 40]", "invalid"
            )
        fields, free = parse_q(q)
        language = request.query.get("langRestrict")
        hits: list[tuple[int, int, str, Volume]] = []
        candidates: list[Volume] = list(volumes.values())
        for value in fields.get("isbn", [])[:1]:
            isbn13 = to_isbn13(compact(value))
            candidates = by_isbn.get(isbn13, []) if isbn13 else []
        for volume in candidates:
            if language and volume.edition.book.language != language:
                continue
            matched = _matches(volume, fields, free)
            if matched and known(state, volume):
                # Google often ranks a knock-off study guide above the book itself.
                rank = 1 if volume.is_decoy else 0 if volume.edition.primary else 2
                hits.append((-matched, rank, volume.id, volume))
        hits.sort(key=lambda hit: hit[:3])
        body: dict[str, Any] = {"kind": "books#volumes", "totalItems": len(hits)}
        page = [volume_json(hit[3], full=False) for hit in hits[max(start, 0) : start + size]]
        if page:
            body["items"] = page  # absent, not empty, when nothing matches
        return json_response(body, content_type="application/json; charset=UTF-8")

    async def volume(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        found = volumes.get(request.match_info["volume_id"])
        if found is None or not known(state, found):
            return google_error(404, "NOT_FOUND", "The volume ID could not be found.", "notFound")
        full = request.query.get("projection", "full") != "lite"
        return json_response(
            volume_json(found, full), content_type="application/json; charset=UTF-8"
        )

    app = web.Application(middlewares=[fault_middleware(PROVIDER, authorize)])
    app.router.add_get("/volumes", search)
    app.router.add_get("/volumes/{volume_id}", volume)
    return app
