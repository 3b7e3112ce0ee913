"""enriched_editions: the edition fields by role, one event's edition row, merge and derive.

Each field is listed once, in the role that ranks it, with the cleaner of its fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from services.projector.logic.merging import (
    EPOCH,
    TIER_FACTS,
    Entry,
    Groups,
    QualityEntry,
    Rank,
    Row,
    SourceEntry,
    adopt_legacy,
    best_entry,
    cover_source,
    from_us,
    max_opt,
    merge_common,
    merge_map,
    merge_metadata,
    points,
    primary_provider,
    rank_primary,
    rank_quality,
    rank_source,
    to_us,
)
from services.projector.logic.values import (
    Clean,
    clean_ids,
    clean_tags,
    clean_text,
    language,
    positive_int,
    provider_of,
    publication_date,
    quality_of,
    related_isbns,
    take_facts,
    take_lists,
)
from shared.scores import EDITION_COVERS, edition_completeness

# Ranked by quality, then source (QualityEntry).
EDITION_BY_QUALITY: dict[str, Clean] = {
    "title": clean_text,
    "subtitle": clean_text,
    "publisher": clean_text,
    "publication_date": publication_date,
}
# Ranked by source (SourceEntry).
EDITION_BY_SOURCE: dict[str, Clean] = {
    "page_count": positive_int,
    "format": clean_text,
    "binding": clean_text,
    "language": language,
    "cover_url_large": clean_text,
    "cover_url_medium": clean_text,
    "cover_url_small": clean_text,
    "cover_url_original": clean_text,
    "openlibrary_edition_id": clean_text,
}
# Sorted unions: the list facts, and the providers that contributed.
EDITION_LISTS: dict[str, Clean] = {
    "alternate_isbns": clean_ids,
    "amazon_asins": clean_ids,
    "google_books_volume_ids": clean_ids,
    "goodreads_edition_ids": clean_ids,
    "subjects": clean_tags,
    "dewey_decimal": clean_ids,
}
EDITION_SET_FIELDS = (*EDITION_LISTS, "contributors")
EDITION_RANKED: Groups = (
    (tuple(EDITION_BY_QUALITY), rank_quality),
    (tuple(EDITION_BY_SOURCE), rank_source),
)

MATCH_SOURCE_ORDER = ("isbn", "title_author", "new")
MATCH_SOURCE_RANK = points(MATCH_SOURCE_ORDER)

# The bottom of the lattice.
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


class MatchEntry(NamedTuple):
    """provenance["work_match"], the work the edition belongs to:
    [confidence, source, work_key, at_us]."""

    confidence: float
    source: str
    work_key: str
    at_us: int

    @classmethod
    def of(cls, stored: Entry) -> MatchEntry:
        return cls._make(stored)

    def dump(self) -> Entry:
        return list(self)


def rank_match(entry: Entry) -> Rank:
    """A MatchEntry: confidence, then the match source order; of equal matches the earliest."""
    confidence, source, work_key, at_us = entry
    return (confidence, MATCH_SOURCE_RANK.get(source, 0), source, work_key, -at_us)


# --- what one event contributes ----------------------------------------------------------------


def edition_facts_row(isbn: str, facts: Mapping[str, Any], at: datetime) -> Row:
    """One provider's edition facts as an edition row (not derived yet)."""
    provider = provider_of(facts)
    quality = quality_of(facts)
    by_quality = QualityEntry.stored(TIER_FACTS, quality, provider)
    by_source = SourceEntry.stored(TIER_FACTS, provider)
    row = dict(EMPTY_EDITION)
    prov: dict[str, Any] = {"primary": by_quality}
    row["isbn"] = isbn
    take_facts(row, prov, facts, EDITION_BY_QUALITY, by_quality)
    take_facts(row, prov, facts, EDITION_BY_SOURCE, by_source)
    take_lists(row, facts, EDITION_LISTS)
    row["related_isbns"] = related_isbns(facts.get("related_isbns"), isbn)
    row["contributors"] = [provider]
    row["isbndb_quality"] = quality
    row["created_at"] = row["updated_at"] = at
    row["last_isbndb_sync"] = at if provider == "isbndb" else None
    row["provenance"] = prov
    return row


def edition_row(
    isbn: str, editions: Iterable[Mapping[str, Any]], match: Entry, at: datetime
) -> Row:
    """The edition contribution of one MetadataFetched: its facts joined, plus the work match
    (a MatchEntry as stored)."""
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


# --- merge -------------------------------------------------------------------------------------


def join_edition(a: Row, b: Row) -> Row:
    """Join of two edition rows (same isbn), derived columns not yet recomputed."""
    if a is b:
        return a
    out = merge_common(a, b, EDITION_RANKED, EDITION_SET_FIELDS)
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


def merge_edition(a: Row, b: Row) -> Row:
    """The merged edition row, derived columns included."""
    return a if a is b else derive_edition(join_edition(a, b))


def derive_edition(row: Row) -> Row:
    """Recompute the derived columns: the work match's, primary_provider, cover_source and
    completeness_score."""
    prov = row["provenance"]
    stored_match = prov.get("work_match")
    if stored_match is not None:
        confidence, source, work_key, at_us = stored_match  # a MatchEntry
        row["work_match_confidence"] = confidence
        row["work_match_source"] = source
        row["work_key"] = work_key
        row["work_match_at"] = from_us(at_us)
    row["primary_provider"] = primary_provider(prov)
    row["cover_source"] = cover_source(prov, EDITION_COVERS)
    row["completeness_score"] = edition_completeness(row)
    return row


# --- rows as read from the table ---------------------------------------------------------------


def _legacy_match(row: Row) -> dict[str, Entry]:
    if row.get("work_key") is None or row.get("work_match_source") not in MATCH_SOURCE_RANK:
        return {}
    at = row.get("work_match_at") or row.get("created_at") or EPOCH
    match = MatchEntry(
        float(row.get("work_match_confidence") or 0.0),
        row["work_match_source"],
        row["work_key"],
        to_us(at),
    )
    return {"work_match": match.dump()}


def adopt_edition(row: Row) -> Row:
    """An edition row as read: adopted if written before provenance existed, then derived."""
    adopted = adopt_legacy(row, EDITION_RANKED, ranked_primary=True, adopt_more=_legacy_match)
    return derive_edition(adopted)
