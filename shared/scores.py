"""Quality and completeness scores of editions and works: pure, shared by enricher and projector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Provider names as the clients spell them; the hyphenated spelling of the issue is accepted too.
PROVIDER_POINTS: Mapping[str, int] = {
    "isbndb": 40,
    "google_books": 30,
    "google-books": 30,
    "openlibrary": 20,
}
EDITION_FIELD_POINTS: Mapping[str, int] = {
    "title": 10,
    "cover_url_large": 10,
    "publisher": 5,
    "publication_date": 5,
    "page_count": 5,
    "language": 5,
    "format": 5,
    "cover_url_medium": 3,
    "cover_url_small": 2,
}
EDITION_ID_KINDS = (
    "openlibrary_edition_id",
    "amazon_asins",
    "google_books_volume_ids",
    "goodreads_edition_ids",
)
POINTS_PER_ID_KIND = 5
WORK_FIELD_POINTS: Mapping[str, int] = {
    "title": 10,
    "original_language": 5,
    "first_publication_year": 5,
    "subject_tags": 10,
    "cover_url_large": 10,
}
# A description earns 15 points past 50 characters and 15 more past 200.
DESCRIPTION_STEPS = ((50, 15), (200, 15))
MAX_QUALITY = 100

# The seed's completeness field lists; "covers" is filled by any cover URL.
EDITION_COMPLETENESS_FIELDS = (
    "title",
    "subtitle",
    "publisher",
    "publication_date",
    "page_count",
    "format",
    "language",
    "covers",
    "openlibrary_edition_id",
    "amazon_asins",
    "google_books_volume_ids",
    "goodreads_edition_ids",
)
WORK_COMPLETENESS_FIELDS = (
    "title",
    "subtitle",
    "description",
    "original_language",
    "first_publication_year",
    "subject_tags",
    "covers",
    "openlibrary_work_id",
    "goodreads_work_ids",
    "amazon_asins",
    "google_books_volume_ids",
)
EDITION_COVERS = ("cover_url_large", "cover_url_medium", "cover_url_small", "cover_url_original")
WORK_COVERS = ("cover_url_large", "cover_url_medium", "cover_url_small")


def present(value: Any) -> bool:
    """A fact is present unless it is missing, blank or an empty collection."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict | set | frozenset):
        return bool(value)
    return True


def _getter(facts: Mapping[str, Any] | object) -> Any:
    if isinstance(facts, Mapping):
        return facts.get
    return lambda name: getattr(facts, name, None)


def edition_quality(facts: Mapping[str, Any] | object) -> int:
    """Quality (0..100) of one provider's edition facts: a dict or an EditionFacts-like object."""
    get = _getter(facts)
    score = PROVIDER_POINTS.get(get("provider") or "", 0)
    score += sum(points for name, points in EDITION_FIELD_POINTS.items() if present(get(name)))
    score += POINTS_PER_ID_KIND * sum(1 for name in EDITION_ID_KINDS if present(get(name)))
    return min(score, MAX_QUALITY)


def work_quality(facts: Mapping[str, Any] | object) -> int:
    """Quality (0..100) of one provider's work facts: a dict or a WorkFacts-like object."""
    get = _getter(facts)
    score = PROVIDER_POINTS.get(get("provider") or "", 0)
    score += sum(points for name, points in WORK_FIELD_POINTS.items() if present(get(name)))
    description = get("description")
    length = len(description.strip()) if isinstance(description, str) else 0
    score += sum(points for threshold, points in DESCRIPTION_STEPS if length > threshold)
    return min(score, MAX_QUALITY)


def _filled(row: Mapping[str, Any], names: tuple[str, ...]) -> int:
    """How many of `names` are present (inlined `present`: this runs for every merged row)."""
    count = 0
    for name in names:
        value = row.get(name)
        if value is None or value == [] or value == () or value == {}:
            continue
        if isinstance(value, str) and not value.strip():
            continue
        count += 1
    return count


def _completeness(row: Mapping[str, Any], fields: tuple[str, ...], covers: tuple[str, ...]) -> int:
    filled = _filled(row, fields)
    if "covers" in fields and _filled(row, covers):
        filled += 1
    # Integer round-half-up: the same on every platform, never banker's rounding.
    return (200 * filled + len(fields)) // (2 * len(fields))


def edition_completeness(row: Mapping[str, Any]) -> int:
    """Share (0..100) of the edition completeness fields the merged row has filled."""
    return _completeness(row, EDITION_COMPLETENESS_FIELDS, EDITION_COVERS)


def work_completeness(row: Mapping[str, Any]) -> int:
    """Share (0..100) of the work completeness fields the merged row has filled."""
    return _completeness(row, WORK_COMPLETENESS_FIELDS, WORK_COVERS)
