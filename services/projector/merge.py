"""The merge of projected rows: a join-semilattice, so arrival order and duplicates never matter.

Every scalar field keeps its winning value and, in the row's `provenance`, the rank it won with:
a field is present exactly when it has a provenance entry. Merging two rows picks, per field, the
value of higher rank (ranks are total orders that end with the value itself), unions the arrays,
and takes min/max of the timestamps; derived columns are then recomputed from the result. So
merge is commutative, associative and idempotent, and merging an event into a stored row needs
only that row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.scores import EDITION_COVERS, WORK_COVERS, edition_completeness, work_completeness

Row = dict[str, Any]
Entry = list[Any]
Rank = tuple[Any, ...]

# Where a fact comes from ranks it below any fact of a better tier, whatever its quality.
TIER_LEGACY = -1  # a row written before provenance existed
TIER_LLM = 0  # a synthetic work's LLM data
TIER_EDITION = 1  # a work title borrowed from the edition facts
TIER_FACTS = 2  # a provider's own facts

# Fixed total orders of sources, best first; unknown sources rank below, then by name.
SOURCE_ORDER = ("isbndb", "google_books", "google-books", "openlibrary", "archive", "wikidata")
DESCRIPTION_ORDER = ("archive", "isbndb", "google_books", "google-books", "openlibrary")
MATCH_SOURCE_ORDER = ("isbn", "title_author", "new")
SYNTHETIC_COMPLETENESS = 30


def _points(order: tuple[str, ...]) -> dict[str, int]:
    return {name: len(order) - i for i, name in enumerate(order)}


SOURCE_RANK = _points(SOURCE_ORDER)
DESCRIPTION_RANK = _points(DESCRIPTION_ORDER)
MATCH_SOURCE_RANK = _points(MATCH_SOURCE_ORDER)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    """Microseconds since the epoch: exact in JSON, unlike a float or an ISO string."""
    return (at - EPOCH) // _MICRO


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# --- ranks: every entry element takes part, so equal ranks mean equal entries and values ------


def rank_quality(entry: Entry, value: Any) -> Rank:
    """[tier, quality, provider]: quality first, then the source order."""
    return (entry[0], entry[1], SOURCE_RANK.get(entry[2], 0), entry[2], value)


def rank_source(entry: Entry, value: Any) -> Rank:
    """[tier, provider]: the source order."""
    return (entry[0], SOURCE_RANK.get(entry[1], 0), entry[1], value)


def rank_description(entry: Entry, value: Any) -> Rank:
    """[tier, provider]: Internet Archive > ISBNdb > Google Books > Open Library > others."""
    return (entry[0], DESCRIPTION_RANK.get(entry[1], 0), entry[1], value)


def rank_kept_value(entry: Entry, _value: Any) -> Rank:
    """[tier, provider, value]: for fields whose column may show less than the fact."""
    return (entry[0], SOURCE_RANK.get(entry[1], 0), entry[1], entry[2])


def rank_primary(entry: Entry) -> Rank:
    """[tier, quality, provider] of the best facts merged."""
    return (entry[0], entry[1], SOURCE_RANK.get(entry[2], 0), entry[2])


def rank_match(entry: Entry) -> Rank:
    """[confidence, source, work_key, at_us]; of equal matches the earliest is kept."""
    return (entry[0], MATCH_SOURCE_RANK.get(entry[1], 0), entry[1], entry[2], -entry[3])


def rank_authors(entry: Entry) -> Rank:
    """[tier, provider, [[author_key, order], ...]]: one provider's author list of a work."""
    return (entry[0], SOURCE_RANK.get(entry[1], 0), entry[1], entry[2])


RankFn = Callable[[Entry, Any], Rank]

EDITION_QUALITY_FIELDS = ("title", "subtitle", "publisher", "publication_date")
EDITION_SOURCE_FIELDS = (
    "page_count",
    "format",
    "binding",
    "language",
    "cover_url_large",
    "cover_url_medium",
    "cover_url_small",
    "cover_url_original",
    "openlibrary_edition_id",
)
EDITION_SET_FIELDS = (
    "alternate_isbns",
    "amazon_asins",
    "google_books_volume_ids",
    "goodreads_edition_ids",
    "subjects",
    "dewey_decimal",
    "contributors",
)
WORK_QUALITY_FIELDS = ("title", "subtitle")
WORK_DESCRIPTION_FIELDS = ("description",)
WORK_SOURCE_FIELDS = (
    "original_language",
    "first_publication_year",
    "cover_url_large",
    "cover_url_medium",
    "cover_url_small",
    "openlibrary_work_id",
)
WORK_SET_FIELDS = (
    "subject_tags",
    "goodreads_work_ids",
    "amazon_asins",
    "google_books_volume_ids",
    "contributors",
)
AUTHOR_SOURCE_FIELDS = (
    "name",
    "normalized_name",
    "gender",
    "nationality",
    "bio",
    "author_photo_url",
    "openlibrary_author_id",
    "wikidata_id",
)
AUTHOR_KEPT_FIELDS = ("birth_year", "death_year")
AUTHOR_SET_FIELDS = ("goodreads_author_ids", "contributors")

