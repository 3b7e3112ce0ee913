"""Provider identifiers (Google volume ids, Open Library OLIDs, archive.org ids, QIDs), synthesised
stably from the book id whenever the catalogue has none."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata

from sandbox.catalogue import AuthorDetail, CatalogueBook
from sandbox.hashing import stable_int

# Synthetic numbers sit above the ranges the real services have handed out so far, so a synthetic
# id never collides with a real id that the catalogue carries for another book.
_OL_BASE = 70_000_000
_QID_BASE = 200_000_000


def google_volume_id(book: CatalogueBook, isbn13: str) -> str:
    """Google keeps one volume per edition; the catalogue's id is the primary edition's."""
    if isbn13 == book.isbn13 and book.google_books_id:
        return book.google_books_id
    digest = hashlib.sha256(f"google:{book.id}:{isbn13}".encode()).digest()[:9]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def ol_work_id(book: CatalogueBook) -> str:
    return book.openlibrary_work_id or f"OL{_OL_BASE + stable_int('olw', book.id) % 20_000_000}W"


def ol_edition_id(book: CatalogueBook, isbn13: str) -> str:
    if isbn13 == book.isbn13 and book.openlibrary_edition_id:
        return book.openlibrary_edition_id
    return f"OL{_OL_BASE + stable_int('olm', book.id, isbn13) % 20_000_000}M"


def ol_author_id(name: str, detail: AuthorDetail | None) -> str:
    if detail is not None and detail.openlibrary_author_id:
        return detail.openlibrary_author_id
    return f"OL{_OL_BASE + stable_int('ola', name.casefold()) % 20_000_000}A"


def slug(text: str) -> str:
    """Lowercase ASCII letters and digits only, the way archive.org identifiers are spelt."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def archive_id(book: CatalogueBook) -> str:
    """archive.org book scans are named like 'greatgatsby0000fitz': title, 0000, author stem."""
    if book.archive_id:
        return book.archive_id
    surname = book.authors[0].split()[-1] if book.authors else "anon"
    return f"{slug(book.title)[:16]}0000{slug(surname)[:4]}"


def qid(kind: str, key: str) -> str:
    return f"Q{_QID_BASE + stable_int('qid', kind, key.casefold()) % 100_000_000}"


def work_qid(book: CatalogueBook) -> str:
    return book.wikidata_id or qid("work", book.id)


def edition_qid(book: CatalogueBook, isbn13: str) -> str:
    return qid("edition", f"{book.id}:{isbn13}")


def author_qid(name: str, detail: AuthorDetail | None) -> str:
    if detail is not None and detail.wikidata_id:
        return detail.wikidata_id
    return qid("author", name)
