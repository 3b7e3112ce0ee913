"""Merge machinery of the projected rows: ranks, tiers, provenance views, lattice helpers.

Rows merge as a join-semilattice, so arrival order and duplicates never matter. Every scalar
field keeps its winning value and, in the row's `provenance`, the entry it won with: a field is
present exactly when it has a provenance entry. Merging two rows picks, per field, the value of
higher rank (ranks are total orders that end with the value itself), unions the arrays, and
takes min/max of the timestamps; derived columns are then recomputed from the result. So merge
is commutative, associative and idempotent, and merging an event into a stored row needs only
that row. Which field is ranked how is each table's business (editions.py, works.py, ...).

Provenance entries are stored as JSON lists, and rows keep them in that stored form (replays
compare tables row by row, and a fold's rows are compared with stored ones). The views below,
one NamedTuple per entry shape, name the positions: `View.of(stored)` reads an entry and
`view.dump()` gives it back as stored. The shapes written for every fact also have
`View.stored(...)`, which builds the stored list from named fields without the tuple; the rank
functions and the derived columns, run after every merge, unpack the stored list into the same
names instead of building a view per comparison.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

Row = dict[str, Any]
Entry = list[Any]  # a provenance entry in its stored form
Rank = tuple[Any, ...]

# Where a fact comes from ranks it below any fact of a better tier, whatever its quality.
TIER_LEGACY = -1  # a row written before provenance existed
TIER_LLM = 0  # a synthetic work's LLM data
TIER_EDITION = 1  # a work title borrowed from the edition facts
TIER_FACTS = 2  # a provider's own facts

# Fixed total orders of sources, best first; unknown sources rank below, then by name.
SOURCE_ORDER = ("isbndb", "google_books", "google-books", "openlibrary", "archive", "wikidata")
DESCRIPTION_ORDER = ("archive", "isbndb", "google_books", "google-books", "openlibrary")


def points(order: tuple[str, ...]) -> dict[str, int]:
    """Rank points of an order, best first: the first name gets the most."""
    return {name: len(order) - i for i, name in enumerate(order)}


SOURCE_RANK = points(SOURCE_ORDER)
DESCRIPTION_RANK = points(DESCRIPTION_ORDER)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    """Microseconds since the epoch: exact in JSON, unlike a float or an ISO string."""
    return (at - EPOCH) // _MICRO


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# --- provenance views: the entry shapes every table uses ---------------------------------------


class QualityEntry(NamedTuple):
    """A fact ranked by quality, then by source (titles, "primary"): [tier, quality, provider]."""

    tier: int
    quality: int
    provider: str

    @classmethod
    def of(cls, stored: Entry) -> QualityEntry:
        return cls._make(stored)

    @staticmethod
    def stored(tier: int, quality: int, provider: str) -> Entry:
        return [tier, quality, provider]

    def dump(self) -> Entry:
        return list(self)


class SourceEntry(NamedTuple):
    """A fact ranked by its source (most scalars): [tier, provider]."""

    tier: int
    provider: str

    @classmethod
    def of(cls, stored: Entry) -> SourceEntry:
        return cls._make(stored)

    @staticmethod
    def stored(tier: int, provider: str) -> Entry:
        return [tier, provider]

    def dump(self) -> Entry:
        return list(self)


class KeptEntry(NamedTuple):
    """A fact ranked by its source that keeps its own value, for columns that may show less than
    the fact (an author's years): [tier, provider, value]."""

    tier: int
    provider: str
    value: Any

    @classmethod
    def of(cls, stored: Entry) -> KeptEntry:
        return cls._make(stored)

    @staticmethod
    def stored(tier: int, provider: str, value: Any) -> Entry:
        return [tier, provider, value]

    def dump(self) -> Entry:
        return list(self)


# --- ranks: every entry element takes part, so equal ranks mean equal entries and values ------


def rank_quality(entry: Entry, value: Any) -> Rank:
    """A QualityEntry: quality first, then the source order."""
    tier, quality, provider = entry
    return (tier, quality, SOURCE_RANK.get(provider, 0), provider, value)


def rank_source(entry: Entry, value: Any) -> Rank:
    """A SourceEntry: the source order."""
    tier, provider = entry
    return (tier, SOURCE_RANK.get(provider, 0), provider, value)


def rank_description(entry: Entry, value: Any) -> Rank:
    """A SourceEntry: Internet Archive > ISBNdb > Google Books > Open Library > others."""
    tier, provider = entry
    return (tier, DESCRIPTION_RANK.get(provider, 0), provider, value)


def rank_kept_value(entry: Entry, _value: Any) -> Rank:
    """A KeptEntry: the source order, then the fact's own value."""
    tier, provider, value = entry
    return (tier, SOURCE_RANK.get(provider, 0), provider, value)


def rank_primary(entry: Entry) -> Rank:
    """The QualityEntry of the best facts merged ("primary")."""
    tier, quality, provider = entry
    return (tier, quality, SOURCE_RANK.get(provider, 0), provider)


RankFn = Callable[[Entry, Any], Rank]
# A table's ranked fields: (field names, the rank they are compared by), per role.
Groups = tuple[tuple[tuple[str, ...], RankFn], ...]

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
    groups: Groups,
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


def merge_common(a: Row, b: Row, groups: Groups, sets: tuple[str, ...]) -> Row:
    """The part of a join every table shares: ranked fields, set unions, min/max timestamps."""
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


def primary_provider(prov: Mapping[str, Any]) -> str | None:
    """The provider of the best facts merged, from the "primary" QualityEntry."""
    primary = prov.get("primary")
    if primary is None:
        return None
    _tier, _quality, provider = primary  # a QualityEntry, unpacked: this runs after every merge
    return str(provider)


def cover_source(prov: Mapping[str, Any], covers: Iterable[str]) -> str | None:
    """The provider of the first present cover (covers are source-ranked)."""
    for name in covers:
        entry = prov.get(name)
        if entry is not None:
            _tier, provider = entry  # a SourceEntry
            return str(provider)
    return None


# --- rows written before provenance existed ---------------------------------------------------


def adopt_legacy(
    row: Row,
    groups: Groups,
    *,
    ranked_primary: bool,
    adopt_more: Callable[[Row], Mapping[str, Entry]] | None = None,
) -> Row:
    """A row written without provenance: its values get the lowest rank, so any fact wins.

    `ranked_primary`: the table ranks a "primary" entry; `adopt_more`: a table's other legacy
    entries (an edition's work match).
    """
    if row["provenance"]:
        return row
    provider = row.get("primary_provider") or "legacy"
    missing = [
        (name, rank)
        for fields, rank in groups
        for name in fields
        if row.get(name) not in (None, "")
    ]
    prov: dict[str, Any] = {}
    if ranked_primary and row.get("primary_provider") is not None:
        prov["primary"] = QualityEntry.stored(TIER_LEGACY, 0, provider)
    if adopt_more is not None:
        prov.update(adopt_more(row))
    for name, rank in missing:
        if rank is rank_quality:
            prov[name] = QualityEntry.stored(TIER_LEGACY, 0, provider)
        elif rank is rank_kept_value:
            prov[name] = KeptEntry.stored(TIER_LEGACY, provider, row[name])
        else:
            prov[name] = SourceEntry.stored(TIER_LEGACY, provider)
    if prov:
        row["provenance"] = prov
    return row
