"""enriched_authors: the author fields by role, one event's author rows, merge and derive.

Each field is listed once, in the role that ranks it, with the cleaner of its fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.projector.logic.merging import (
    SOURCE_RANK,
    TIER_FACTS,
    Groups,
    KeptEntry,
    Row,
    SourceEntry,
    adopt_legacy,
    merge_common,
    rank_kept_value,
    rank_source,
)
from services.projector.logic.values import (
    Clean,
    clean_ids,
    clean_text,
    provider_of,
    take_facts,
    take_lists,
    wikidata_id,
    year,
)

# Ranked by source (SourceEntry). Every author fact has a name; normalized_name defaults to it.
AUTHOR_NAMES = ("name", "normalized_name")
AUTHOR_BY_SOURCE: dict[str, Clean] = {
    "gender": clean_text,
    "nationality": clean_text,
    "bio": clean_text,
    "author_photo_url": clean_text,
    "openlibrary_author_id": clean_text,
    "wikidata_id": wikidata_id,
}
# Ranked by source with the fact's own value kept in the entry (KeptEntry); the columns are
# derived from the entries.
AUTHOR_KEPT: dict[str, Clean] = {"birth_year": year, "death_year": year}
# Sorted unions: the list facts, and the providers that contributed.
AUTHOR_LISTS: dict[str, Clean] = {"goodreads_author_ids": clean_ids}
AUTHOR_SET_FIELDS = (*AUTHOR_LISTS, "contributors")
AUTHOR_RANKED: Groups = (
    ((*AUTHOR_NAMES, *AUTHOR_BY_SOURCE), rank_source),
    (tuple(AUTHOR_KEPT), rank_kept_value),
)

# The bottom of the lattice.
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

# --- what one event contributes ----------------------------------------------------------------


def author_facts_row(facts: Mapping[str, Any], at: datetime) -> Row:
    """One provider's facts about one author as an author row (not derived yet)."""
    provider = provider_of(facts)
    by_source = SourceEntry.stored(TIER_FACTS, provider)
    key = clean_text(facts.get("author_key"))
    name = clean_text(facts.get("name"))
    if key is None or name is None:
        raise ValueError("author facts without author_key or name")
    row = dict(EMPTY_AUTHOR)
    prov: dict[str, Any] = dict.fromkeys(AUTHOR_NAMES, by_source)
    row["author_key"] = key
    row["name"] = name
    row["normalized_name"] = clean_text(facts.get("normalized_name")) or name.lower()
    take_facts(row, prov, facts, AUTHOR_BY_SOURCE, by_source)
    for field, clean in AUTHOR_KEPT.items():
        value = clean(facts.get(field))
        if value is not None:
            prov[field] = KeptEntry.stored(TIER_FACTS, provider, value)
    take_lists(row, facts, AUTHOR_LISTS)
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


# --- merge -------------------------------------------------------------------------------------


def join_author(a: Row, b: Row) -> Row:
    """Join of two author rows (same author_key)."""
    if a is b:
        return a
    return merge_common(a, b, AUTHOR_RANKED, AUTHOR_SET_FIELDS)


def merge_author(a: Row, b: Row) -> Row:
    """The merged author row, derived columns included."""
    return a if a is b else derive_author(join_author(a, b))


def derive_author(row: Row) -> Row:
    """Recompute the derived columns: the years, bio_source, primary_provider."""
    prov = row["provenance"]
    stored_birth, stored_death = prov.get("birth_year"), prov.get("death_year")
    birth = KeptEntry.of(stored_birth).value if stored_birth is not None else None
    death = KeptEntry.of(stored_death).value if stored_death is not None else None
    row["birth_year"] = birth
    # Two sources may disagree into an impossible life: keep the birth, drop the death.
    row["death_year"] = death if death is not None and (birth is None or death >= birth) else None
    bio = prov.get("bio")
    row["bio_source"] = SourceEntry.of(bio).provider if bio is not None else None
    contributors = row["contributors"]
    row["primary_provider"] = (
        max(contributors, key=lambda p: (SOURCE_RANK.get(p, 0), p)) if contributors else None
    )
    return row


# --- rows as read from the table ---------------------------------------------------------------


def adopt_author(row: Row) -> Row:
    """An author row as read: adopted if written before provenance existed, then derived."""
    return derive_author(adopt_legacy(row, AUTHOR_RANKED, ranked_primary=False))
