"""Builds event envelopes: deterministic ids for derived events, time from the caller."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.events.catalog import BY_MODEL
from shared.events.generated import Envelope, Event
from shared.events.schemas import latest

# Namespace for UUIDv5 event ids: the same input event and item always give the same id.
EVENT_ID_NAMESPACE = uuid.UUID("5b0c6f0e-7a4b-4c59-9d3e-1c0a5b7d2e41")


def derived_event_id(causation_id: str, item: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{causation_id}\x1f{item}"))


def month_correlation_id(year: int, month: int) -> str:
    return f"month:{year:04d}-{month:02d}"


def make_envelope(
    model: type[Event],
    *,
    producer: str,
    correlation_id: str,
    causation_id: str | None = None,
    item: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """An envelope for `model`. With causation_id and item, the id is derived (redelivery-safe)."""
    if event_id is None:
        if causation_id is not None and item is not None:
            event_id = derived_event_id(causation_id, item)
        else:
            event_id = str(uuid.uuid4())
    return Envelope(
        event_id=event_id,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
        schema_version=latest(BY_MODEL[model].folder).version,
    )


def derived_envelope(
    model: type[Event],
    cause: Envelope,
    *,
    producer: str,
    item: str,
    occurred_at: datetime | None = None,
) -> Envelope:
    """The envelope of an event made from `cause` for `item`: same run, deterministic id."""
    return make_envelope(
        model,
        producer=producer,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
        item=item,
        occurred_at=occurred_at,
    )
