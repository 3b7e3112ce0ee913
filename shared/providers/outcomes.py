"""What an HTTP answer means for the caller: ok, retry, wait, not found, quota spent, malformed
(pure classification shared by every provider's classifier)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

OutcomeKind = Literal[
    "ok", "not_found", "rejected", "retry", "rate_limited", "daily_quota", "malformed"
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a response means for the caller; produced by a provider's (pure) classifier."""

    kind: OutcomeKind
    detail: str = ""
    retry_after_s: float | None = None
    reset_at: datetime | None = None
    # A rate limit that outlasts every retry means the daily quota is gone (ISBNdb's one 429).
    daily_if_persistent: bool = False


OK = Outcome("ok")
Classifier = Callable[[httpx.Response, datetime], Outcome]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent/garbled."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def json_body(response: httpx.Response) -> Any:
    """The response JSON, or None when the body is not JSON (error pages are often HTML)."""
    try:
        return response.json()
    except ValueError:
        return None


def classify_status(response: httpx.Response, now: datetime) -> Outcome:
    """The default meaning of a status code; providers refine 429/403 with their bodies."""
    status = response.status_code
    if 200 <= status < 300:
        return OK
    if status == 404:
        return Outcome("not_found", "not found (404)")
    if status == 429:
        return Outcome(
            "rate_limited",
            "rate limited (429)",
            parse_retry_after(response.headers.get("Retry-After"), now),
        )
    if status in (408, 425) or status >= 500:
        return Outcome(
            "retry",
            f"server error ({status})",
            parse_retry_after(response.headers.get("Retry-After"), now),
        )
    return Outcome("rejected", f"request rejected ({status})")