EDITION_RANKED: tuple[tuple[tuple[str, ...], RankFn], ...] = (
    (EDITION_QUALITY_FIELDS, rank_quality),
    (EDITION_SOURCE_FIELDS, rank_source),
)
WORK_RANKED: tuple[tuple[tuple[str, ...], RankFn], ...] = (
    (WORK_QUALITY_FIELDS, rank_quality),
    (WORK_DESCRIPTION_FIELDS, rank_description),
    (WORK_SOURCE_FIELDS, rank_source),
)
AUTHOR_RANKED: tuple[tuple[tuple[str, ...], RankFn], ...] = (
    (AUTHOR_SOURCE_FIELDS, rank_source),
    (AUTHOR_KEPT_FIELDS, rank_kept_value),
)

# --- empty rows: the bottom of each lattice ---------------------------------------------------

EMPTY_EDITION: Row = {
    "isbn": None,
    "alternate_isbns": [],
    "work_key": None,
    "title": None,
    "subtitle": None,
    "publisher": None,
    "publication_date": None,
    "page_count": None,
    "format": None,
    "binding": None,
    "language": None,
    "cover_url_large": None,
    "cover_url_medium": None,
    "cover_url_small": None,
    "cover_url_original": None,
    "cover_source": None,
    "openlibrary_edition_id": None,
    "amazon_asins": [],
    "google_books_volume_ids": [],
    "goodreads_edition_ids": [],
    "subjects": [],
    "dewey_decimal": [],
    "related_isbns": {},
    "primary_provider": None,
    "contributors": [],
    "isbndb_quality": 0,
    "completeness_score": 0,
    "work_match_confidence": None,
    "work_match_source": None,
    "work_match_at": None,
    "metadata": {},
    "created_at": None,
    "updated_at": None,
    "last_isbndb_sync": None,
    "provenance": {},
}
EMPTY_WORK: Row = {
    "work_key": None,
    "title": "",
    "subtitle": None,
    "description": None,
    "original_language": None,
    "first_publication_year": None,
    "subject_tags": [],
    "cover_url_large": None,
    "cover_url_medium": None,
    "cover_url_small": None,
    "cover_source": None,
    "openlibrary_work_id": None,
    "goodreads_work_ids": [],
    "amazon_asins": [],
    "google_books_volume_ids": [],
    "primary_provider": None,
    "contributors": [],
    "isbndb_quality": 0,
    "completeness_score": 0,
    "synthetic": False,
    "metadata": {},
    "created_at": None,
    "updated_at": None,
    "provenance": {},
}
EMPTY_AUTHOR: Row = {
    "author_key": None,
    "name": "",
    "normalized_name": "",
    "gender": None,
    "nationality": None,
    "birth_year": None,
    "death_year": None,
    "bio": None,
    "bio_source": None,
    "author_photo_url": None,
    "openlibrary_author_id": None,
    "goodreads_author_ids": [],
    "wikidata_id": None,
    "primary_provider": None,
    "contributors": [],
    "created_at": None,
    "updated_at": None,
    "provenance": {},
}
EMPTY_MONTH_BOOK: Row = {
    "year": None,
    "month": None,
    "book_id": None,
    "outcome": None,
    "isbn13": None,
    "work_key": None,
    "isbndb_calls": 0,
    "resolved_at": None,
    "resolved_event_id": None,
    "enriched_at": None,
    "enriched_event_id": None,
}
MONTH_BOOK_RESOLUTION = (
    "outcome",
    "isbn13",
    "work_key",
    "isbndb_calls",
    "resolved_at",
    "resolved_event_id",
)

# --- lattice helpers ---------------------------------------------------------------------------


def union(x: list[Any], y: list[Any]) -> list[Any]:
    """Union of two sorted, duplicate-free lists."""
    if not y or x == y:
        return x
    if not x:
        return y
    return sorted(set(x).union(y))


