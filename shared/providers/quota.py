"""Daily provider quotas shared by all replicas: atomic reservation and exhaustion in PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

import asyncpg

from shared.providers.errors import DailyQuotaExhausted
from shared.providers.spec import Clock, utc_now


class QuotaStore(Protocol):
    """Daily call budgets shared by every replica (see shared.providers.quota)."""

    async def reserve(self, provider: str, limit: int, n: int = 1, *, tz: tzinfo = UTC) -> int:
        """Count n calls for today or raise DailyQuotaExhausted; returns today's total."""
        ...

    async def exhausted_until(self, provider: str, *, tz: tzinfo = UTC) -> datetime | None:
        """The reset time if today is marked exhausted, else None."""
        ...

    async def mark_exhausted(self, provider: str, *, tz: tzinfo = UTC) -> datetime:
        """Record that the provider refused us for the rest of its day; returns the reset time."""
        ...


def next_midnight(now: datetime, tz: tzinfo) -> datetime:
    """The next midnight in `tz` after `now`, in UTC: when a daily quota resets."""
    local = now.astimezone(tz)
    day_start = datetime(local.year, local.month, local.day, tzinfo=tz)
    tomorrow = datetime.fromordinal(day_start.toordinal() + 1).replace(tzinfo=tz)
    return tomorrow.astimezone(UTC)


# Google documents that Gemini's requests-per-day reset at midnight Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")

# One statement, so concurrent replicas cannot overshoot: the INSERT path only runs when n fits,
# the UPDATE path only when the row still has room and nobody marked the day exhausted. A refused
# reservation returns no row and changes nothing.
_RESERVE = """
INSERT INTO provider_quota AS q (provider, day, used)
SELECT $1::text, $2::date, $3::integer WHERE $3::integer <= $4::integer
ON CONFLICT (provider, day) DO UPDATE
    SET used = q.used + EXCLUDED.used
    WHERE q.used + EXCLUDED.used <= $4::integer AND q.exhausted_at IS NULL
RETURNING used
"""

_MARK_EXHAUSTED = """
INSERT INTO provider_quota AS q (provider, day, exhausted_at) VALUES ($1, $2, $3)
ON CONFLICT (provider, day) DO UPDATE
    SET exhausted_at = COALESCE(q.exhausted_at, EXCLUDED.exhausted_at)
"""

_STATE = "SELECT used, exhausted_at FROM provider_quota WHERE provider = $1 AND day = $2"


def quota_day(now: datetime, tz: tzinfo = UTC) -> date:
    """The quota day `now` falls in: the calendar date where the provider resets."""
    return now.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class QuotaState:
    used: int
    exhausted_at: datetime | None


class PostgresQuotaStore:
    """The `provider_quota` table as a QuotaStore. Pass a pool; the table comes from migrations."""

    def __init__(self, pool: asyncpg.Pool, *, clock: Clock = utc_now) -> None:
        self._pool = pool
        self._clock = clock

    async def reserve(self, provider: str, limit: int, n: int = 1, *, tz: tzinfo = UTC) -> int:
        now = self._clock()
        used = await self._pool.fetchval(_RESERVE, provider, quota_day(now, tz), n, limit)
        if used is None:
            raise DailyQuotaExhausted(
                provider, f"daily quota of {limit} calls used up", next_midnight(now, tz)
            )
        return int(used)

    async def exhausted_until(self, provider: str, *, tz: tzinfo = UTC) -> datetime | None:
        now = self._clock()
        state = await self.state(provider, tz=tz)
        if state.exhausted_at is None:
            return None
        return next_midnight(now, tz)

    async def mark_exhausted(self, provider: str, *, tz: tzinfo = UTC) -> datetime:
        now = self._clock()
        await self._pool.execute(_MARK_EXHAUSTED, provider, quota_day(now, tz), now)
        return next_midnight(now, tz)

    async def state(self, provider: str, *, tz: tzinfo = UTC) -> QuotaState:
        """Today's usage, for metrics and tests."""
        row = await self._pool.fetchrow(_STATE, provider, quota_day(self._clock(), tz))
        if row is None:
            return QuotaState(0, None)
        return QuotaState(int(row["used"]), row["exhausted_at"])


@dataclass
class MemoryQuotaStore:
    """In-process QuotaStore with the same semantics, for unit tests and single-process tools."""

    clock: Clock = utc_now
    _rows: dict[tuple[str, date], QuotaState] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def reserve(self, provider: str, limit: int, n: int = 1, *, tz: tzinfo = UTC) -> int:
        now = self.clock()
        key = (provider, quota_day(now, tz))
        async with self._lock:
            state = self._rows.get(key, QuotaState(0, None))
            if state.exhausted_at is not None or state.used + n > limit:
                raise DailyQuotaExhausted(
                    provider, f"daily quota of {limit} calls used up", next_midnight(now, tz)
                )
            self._rows[key] = QuotaState(state.used + n, state.exhausted_at)
            return state.used + n

    async def exhausted_until(self, provider: str, *, tz: tzinfo = UTC) -> datetime | None:
        now = self.clock()
        state = self._rows.get((provider, quota_day(now, tz)))
        if state is None or state.exhausted_at is None:
            return None
        return next_midnight(now, tz)

    async def mark_exhausted(self, provider: str, *, tz: tzinfo = UTC) -> datetime:
        now = self.clock()
        key = (provider, quota_day(now, tz))
        async with self._lock:
            state = self._rows.get(key, QuotaState(0, None))
            self._rows[key] = QuotaState(state.used, state.exhausted_at or now)
        return next_midnight(now, tz)

    async def state(self, provider: str, *, tz: tzinfo = UTC) -> QuotaState:
        return self._rows.get((provider, quota_day(self.clock(), tz)), QuotaState(0, None))
