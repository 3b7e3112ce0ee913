"""Per-provider, per-key request pacing shared by all replicas: each call reserves the next free
send slot (GCRA) in PostgreSQL and sleeps until it, so replicas together never exceed the rate.

One statement per call: `next_at = greatest(next_at, now) + interval`, under the row's lock, so
two replicas can never take the same slot. The delay is computed from the database's clock, so
replicas' clocks need not agree. An idle key earns no burst credit: after a pause the first call
goes at once and the next one a whole interval later. A call that wakes more than half an
interval after its slot gives it up and takes another, so a stalled process never sends a burst.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from opentelemetry import trace

from shared.providers.spec import Credential, ProviderSpec, Sleep

LATE_RETRIES = 4
"""Slots a call may miss (waking more than half an interval late) before it goes anyway."""

UNKEYED = "-"
"""The key of a provider called without one (Open Library, Archive, Wikidata): the client."""


def key_hash(credential: Credential | None) -> str:
    """Which key a call spends, as a short hash: the table and spans never hold the key."""
    if credential is None:
        return UNKEYED
    secret = credential.secret.get_secret_value().encode()
    return hashlib.sha256(secret).hexdigest()[:16]


def next_slot(next_at: float, now: float, interval_s: float) -> tuple[float, float]:
    """GCRA: (when this call may be sent, the next call's earliest time). Pure; the stores apply
    it atomically."""
    slot = max(next_at, now)
    return slot, slot + interval_s


class PaceStore(Protocol):
    """Send slots per (provider, key), shared by whoever shares the store."""

    async def reserve(self, provider: str, key: str, interval_s: float) -> float:
        """Take the next slot; returns when to send it, in this process's time.monotonic()."""
        ...


# next_slot in SQL; the wait is measured against the database's clock.
_RESERVE = """
INSERT INTO provider_pace AS p (provider, key_hash, next_at)
VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8))
ON CONFLICT (provider, key_hash) DO UPDATE
    SET next_at = greatest(p.next_at, clock_timestamp()) + make_interval(secs => $3::float8)
RETURNING extract(epoch FROM p.next_at - clock_timestamp())::float8 - $3::float8 AS wait_s
"""


class PostgresPaceStore:
    """The `provider_pace` table as a PaceStore (migration 0006). Pass the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reserve(self, provider: str, key: str, interval_s: float) -> float:
        async with self._pool.acquire() as conn:
            # Timed from just before the statement, not before the wait for a connection: a
            # reply held up by a busy event loop then shortens the sleep instead of sending
            # this call late and the next one, on time, too close behind it.
            asked = time.monotonic()
            wait = await conn.fetchval(_RESERVE, provider, key, interval_s)
        return asked + max(0.0, float(wait))


@dataclass
class MemoryPaceStore:
    """In-process PaceStore with the same semantics: for a CLI, a test, a single process."""

    _next: dict[tuple[str, str], float] = field(default_factory=dict)

    async def reserve(self, provider: str, key: str, interval_s: float) -> float:
        now = time.monotonic()
        slot, following = next_slot(self._next.get((provider, key), now), now, interval_s)
        self._next[(provider, key)] = following
        return slot


@dataclass
class Pacer:
    """Waits for a send slot before each attempt of a paced provider (spec.rate_per_s > 0)."""

    store: PaceStore
    sleep: Sleep = asyncio.sleep

    async def before_send(self, spec: ProviderSpec, credential: Credential | None) -> None:
        if spec.rate_per_s <= 0:
            return
        interval = 1.0 / spec.rate_per_s
        for _ in range(LATE_RETRIES):
            send_at = await self.store.reserve(spec.name, key_hash(credential), interval)
            wait = send_at - time.monotonic()
            if wait > 0:
                trace.get_current_span().set_attribute("pace.wait_ms", round(wait * 1000, 1))
                await self.sleep(wait)
            if time.monotonic() - send_at <= interval / 2:
                return
            # Woken too late (a descheduled process, a busy loop): sent now, this call and the
            # next one, on time, would arrive as a burst. The missed slot is given up.
            trace.get_current_span().add_event("pace slot missed")
