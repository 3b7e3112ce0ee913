"""What one event contributes to each row, as a row of the merge lattice (pure, plain dicts).

Values are cleaned on the way in (trimmed, NUL-free, within the columns' CHECKs): a value the
table would refuse is dropped here, so one bad field never fails a whole batch in PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.projector.merge import (
    EMPTY_AUTHOR,
    EMPTY_EDITION,
    EMPTY_WORK,
    TIER_EDITION,
    TIER_FACTS,
    TIER_LLM,
    Entry,
    Row,
    best_entry,
    derive_author,
    derive_edition,
    derive_work,
    join_author,
    join_edition,
    join_work,
    rank_authors,
)

INT4_MAX = 2**31 - 1
ISBN13 = re.compile(r"97[89][0-9]{10}")
PUBLICATION_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
LANGUAGE = re.compile(r"[a-z]{2}")
WIKIDATA_ID = re.compile(r"Q[0-9]+")
MIN_YEAR, MAX_YEAR = -3000, 2100
LLM_FALLBACK = "llm"

EDITION_TEXT_QUALITY = ("title", "subtitle", "publisher")
EDITION_TEXT_SOURCE = (
    "format",
    "binding",
    "cover_url_large",
    "cover_url_medium",
    "cover_url_small",
    "cover_url_original",
    "openlibrary_edition_id",
)
EDITION_ID_LISTS = (
    "amazon_asins",
    "google_books_volume_ids",
    "goodreads_edition_ids",
    "dewey_decimal",
    "alternate_isbns",
)
WORK_TEXT_QUALITY = ("title", "subtitle")
# Description has its own source order (rank_description) but the same entry shape.
WORK_TEXT_SOURCE = (
    "description",
    "cover_url_large",
    "cover_url_medium",
    "cover_url_small",
    "openlibrary_work_id",
)
WORK_ID_LISTS = ("goodreads_work_ids", "amazon_asins", "google_books_volume_ids")
AUTHOR_TEXT_SOURCE = ("gender", "nationality", "bio", "author_photo_url", "openlibrary_author_id")


# --- cleaning ----------------------------------------------------------------------------------


def clean_text(value: Any) -> str | None:
    """Trimmed text, NUL-free (PostgreSQL refuses NUL); None when blank or not text."""
    if value is None or value.__class__ is not str:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    value = value.strip()
    return value or None


def clean_ids(values: Any) -> list[str]:
    """Trimmed, non-blank, deduplicated, sorted."""
    if not values:
        return []
    out = {text for v in values if (text := clean_text(v)) is not None}
    return sorted(out)


def clean_tags(values: Any) -> list[str]:
    """Subjects and tags: lowercased too."""
    if not values:
        return []
    out = {text.lower() for v in values if (text := clean_text(v)) is not None}
    return sorted(out)


def clean_json(value: Any) -> Any:
    """A JSON-able copy without NUL characters (jsonb refuses \\u0000)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {str(clean_json(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").replace("\x00", "")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def int_in(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def clamp(value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        return low
    return low if value < low else high if value > high else value


def is_isbn13(value: Any) -> bool:
    """13 digits, 978/979 prefix and a correct check digit."""
    if value.__class__ is not str or len(value) != 13 or not ISBN13.fullmatch(value):
        return False
    total = sum(map(int, value[0:12:2])) + 3 * sum(map(int, value[1:12:2]))
    return (10 - total % 10) % 10 == int(value[12])


def _take_texts(
    row: Row, prov: dict[str, Any], facts: Mapping[str, Any], names: tuple[str, ...], entry: Entry
) -> None:
    """Copy the present text facts `names` into the row, each with its provenance entry."""
    get = facts.get
    for name in names:
        value = get(name)
        if value is not None and (text := clean_text(value)) is not None:
            row[name] = text
            prov[name] = entry


def _language(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    text = text.lower()
    return text if LANGUAGE.fullmatch(text) else None


def _related(value: Any, own_isbn: str) -> dict[str, str]:
    if not value:
        return {}
    out: dict[str, str] = {}
    for key, fmt in value.items():
        isbn = clean_text(key)
        if isbn is not None and isbn != own_isbn and is_isbn13(isbn):
            text = clean_text(fmt) or ""
            if text > out.get(isbn, ""):
                out[isbn] = text
            else:
                out.setdefault(isbn, text)
    return out


def provider_of(facts: Mapping[str, Any]) -> str:
    return clean_text(facts.get("provider")) or "unknown"


def quality_of(facts: Mapping[str, Any]) -> int:
    return clamp(facts.get("quality"), 0, 100)


# --- editions ----------------------------------------------------------------------------------


def edition_facts_row(isbn: str, facts: Mapping[str, Any], at: datetime) -> Row:
    """One provider's edition facts as an edition row (not derived yet)."""
    provider = provider_of(facts)
    quality = quality_of(facts)
    by_quality: Entry = [TIER_FACTS, quality, provider]
    by_source: Entry = [TIER_FACTS, provider]
    row = dict(EMPTY_EDITION)
    prov: dict[str, Any] = {"primary": by_quality}
    row["isbn"] = isbn
    _take_texts(row, prov, facts, EDITION_TEXT_QUALITY, by_quality)
    _take_texts(row, prov, facts, EDITION_TEXT_SOURCE, by_source)
    date = clean_text(facts.get("publication_date"))
    if date is not None and PUBLICATION_DATE.fullmatch(date):
        row["publication_date"] = date
        prov["publication_date"] = by_quality
    pages = int_in(facts.get("page_count"), 1, INT4_MAX)
    if pages is not None:
        row["page_count"] = pages
        prov["page_count"] = by_source
    language = _language(facts.get("language"))
    if language is not None:
        row["language"] = language
        prov["language"] = by_source
    for name in EDITION_ID_LISTS:
        values = facts.get(name)
        if values:
            row[name] = clean_ids(values)
    row["subjects"] = clean_tags(facts.get("subjects"))
    row["related_isbns"] = _related(facts.get("related_isbns"), isbn)
    row["contributors"] = [provider]
    row["isbndb_quality"] = quality
    row["created_at"] = row["updated_at"] = at
    row["last_isbndb_sync"] = at if provider == "isbndb" else None
    row["provenance"] = prov
    return row


def edition_row(
    isbn: str, editions: Iterable[Mapping[str, Any]], match: Entry, at: datetime
) -> Row:
    """The edition contribution of one MetadataFetched: its facts joined, plus the work match."""
    rows = [edition_facts_row(isbn, facts, at) for facts in editions]
    if not rows:
        row = dict(EMPTY_EDITION)
        row.update(isbn=isbn, created_at=at, updated_at=at, provenance={})
        rows = [row]
    rows[0]["provenance"]["work_match"] = match
    row = rows[0]
    for other in rows[1:]:
        row = join_edition(row, other)
    return derive_edition(row)


# --- works -------------------------------------------------------------------------------------


def _work_base(work_key: str, at: datetime) -> Row:
    row = dict(EMPTY_WORK)
    row.update(work_key=work_key, created_at=at, updated_at=at, provenance={})
    return row


def work_facts_row(work_key: str, facts: Mapping[str, Any], at: datetime) -> Row:
    provider = provider_of(facts)
    quality = quality_of(facts)
    by_quality: Entry = [TIER_FACTS, quality, provider]
    by_source: Entry = [TIER_FACTS, provider]
    row = _work_base(work_key, at)
    prov: dict[str, Any] = {"primary": by_quality}
    _take_texts(row, prov, facts, WORK_TEXT_QUALITY, by_quality)
    _take_texts(row, prov, facts, WORK_TEXT_SOURCE, by_source)
    language = _language(facts.get("original_language"))
    if language is not None:
        row["original_language"] = language
        prov["original_language"] = by_source
    year = int_in(facts.get("first_publication_year"), MIN_YEAR, MAX_YEAR)
    if year is not None:
        row["first_publication_year"] = year
        prov["first_publication_year"] = by_source
    row["subject_tags"] = clean_tags(facts.get("subject_tags"))
    for name in WORK_ID_LISTS:
        values = facts.get(name)
        if values:
            row[name] = clean_ids(values)
    row["contributors"] = [provider]
    row["isbndb_quality"] = quality
    row["provenance"] = prov
    return row


def _title_from_edition(work_key: str, facts: Mapping[str, Any], at: datetime) -> Row | None:
    """A work title borrowed from edition facts, ranked below any work facts' title."""
    title = clean_text(facts.get("title"))
    if title is None:
        return None
    provider = provider_of(facts)
    entry: Entry = [TIER_EDITION, quality_of(facts), provider]
    row = _work_base(work_key, at)
    row["title"] = title
    prov: dict[str, Any] = {"title": entry, "primary": entry}
    subtitle = clean_text(facts.get("subtitle"))
    if subtitle is not None:
        row["subtitle"] = subtitle
        prov["subtitle"] = entry
    row["contributors"] = [provider]
    row["provenance"] = prov
    return row


def author_list(authors: Iterable[Mapping[str, Any]]) -> Entry | None:
    """The best-ranked provider's author order in one event: [tier, provider, [[key, order]]]."""
    by_provider: dict[str, dict[str, int]] = {}
    for facts in authors:
        key = clean_text(facts.get("author_key"))
        if key is None:
            continue
        orders = by_provider.setdefault(provider_of(facts), {})
        order = clamp(facts.get("author_order"), 0, INT4_MAX)
        if order < orders.get(key, INT4_MAX + 1):
            orders[key] = order
    best: Entry | None = None
    for provider, orders in by_provider.items():
        ordering = sorted(([k, o] for k, o in orders.items()), key=lambda ko: (ko[1], ko[0]))
        best = best_entry(best, [TIER_FACTS, provider, ordering], rank_authors)
    return best


def work_row(
    work_key: str,
    works: list[Mapping[str, Any]],
    editions: list[Mapping[str, Any]],
    authors: list[Mapping[str, Any]],
    at: datetime,
) -> Row:
    """The work contribution of one MetadataFetched: never synthetic, since the ISBN resolved."""
    rows = [work_facts_row(work_key, facts, at) for facts in works]
    if not any("title" in r["provenance"] for r in rows):
        rows.extend(
            r for facts in editions if (r := _title_from_edition(work_key, facts, at)) is not None
        )
    if not rows:
        rows.append(_work_base(work_key, at))
    ordering = author_list(authors)
    if ordering is not None:
        rows[0]["provenance"]["authors"] = ordering
    row = rows[0]
    for other in rows[1:]:
        row = join_work(row, other)
    return derive_work(row)


def synthetic_work_row(work_key: str, book: Mapping[str, Any], at: datetime) -> Row:
    """An unresolved book's work: the LLM's data, ranked below every provider's facts."""
    providers = clean_ids(book.get("source_providers"))
    first = book.get("source_providers") or []
    llm = clean_text(first[0]) if first else None
    llm = llm or LLM_FALLBACK
    by_quality: Entry = [TIER_LLM, 0, llm]
    by_source: Entry = [TIER_LLM, llm]
    row = _work_base(work_key, at)
    prov: dict[str, Any] = {"primary": by_quality}
    for name in ("title", "subtitle"):
        text = clean_text(book.get(name))
        if text is not None:
            row[name] = text
            prov[name] = by_quality
    description = clean_text(book.get("description"))
    if description is not None:
        row["description"] = description
        prov["description"] = by_source
    year = int_in(book.get("publication_year"), MIN_YEAR, MAX_YEAR)
    if year is not None:
        row["first_publication_year"] = year
        prov["first_publication_year"] = by_source
    row["contributors"] = providers or [llm]
    row["synthetic"] = True
    row["metadata"] = clean_json(dict(book))
    row["provenance"] = prov
    return derive_work(row)


# --- authors -----------------------------------------------------------------------------------


def author_facts_row(facts: Mapping[str, Any], at: datetime) -> Row:
    provider = provider_of(facts)
    by_source: Entry = [TIER_FACTS, provider]
    key = clean_text(facts.get("author_key"))
    name = clean_text(facts.get("name"))
    if key is None or name is None:
        raise ValueError("author facts without author_key or name")
    row = dict(EMPTY_AUTHOR)
    prov: dict[str, Any] = {"name": by_source, "normalized_name": by_source}
    row["author_key"] = key
    row["name"] = name
    row["normalized_name"] = clean_text(facts.get("normalized_name")) or name.lower()
    _take_texts(row, prov, facts, AUTHOR_TEXT_SOURCE, by_source)
    wikidata = clean_text(facts.get("wikidata_id"))
    if wikidata is not None and WIKIDATA_ID.fullmatch(wikidata.upper()):
        row["wikidata_id"] = wikidata.upper()
        prov["wikidata_id"] = by_source
    for field in ("birth_year", "death_year"):
        year = int_in(facts.get(field), MIN_YEAR, MAX_YEAR)
        if year is not None:
            prov[field] = [TIER_FACTS, provider, year]
    row["goodreads_author_ids"] = clean_ids(facts.get("goodreads_author_ids"))
    row["contributors"] = [provider]
    row["created_at"] = row["updated_at"] = at
    row["provenance"] = prov
    return row


def author_rows(authors: Iterable[Mapping[str, Any]], at: datetime) -> dict[str, Row]:
    """Each author's contribution of one event, the facts of several providers joined."""
    out: dict[str, Row] = {}
    for facts in authors:
        row = author_facts_row(facts, at)
        key = row["author_key"]
        current = out.get(key)
        out[key] = row if current is None else join_author(current, row)
    return {key: derive_author(row) for key, row in out.items()}
