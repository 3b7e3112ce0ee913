"""Per-key pacing shared through PostgreSQL: two replicas together never exceed a provider's rate,
one alone reaches it, keys are paced apart, and paced calls draw no 429 from a sandbox that
refuses bursts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr

from shared.providers.http import HttpTransport
from shared.providers.isbndb import IsbndbClient
from shared.providers.pace import (
    UNKEYED,
    MemoryPaceStore,
    Pacer,
    PaceStore,
    PostgresPaceStore,
    key_hash,
    next_slot,
)
from shared.providers.spec import Credential, ProviderSpec
from tests.providers.conftest import KEYS, Sandbox, provider_settings

RATE = 20.0  # calls per second


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two pools, as two replicas would have."""
    made = [await asyncpg.create_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    try:
        yield made
    finally:
        for pool in made:
            await pool.close()


def spec(rate: float = RATE) -> ProviderSpec:
    return ProviderSpec("isbndb", "http://unused", 1.0, 8, rate_per_s=rate)


async def sends(pacer: Pacer, credential: Credential | None, n: int, out: list[float]) -> None:
    """n calls at once from one replica, each noting when it was let through."""

    async def one() -> None:
        await pacer.before_send(spec(), credential)
        out.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(n)))


def most_in_any_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max(sum(1 for u in ordered[i:] if u < t + 1.0) for i, t in enumerate(ordered))


def test_next_slot_takes_the_later_of_due_and_now() -> None:
    assert next_slot(10.0, 4.0, 0.5) == (10.0, 10.5)  # busy: queue behind the last slot
    assert next_slot(1.0, 4.0, 0.5) == (4.0, 4.5)  # idle: no credit saved up


async def test_a_slot_woken_too_late_for_is_given_up() -> None:
    """A process descheduled past its slot takes a new one rather than bursting."""
    slots: list[float] = []

    class Stalled:
        async def reserve(self, provider: str, key: str, interval_s: float) -> float:
            # The first slot passed a second ago (as after a stall); the next one is due now.
            slots.append(time.monotonic() - (1.0 if not slots else 0.0))
            return slots[-1]

    await Pacer(Stalled()).before_send(spec(), None)
    assert len(slots) == 2


async def test_two_replicas_together_never_exceed_the_rate(pools: list[asyncpg.Pool]) -> None:
    key = Credential.in_header(SecretStr(KEYS["isbndb"]), "Authorization")
    times: list[float] = []
    started = time.monotonic()
    await asyncio.gather(*(sends(Pacer(PostgresPaceStore(pool)), key, 30, times) for pool in pools))
    elapsed = time.monotonic() - started
    assert len(times) == 60
    # GCRA: 60 calls at 20/s take 59 intervals; never more than RATE (+1 for a late wake-up)
    # in any one second.
    assert elapsed >= 59 / RATE * 0.98
    assert most_in_any_second(times) <= RATE + 1
    # And close to the limit: the pacing itself costs little.
    assert 60 / elapsed >= 0.9 * RATE


@pytest.mark.parametrize("kind", ["postgres", "memory"])
async def test_each_key_has_its_own_rate(pools: list[asyncpg.Pool], kind: str) -> None:
    store: PaceStore = PostgresPaceStore(pools[0]) if kind == "postgres" else MemoryPaceStore()
    pacer = Pacer(store)
    a = Credential.in_header(SecretStr("key-a"), "Authorization")
    b = Credential.in_header(SecretStr("key-b"), "Authorization")
    started = time.monotonic()
    await asyncio.gather(
        sends(pacer, a, 10, []), sends(pacer, b, 10, []), sends(pacer, None, 10, [])
    )
    elapsed = time.monotonic() - started
    assert 9 / RATE * 0.95 <= elapsed < 2 * 9 / RATE  # side by side, not one after the other
    unpaced = time.monotonic()
    await Pacer(store).before_send(spec(0.0), a)
    assert time.monotonic() - unpaced < 0.05


async def test_the_table_holds_key_hashes_only(pools: list[asyncpg.Pool]) -> None:
    key = Credential.in_header(SecretStr(KEYS["isbndb"]), "Authorization")
    await Pacer(PostgresPaceStore(pools[0])).before_send(spec(), key)
    await Pacer(PostgresPaceStore(pools[0])).before_send(spec(), None)
    rows = await pools[0].fetch("SELECT provider, key_hash FROM provider_pace ORDER BY key_hash")
    assert {r["key_hash"] for r in rows} == {key_hash(key), UNKEYED}
    assert KEYS["isbndb"] not in repr([dict(r) for r in rows])


async def test_paced_replicas_draw_no_429_from_a_burst_limit(
    sandbox: Sandbox, pools: list[asyncpg.Pool]
) -> None:
    """The sandbox refuses any call early for its slot (one call of slack for jitter); two
    transports paced at that rate, eight calls at once each, get every call through."""
    await sandbox.knobs({"isbndb": {"rate_per_s": RATE, "rate_burst": 2}})
    settings = provider_settings(sandbox, isbndb_rate_per_s=RATE)
    replicas = [
        HttpTransport.from_settings(settings, pace=Pacer(PostgresPaceStore(pool))) for pool in pools
    ]
    clients = [IsbndbClient.from_settings(t, settings) for t in replicas]
    isbn = sandbox.catalogue.books[0].isbn13
    try:
        await asyncio.gather(*(c.book(isbn) for c in clients for _ in range(15)))
    finally:
        for transport in replicas:
            await transport.aclose()
    stats = await sandbox.stats("isbndb")
    assert stats["calls"] == 30
    assert stats["injected"].get("rate_per_key", 0) == 0
