"""enrichment_log: one audit row per entity an event created or changed, naming the columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.projector.logic.merging import SOURCE_RANK, Row
from services.projector.logic.values import INT4_MAX, clamp, provider_of, quality_of

# Bookkeeping columns: a change to these alone is not a change worth an enrichment_log row.
NOT_LOGGED = frozenset(
    {"provenance", "created_at", "updated_at", "last_isbndb_sync", "work_match_at"}
)
KEY_COLUMNS = {"edition": "isbn", "work": "work_key", "author": "author_key"}
_UNFILLED: tuple[Any, ...] = (None, "", [], {}, 0)  # 0 == False == 0.0: defaults too


def changed_fields(old: Row | None, new: Row) -> list[str]:
    """Columns an event changed (for a created row: those it filled), bookkeeping left out."""
    if old is None:
        return [c for c, v in new.items() if c not in NOT_LOGGED and v not in _UNFILLED]
    return [c for c, v in new.items() if c not in NOT_LOGGED and old.get(c) != v]


def log_row(
    entity: str,
    old: Row | None,
    new: Row,
    provider: str,
    response_time_ms: int | None,
    event_id: str,
    at: datetime,
) -> Row | None:
    """The log row of one entity's change, None for an update that changed nothing."""
    fields = changed_fields(old, new)
    key_column = KEY_COLUMNS[entity]
    if old is not None and not fields:
        return None
    return {
        "entity_type": entity,
        "entity_key": new[key_column],
        "provider": provider,
        "operation": "create" if old is None else "update",
        "fields_updated": [f for f in fields if f != key_column],
        "response_time_ms": response_time_ms,
        "event_id": event_id,
        "created_at": at,
    }


def _facts_rank(facts: Mapping[str, Any]) -> tuple[int, int, str]:
    provider = provider_of(facts)
    return quality_of(facts), SOURCE_RANK.get(provider, 0), provider


def best_facts(facts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The facts the log names as the source: the highest-ranked provider's."""
    if len(facts) < 2:
        return facts[0] if facts else None
    return max(facts, key=_facts_rank)


def timing(facts: Mapping[str, Any] | None, fallback: Any) -> int | None:
    """The response time of those facts, else the event's fetch time."""
    value = facts.get("response_time_ms") if facts is not None else None
    value = value if value else fallback
    return clamp(value, 0, INT4_MAX) if isinstance(value, int) else None