def merge_map(x: dict[str, str], y: dict[str, str]) -> dict[str, str]:
    """Union of maps; on a conflict the greater value wins (any fixed choice would do)."""
    if not y or x == y:
        return x
    if not x:
        return y
    out = dict(x)
    for key, value in y.items():
        current = out.get(key)
        if current is None or value > current:
            out[key] = value
    return out


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def merge_metadata(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
    """An empty object is the bottom; of two objects the canonically greater one is kept."""
    if not y or x == y:
        return x
    if not x:
        return y
    return max(x, y, key=canonical_json)


def min_opt(x: Any, y: Any) -> Any:
    if x is None:
        return y
    if y is None:
        return x
    return x if x <= y else y


def max_opt(x: Any, y: Any) -> Any:
    if x is None:
        return y
    if y is None:
        return x
    return x if x >= y else y


def best_entry(x: Entry | None, y: Entry | None, rank: Callable[[Entry], Rank]) -> Entry | None:
    if y is None:
        return x
    if x is None:
        return y
    return y if rank(y) > rank(x) else x


def _merge_ranked(
    out: Row,
    prov: dict[str, Any],
    b: Row,
    pa: Mapping[str, Any],
    pb: Mapping[str, Any],
    groups: tuple[tuple[tuple[str, ...], RankFn], ...],
) -> None:
    a = out
    for fields, rank in groups:
        for name in fields:
            eb = pb.get(name)
            if eb is None:
                continue
            ea = pa.get(name)
            if ea is None or rank(eb, b[name]) > rank(ea, a[name]):
                out[name] = b[name]
                prov[name] = eb


def _merge_common(
    a: Row, b: Row, groups: tuple[tuple[tuple[str, ...], RankFn], ...], sets: tuple[str, ...]
) -> Row:
    out = dict(a)
    pa: dict[str, Any] = a["provenance"]
    pb: dict[str, Any] = b["provenance"]
    prov = dict(pa)
    _merge_ranked(out, prov, b, pa, pb, groups)
    for name in sets:
        out[name] = union(a[name], b[name])
    out["created_at"] = min_opt(a["created_at"], b["created_at"])
    out["updated_at"] = max_opt(a["updated_at"], b["updated_at"])
    out["provenance"] = prov
    return out


# --- per table ---------------------------------------------------------------------------------


def join_edition(a: Row, b: Row) -> Row:
    """Join of two edition rows (same isbn), derived columns not yet recomputed."""
    if a is b:
        return a
    out = _merge_common(a, b, EDITION_RANKED, EDITION_SET_FIELDS)
    pa, pb, prov = a["provenance"], b["provenance"], out["provenance"]
    for name, rank in (("primary", rank_primary), ("work_match", rank_match)):
        entry = best_entry(pa.get(name), pb.get(name), rank)
        if entry is not None:
            prov[name] = entry
    out["related_isbns"] = merge_map(a["related_isbns"], b["related_isbns"])
    out["isbndb_quality"] = max(a["isbndb_quality"], b["isbndb_quality"])
    out["last_isbndb_sync"] = max_opt(a["last_isbndb_sync"], b["last_isbndb_sync"])
    out["metadata"] = merge_metadata(a["metadata"], b["metadata"])
    return out


def join_work(a: Row, b: Row) -> Row:
    """Join of two work rows (same work_key); synthetic only while every side is synthetic."""
    if a is b:
        return a
    out = _merge_common(a, b, WORK_RANKED, WORK_SET_FIELDS)
    pa, pb, prov = a["provenance"], b["provenance"], out["provenance"]
    for name, rank in (("primary", rank_primary), ("authors", rank_authors)):
        entry = best_entry(pa.get(name), pb.get(name), rank)
        if entry is not None:
            prov[name] = entry
    out["isbndb_quality"] = max(a["isbndb_quality"], b["isbndb_quality"])
    out["synthetic"] = a["synthetic"] and b["synthetic"]
    out["metadata"] = merge_metadata(a["metadata"], b["metadata"])
    return out


def join_author(a: Row, b: Row) -> Row:
    """Join of two author rows (same author_key)."""
    if a is b:
        return a
    return _merge_common(a, b, AUTHOR_RANKED, AUTHOR_SET_FIELDS)


def merge_edition(a: Row, b: Row) -> Row:
    """The merged edition row, derived columns included."""
    return a if a is b else derive_edition(join_edition(a, b))


def merge_work(a: Row, b: Row) -> Row:
    """The merged work row, derived columns included."""
    return a if a is b else derive_work(join_work(a, b))


def merge_author(a: Row, b: Row) -> Row:
    """The merged author row, derived columns included."""
    return a if a is b else derive_author(join_author(a, b))


def _resolution_rank(row: Row) -> Rank:
    """Time, event id, then the content itself, so the order is total."""
    return (
        row["resolved_at"],
        row["resolved_event_id"],
        row["outcome"],
        row["isbn13"] or "",
        row["work_key"] or "",
        row["isbndb_calls"],
    )


def merge_month_book(a: Row, b: Row) -> Row:
    """The latest resolution (by time, then event id) and the earliest enrichment are kept."""
    out = dict(a)
    if b["resolved_at"] is not None and (
        a["resolved_at"] is None or _resolution_rank(b) > _resolution_rank(a)
    ):
        for name in MONTH_BOOK_RESOLUTION:
            out[name] = b[name]
    if b["enriched_at"] is not None and (
        a["enriched_at"] is None
        or (b["enriched_at"], b["enriched_event_id"]) < (a["enriched_at"], a["enriched_event_id"])
    ):
        out["enriched_at"] = b["enriched_at"]
        out["enriched_event_id"] = b["enriched_event_id"]
    return out


# --- derived columns: functions of the merged facts --------------------------------------------


def _cover_source(prov: Mapping[str, Any], covers: Iterable[str]) -> str | None:
    for name in covers:
        entry = prov.get(name)
        if entry is not None:
            return str(entry[1])
    return None


def derive_edition(row: Row) -> Row:
    prov = row["provenance"]
    match = prov.get("work_match")
    if match is not None:
        row["work_match_confidence"] = match[0]
        row["work_match_source"] = match[1]
        row["work_key"] = match[2]
        row["work_match_at"] = from_us(match[3])
    primary = prov.get("primary")
    row["primary_provider"] = primary[2] if primary is not None else None
    row["cover_source"] = _cover_source(prov, EDITION_COVERS)
    row["completeness_score"] = edition_completeness(row)
    return row


def derive_work(row: Row) -> Row:
    prov = row["provenance"]
    primary = prov.get("primary")
    row["primary_provider"] = primary[2] if primary is not None else None
    row["cover_source"] = _cover_source(prov, WORK_COVERS)
    row["completeness_score"] = (
        SYNTHETIC_COMPLETENESS if row["synthetic"] else work_completeness(row)
    )
    return row


def derive_author(row: Row) -> Row:
    prov = row["provenance"]
    birth = prov.get("birth_year")
    death = prov.get("death_year")
    row["birth_year"] = birth[2] if birth is not None else None
    # Two sources may disagree into an impossible life: keep the birth, drop the death.
    row["death_year"] = (
        death[2] if death is not None and (birth is None or death[2] >= birth[2]) else None
    )
    bio = prov.get("bio")
    row["bio_source"] = bio[1] if bio is not None else None
    contributors = row["contributors"]
    row["primary_provider"] = (
        max(contributors, key=lambda p: (SOURCE_RANK.get(p, 0), p)) if contributors else None
    )
    return row


def work_author_rows(work: Row) -> list[tuple[str, str, int]]:
    """(work_key, author_key, author_order) of the best-ranked author list of the work."""
    entry = work["provenance"].get("authors")
    if entry is None:
        return []
    return [(work["work_key"], key, order) for key, order in entry[2]]


# --- rows written before provenance existed ---------------------------------------------------


def adopt_legacy(
    row: Row, groups: tuple[tuple[tuple[str, ...], RankFn], ...], ranked_primary: bool
) -> Row:
    """A row written without provenance: its values get the lowest rank, so any fact wins."""
    prov = row["provenance"]
    if prov:
        return row
    provider = row.get("primary_provider") or "legacy"
    missing = [
        (name, rank)
        for fields, rank in groups
        for name in fields
        if row.get(name) not in (None, "")
    ]
    legacy_primary = ranked_primary and row.get("primary_provider") is not None
    legacy_match = (
        row.get("work_key") is not None and row.get("work_match_source") in MATCH_SOURCE_RANK
    )
    if not (missing or legacy_primary or legacy_match):
        return row
    prov = dict(prov)
    if legacy_primary:
        prov["primary"] = [TIER_LEGACY, 0, provider]
    if legacy_match:
        at = row.get("work_match_at") or row.get("created_at") or EPOCH
        prov["work_match"] = [
            float(row.get("work_match_confidence") or 0.0),
            row["work_match_source"],
            row["work_key"],
            to_us(at),
        ]
    for name, rank in missing:
        if rank is rank_quality:
            prov[name] = [TIER_LEGACY, 0, provider]
        elif rank is rank_kept_value:
            prov[name] = [TIER_LEGACY, provider, row[name]]
        else:
            prov[name] = [TIER_LEGACY, provider]
    row["provenance"] = prov
    return row
