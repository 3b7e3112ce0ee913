"""The provider error hierarchy: what callers may catch, and what each failure means for them."""

from __future__ import annotations

from datetime import datetime


class ProviderError(Exception):
    """Base of every provider failure. Messages never contain keys or keyed URLs."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class NotFound(ProviderError):
    """The provider has no such book/work/author/item (404, empty result or `{}`)."""


class RequestRejected(ProviderError):
    """A 4xx the provider will keep refusing (bad request, bad key, forbidden): do not retry."""

    def __init__(self, provider: str, message: str, status: int) -> None:
        super().__init__(provider, message)
        self.status = status


class DailyQuotaExhausted(ProviderError):
    """The day's quota is spent: stop calling this provider until `reset_at` (UTC)."""

    def __init__(self, provider: str, message: str, reset_at: datetime) -> None:
        super().__init__(provider, f"{message}; resets at {reset_at.isoformat()}")
        self.reset_at = reset_at


class TransientProviderError(ProviderError):
    """A failure that says nothing about the book (5xx, timeout, 429 per second, a garbled
    body) and persisted through the call's retries: the caller must not decide on it while the
    provider is within its outage patience (shared.providers.outage)."""


class RateLimited(TransientProviderError):
    """A per-second/minute limit still refused us after the retries: back off, then retry."""

    def __init__(self, provider: str, message: str, retry_after_s: float | None) -> None:
        super().__init__(provider, message)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(TransientProviderError):
    """5xx, timeouts or connection failures persisted through every retry."""


class MalformedResponse(TransientProviderError):
    """The answer was not the JSON shape the provider documents (or was truncated)."""


class ProviderStillFailing(Exception):
    """A provider still failing transiently within its outage patience: the input waits. Not a
    ProviderError, so no caller's `except ProviderError` decides without it; the stream worker
    counts it as transient (the batch is not committed and is retried with backoff)."""

    def __init__(self, cause: TransientProviderError) -> None:
        super().__init__(f"waiting for {cause.provider}: {cause}")
        self.provider = cause.provider
        self.cause = cause


def call_outcome(exc: BaseException) -> str:
    """The `outcome` label of `alexandria_provider_calls_total` for a call that raised."""
    match exc:
        case NotFound():
            return "not_found"
        case DailyQuotaExhausted():
            return "quota"
        case RateLimited():
            return "rate_limited"
        case ProviderUnavailable():
            return "unavailable"
        case MalformedResponse():
            return "malformed"
        case _:
            return "error"
