"""enriched_works and work_authors: the work fields by role, one event's work row, merge, derive.

Each field is listed once, in the role that ranks it, with the cleaner of its fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from services.projector.logic.merging import (
    SOURCE_RANK,
    TIER_EDITION,
    TIER_FACTS,
    TIER_LLM,
    Entry,
    Groups,
    QualityEntry,
    Rank,
    Row,
    SourceEntry,
    adopt_legacy,
    best_entry,
    cover_source,
    merge_common,
    merge_metadata,
    primary_provider,
    rank_description,
    rank_primary,
    rank_quality,
    rank_source,
)
from services.projector.logic.values import (
    INT4_MAX,
    Clean,
    clamp,
    clean_ids,
    clean_json,
    clean_tags,
    clean_text,
    language,
    provider_of,
    quality_of,
    take_facts,
    take_lists,
    year,
)
from shared.scores import WORK_COVERS, work_completeness

SYNTHETIC_COMPLETENESS = 30
LLM_FALLBACK = "llm"

# Ranked by quality, then source (QualityEntry).
WORK_BY_QUALITY: dict[str, Clean] = {"title": clean_text, "subtitle": clean_text}
# Ranked by the description order (SourceEntry).
WORK_BY_DESCRIPTION: dict[str, Clean] = {"description": clean_text}
# Ranked by source (SourceEntry).
WORK_BY_SOURCE: dict[str, Clean] = {
    "original_language": language,
    "first_publication_year": year,
    "cover_url_large": clean_text,
    "cover_url_medium": clean_text,
    "cover_url_small": clean_text,
    "openlibrary_work_id": clean_text,
}
# Sorted unions: the list facts, and the providers that contributed.
WORK_LISTS: dict[str, Clean] = {
    "subject_tags": clean_tags,
    "goodreads_work_ids": clean_ids,
    "amazon_asins": clean_ids,
    "google_books_volume_ids": clean_ids,
}
WORK_SET_FIELDS = (*WORK_LISTS, "contributors")
WORK_RANKED: Groups = (
    (tuple(WORK_BY_QUALITY), rank_quality),
    (tuple(WORK_BY_DESCRIPTION), rank_description),
    (tuple(WORK_BY_SOURCE), rank_source),
)

# The bottom of the lattice.
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


class AuthorPosition(NamedTuple):
    """One author of a work's author list: [author_key, order]."""

    author_key: str
    order: int


class AuthorsEntry(NamedTuple):
    """provenance["authors"], one provider's whole author list of the work:
    [tier, provider, [[author_key, order], ...]]."""

    tier: int
    provider: str
    positions: tuple[AuthorPosition, ...]

    @classmethod
    def of(cls, stored: Entry) -> AuthorsEntry:
        tier, provider, positions = stored
        return cls(tier, provider, tuple(AuthorPosition._make(p) for p in positions))

    @staticmethod
    def stored(tier: int, provider: str, positions: Iterable[tuple[str, int]]) -> Entry:
        return [tier, provider, [[author_key, order] for author_key, order in positions]]

    def dump(self) -> Entry:
        return self.stored(self.tier, self.provider, self.positions)


def rank_authors(entry: Entry) -> Rank:
    """An AuthorsEntry: the source order, then the list itself (lists are never mixed)."""
    tier, provider, positions = entry
    return (tier, SOURCE_RANK.get(provider, 0), provider, positions)


# --- what one event contributes ----------------------------------------------------------------


def _work_base(work_key: str, at: datetime) -> Row:
    row = dict(EMPTY_WORK)
    row.update(work_key=work_key, created_at=at, updated_at=at, provenance={})
    return row


def work_facts_row(work_key: str, facts: Mapping[str, Any], at: datetime) -> Row:
    """One provider's work facts as a work row (not derived yet)."""
    provider = provider_of(facts)
    quality = quality_of(facts)
    by_quality = QualityEntry.stored(TIER_FACTS, quality, provider)
    by_source = SourceEntry.stored(TIER_FACTS, provider)
    row = _work_base(work_key, at)
    prov: dict[str, Any] = {"primary": by_quality}
    take_facts(row, prov, facts, WORK_BY_QUALITY, by_quality)
    take_facts(row, prov, facts, WORK_BY_DESCRIPTION, by_source)
    take_facts(row, prov, facts, WORK_BY_SOURCE, by_source)
    take_lists(row, facts, WORK_LISTS)
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
    entry = QualityEntry.stored(TIER_EDITION, quality_of(facts), provider)
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


def _by_order(position: tuple[str, int]) -> tuple[int, str]:
    author_key, order = position
    return order, author_key


def author_list(authors: Iterable[Mapping[str, Any]]) -> Entry | None:
    """The best-ranked provider's author order in one event, as a stored AuthorsEntry."""
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
        positions = sorted(orders.items(), key=_by_order)
        best = best_entry(best, AuthorsEntry.stored(TIER_FACTS, provider, positions), rank_authors)
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
    by_quality = QualityEntry.stored(TIER_LLM, 0, llm)
    by_source = SourceEntry.stored(TIER_LLM, llm)
    row = _work_base(work_key, at)
    prov: dict[str, Any] = {"primary": by_quality}
    take_facts(row, prov, book, WORK_BY_QUALITY, by_quality)
    take_facts(row, prov, book, WORK_BY_DESCRIPTION, by_source)
    first_year = year(book.get("publication_year"))
    if first_year is not None:
        row["first_publication_year"] = first_year
        prov["first_publication_year"] = by_source
    row["contributors"] = providers or [llm]
    row["synthetic"] = True
    row["metadata"] = clean_json(dict(book))
    row["provenance"] = prov
    return derive_work(row)


# --- merge -------------------------------------------------------------------------------------


def join_work(a: Row, b: Row) -> Row:
    """Join of two work rows (same work_key); synthetic only while every side is synthetic."""
    if a is b:
        return a
    out = merge_common(a, b, WORK_RANKED, WORK_SET_FIELDS)
    pa, pb, prov = a["provenance"], b["provenance"], out["provenance"]
    for name, rank in (("primary", rank_primary), ("authors", rank_authors)):
        entry = best_entry(pa.get(name), pb.get(name), rank)
        if entry is not None:
            prov[name] = entry
    out["isbndb_quality"] = max(a["isbndb_quality"], b["isbndb_quality"])
    out["synthetic"] = a["synthetic"] and b["synthetic"]
    out["metadata"] = merge_metadata(a["metadata"], b["metadata"])
    return out


def merge_work(a: Row, b: Row) -> Row:
    """The merged work row, derived columns included."""
    return a if a is b else derive_work(join_work(a, b))


def derive_work(row: Row) -> Row:
    """Recompute the derived columns: primary_provider, cover_source, completeness_score."""
    prov = row["provenance"]
    row["primary_provider"] = primary_provider(prov)
    row["cover_source"] = cover_source(prov, WORK_COVERS)
    row["completeness_score"] = (
        SYNTHETIC_COMPLETENESS if row["synthetic"] else work_completeness(row)
    )
    return row


def work_author_rows(work: Row) -> list[tuple[str, str, int]]:
    """work_authors (work_key, author_key, author_order) of the work's best-ranked author list."""
    stored = work["provenance"].get("authors")
    if stored is None:
        return []
    entry = AuthorsEntry.of(stored)
    return [(work["work_key"], p.author_key, p.order) for p in entry.positions]


# --- rows as read from the table ---------------------------------------------------------------


def adopt_work(row: Row) -> Row:
    """A work row as read: adopted if written before provenance existed, then derived."""
    return derive_work(adopt_legacy(row, WORK_RANKED, ranked_primary=True))
