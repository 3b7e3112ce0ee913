"""Value cleaning: facts as providers send them, made into values the columns accept (pure).

Values are cleaned on the way in (trimmed, NUL-free, within the columns' CHECKs): a value the
table would refuse is dropped here, so one bad field never fails a whole batch in PostgreSQL.
Every cleaner returns None (or an empty list) for a value it drops.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.projector.logic.merging import Entry, Row

INT4_MAX = 2**31 - 1
ISBN13 = re.compile(r"97[89][0-9]{10}")
PUBLICATION_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
LANGUAGE = re.compile(r"[a-z]{2}")
WIKIDATA_ID = re.compile(r"Q[0-9]+")
MIN_YEAR, MAX_YEAR = -3000, 2100  # of a work's first publication, an author's birth or death

Clean = Callable[[Any], Any]


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


def positive_int(value: Any) -> int | None:
    """A count such as a page count: 1 up to the int4 maximum."""
    return int_in(value, 1, INT4_MAX)


def year(value: Any) -> int | None:
    return int_in(value, MIN_YEAR, MAX_YEAR)


def is_isbn13(value: Any) -> bool:
    """13 digits, 978/979 prefix and a correct check digit."""
    if value.__class__ is not str or len(value) != 13 or not ISBN13.fullmatch(value):
        return False
    total = sum(map(int, value[0:12:2])) + 3 * sum(map(int, value[1:12:2]))
    return (10 - total % 10) % 10 == int(value[12])


def language(value: Any) -> str | None:
    """A two-letter language code, lowercased."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.lower()
    return text if LANGUAGE.fullmatch(text) else None


def publication_date(value: Any) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD."""
    date = clean_text(value)
    return date if date is not None and PUBLICATION_DATE.fullmatch(date) else None


def wikidata_id(value: Any) -> str | None:
    """Q and digits, uppercased."""
    text = clean_text(value)
    if text is not None and WIKIDATA_ID.fullmatch(text.upper()):
        return text.upper()
    return None


def related_isbns(value: Any, own_isbn: str) -> dict[str, str]:
    """{isbn13: format} of other valid ISBN-13s; of two formats for one ISBN the greater."""
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


# --- cleaned facts into a row ------------------------------------------------------------------


def take_facts(
    row: Row,
    prov: dict[str, Any],
    facts: Mapping[str, Any],
    cleaners: Mapping[str, Clean],
    entry: Entry,
) -> None:
    """Copy each fact named in `cleaners` that cleans to a value into the row, with `entry` as
    its provenance."""
    get = facts.get
    for name, clean in cleaners.items():
        value = get(name)
        if value is not None and (value := clean(value)) is not None:
            row[name] = value
            prov[name] = entry


def take_lists(row: Row, facts: Mapping[str, Any], cleaners: Mapping[str, Clean]) -> None:
    """Copy each non-empty list fact named in `cleaners` into the row, cleaned."""
    get = facts.get
    for name, clean in cleaners.items():
        values = get(name)
        if values:
            row[name] = clean(values)
