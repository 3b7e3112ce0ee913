"""Reads Google's JSON error shape (Books, Gemini): per-day quota vs per-minute limit vs refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from shared.providers.outcomes import Outcome, classify_status, json_body, parse_retry_after

_DAILY_REASONS = {"dailylimitexceeded", "dailylimitexceededunreg"}
_RATE_REASONS = {"ratelimitexceeded", "userratelimitexceeded", "rate_limit_exceeded"}
_RETRY_IN = re.compile(r"retry in (\d+(?:\.\d+)?)\s*s", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _error(body: Any) -> Mapping[str, Any]:
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else {}


def _details(error: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping):
            yield detail


def quota_markers(error: Mapping[str, Any]) -> list[str]:
    """Every reason, quota limit and quota id the error names, lower-cased."""
    markers: list[str] = []
    for item in error.get("errors") or ():
        if isinstance(item, Mapping) and isinstance(item.get("reason"), str):
            markers.append(item["reason"])
    for detail in _details(error):
        if isinstance(detail.get("reason"), str):
            markers.append(detail["reason"])
        metadata = detail.get("metadata")
        if isinstance(metadata, Mapping):
            markers.extend(str(v) for k, v in metadata.items() if k.startswith("quota_"))
        for violation in detail.get("violations") or ():
            if isinstance(violation, Mapping):
                markers.extend(
                    str(violation[k]) for k in ("quotaId", "quotaMetric") if k in violation
                )
    return [marker.lower() for marker in markers]


def is_daily(error: Mapping[str, Any]) -> bool:
    """Per-day limits: `defaultPerDayPerProject`, `...PerDay...` quota ids, `dailyLimitExceeded`."""
    markers = quota_markers(error)
    if any("perday" in m or m in _DAILY_REASONS for m in markers):
        return True
    message = str(error.get("message", "")).lower()
    return "per day" in message or "queries per day" in message


def retry_delay(error: Mapping[str, Any]) -> float | None:
    """`RetryInfo.retryDelay` ("45s"), else "Please retry in 45.5s" in the message."""
    for detail in _details(error):
        if str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    match = _RETRY_IN.search(str(error.get("message", "")))
    return float(match.group(1)) if match else None


def classify_google(response: httpx.Response, now: datetime) -> Outcome:
    """Google's status codes refined by the error body.

    Daily exhaustion has been reported as 429 and (older) 403, and by one integration as 400;
    all three are read for per-day markers. 403 rate-limit reasons are the old per-user limit.
    """
    outcome = classify_status(response, now)
    if outcome.kind == "ok":
        return outcome
    error = _error(json_body(response))
    status = str(error.get("status", "")) or str(response.status_code)
    if response.status_code not in (400, 403, 429):
        return replace(outcome, detail=f"{outcome.detail}: {status} {_message(error)}".strip())
    if is_daily(error):
        return Outcome("daily_quota", f"{status}: per-day quota exhausted")
    header = parse_retry_after(response.headers.get("Retry-After"), now)
    wait = header if header is not None else retry_delay(error)
    if response.status_code == 429 or any(m in _RATE_REASONS for m in quota_markers(error)):
        return Outcome("rate_limited", f"{status}: rate limited", wait)
    return Outcome("rejected", f"{status} ({response.status_code}) {_message(error)}".strip())


def _message(error: Mapping[str, Any]) -> str:
    """The provider's own words, shortened: enough to act on in a log line."""
    return str(error.get("message", ""))[:200]
