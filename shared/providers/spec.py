"""How to reach one provider: where, how long to wait, how many at once, which quota, which
credential, how to retry. Built from the provider's settings block (`spec_from_block`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from pydantic import SecretStr

from shared.settings import HttpSettings, ProviderSettings, Settings

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How to talk to one provider: where, how long to wait, how many at once, which quota."""

    name: str
    base_url: str
    timeout_s: float
    max_concurrency: int
    # Reserve one call per attempt against this daily limit in the quota store (ISBNdb).
    daily_limit: int | None = None
    # Check the quota store for a day another replica marked exhausted (Google, Gemini).
    shares_exhaustion: bool = False
    # The time zone whose midnight resets the provider's daily quota.
    quota_tz: tzinfo = UTC
    # Calls per second per key, shared by all replicas (shared.providers.pace); 0: unpaced.
    rate_per_s: float = 0.0

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def spec_from_block(
    name: str,
    block: ProviderSettings,
    http: HttpSettings,
    *,
    timeout_s: float | None = None,
    daily_limit: int | None = None,
    shares_exhaustion: bool = False,
    quota_tz: tzinfo = UTC,
) -> ProviderSpec:
    """One provider's spec from its settings block: its own concurrency cap under the HTTP-wide
    one, the HTTP timeout unless the provider needs its own (LLMs, WDQS)."""
    cap = http.max_concurrency
    if block.max_concurrency is not None:
        cap = min(cap, block.max_concurrency)
    return ProviderSpec(
        name=name,
        base_url=block.base_url,
        timeout_s=timeout_s or http.timeout_s,
        max_concurrency=cap,
        daily_limit=daily_limit,
        shares_exhaustion=shares_exhaustion,
        quota_tz=quota_tz,
        rate_per_s=block.rate_per_s,
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full-jitter exponential backoff up to `max_retries` and `deadline_s` after the first
    attempt; Retry-After beyond `retry_after_max_s` is not waited out."""

    max_retries: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0
    deadline_s: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_retries=settings.http.max_retries,
            backoff_base_s=settings.http.backoff_base_s,
            backoff_max_s=settings.http.backoff_max_s,
            retry_after_max_s=settings.http.retry_after_max_s,
            deadline_s=settings.http.retry_deadline_s,
        )

    def gives_up(self, attempt: int, elapsed_s: float, delay_s: float) -> bool:
        """No attempt after `attempt` (0-based): retries spent, or the next one would start
        past the call's deadline."""
        return attempt >= self.max_retries or elapsed_s + delay_s > self.deadline_s

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)), so replicas spread out."""
        return float(rng() * min(self.backoff_max_s, self.backoff_base_s * (2**attempt)))


@dataclass(frozen=True, slots=True)
class Credential:
    """An API key and where the API expects it. Injected on the wire only, never on logged URLs."""

    secret: SecretStr
    header: str | None = None
    param: str | None = None
    prefix: str = ""

    @classmethod
    def in_header(cls, secret: SecretStr, header: str, prefix: str = "") -> Credential:
        return cls(secret=secret, header=header, prefix=prefix)

    @classmethod
    def in_query(cls, secret: SecretStr, param: str) -> Credential:
        return cls(secret=secret, param=param)
