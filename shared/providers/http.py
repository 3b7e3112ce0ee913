"""Shared HTTP transport: one pooled httpx client, per-provider limits, retries, error classes."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import httpx
from opentelemetry import trace

from shared.providers.client import CREDENTIAL_EXTENSION, build_client, redact
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from shared.providers.observed import counted, note_attempt, traced
from shared.providers.outage import Outages
from shared.providers.outcomes import Classifier, Outcome, classify_status
from shared.providers.pace import Pacer
from shared.providers.quota import QuotaStore, next_midnight
from shared.providers.spec import Clock, Credential, ProviderSpec, RetryPolicy, Sleep, utc_now
from shared.settings import Settings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.providers")
T = TypeVar("T")


@dataclass
class _ProviderState:
    semaphore: asyncio.Semaphore
    blocked_until: datetime | None = None


@dataclass
class HttpTransport:
    """One pooled AsyncClient per process, shared by every provider client.

    Build it once at the entry point (`from_settings`) and close it on shutdown.
    """

    client: httpx.AsyncClient
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    quota: QuotaStore | None = None
    pace: Pacer | None = None
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    rng: Callable[[], float] = random.random
    # Which providers have failed since when: whether callers wait for them (outage.py).
    outages: Outages = field(default_factory=Outages)
    _providers: dict[str, _ProviderState] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        quota: QuotaStore | None = None,
        pace: Pacer | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> HttpTransport:
        return cls(
            client=build_client(settings.http.contact_email, settings.http.timeout_s),
            retry=RetryPolicy.from_settings(settings),
            quota=quota,
            pace=pace,
            clock=clock,
            sleep=sleep,
            rng=rng,
            outages=Outages(settings.http.outage_patience_s, clock),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> HttpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _state(self, spec: ProviderSpec) -> _ProviderState:
        state = self._providers.get(spec.name)
        if state is None:
            state = _ProviderState(asyncio.Semaphore(spec.max_concurrency))
            self._providers[spec.name] = state
        return state

    async def _check_quota(self, spec: ProviderSpec, state: _ProviderState) -> None:
        now = self.clock()
        if state.blocked_until is not None:
            if now < state.blocked_until:
                trace.get_current_span().set_attribute("quota", "exhausted")
                raise DailyQuotaExhausted(spec.name, "daily quota exhausted", state.blocked_until)
            state.blocked_until = None
        if self.quota is None:
            return
        span = trace.get_current_span()
        try:
            if spec.daily_limit is not None:
                await self.quota.reserve(spec.name, spec.daily_limit, tz=spec.quota_tz)
                span.set_attribute("quota", "reserved")
            elif spec.shares_exhaustion:
                until = await self.quota.exhausted_until(spec.name, tz=spec.quota_tz)
                if until is not None:
                    raise DailyQuotaExhausted(spec.name, "daily quota exhausted", until)
                span.set_attribute("quota", "not exhausted")
        except DailyQuotaExhausted as exc:
            span.set_attribute("quota", "exhausted")
            state.blocked_until = exc.reset_at
            raise

    async def declare_exhausted(
        self, spec: ProviderSpec, detail: str, reset_at: datetime | None = None
    ) -> DailyQuotaExhausted:
        """Stop calling the provider until its reset, here and (via the store) in every replica.

        Returns the error for the caller to raise.
        """
        state = self._state(spec)
        reset = reset_at or next_midnight(self.clock(), spec.quota_tz)
        if self.quota is not None:
            stored = await self.quota.mark_exhausted(spec.name, tz=spec.quota_tz)
            reset = reset_at or stored
        state.blocked_until = reset
        log.warning("%s: daily quota exhausted until %s", spec.name, reset.isoformat())
        return DailyQuotaExhausted(spec.name, detail or "daily quota exhausted", reset)

    async def request(
        self,
        spec: ProviderSpec,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        credential: Credential | None = None,
        classify: Classifier = classify_status,
        route: str | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a ProviderError subclass.

        `route` is the path as a template (`/book/{isbn}`) for the span name; default `path`."""
        call = self._send(
            spec,
            method,
            path,
            params,
            headers,
            json,
            content,
            credential,
            classify,
            decode=False,
            route=route,
        )
        response, _ = await counted(spec.name, call)
        return response

    async def request_json(
        self,
        spec: ProviderSpec,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        credential: Credential | None = None,
        classify: Classifier = classify_status,
        route: str | None = None,
    ) -> Any:
        """Like `request`, then decode JSON. A 2xx body that is not JSON (truncated by a proxy,
        an HTML error page) is retried like a 5xx, then raised as MalformedResponse."""
        call = self._send(
            spec,
            method,
            path,
            params,
            headers,
            json,
            content,
            credential,
            classify,
            decode=True,
            route=route,
        )
        _, body = await counted(spec.name, call)
        return body

    async def _send(
        self,
        spec: ProviderSpec,
        method: str,
        path: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        headers: Mapping[str, str] | None,
        json: Any,
        content: str | bytes | None,
        credential: Credential | None,
        classify: Classifier,
        *,
        decode: bool,
        route: str | None = None,
    ) -> tuple[httpx.Response, Any]:
        """The attempts, in the call's span (`traced`)."""
        attempts = self._attempts(
            spec, method, path, params, headers, json, content, credential, classify, decode=decode
        )
        return await traced(spec, method, path, route, attempts)

    async def _attempts(
        self,
        spec: ProviderSpec,
        method: str,
        path: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        headers: Mapping[str, str] | None,
        json: Any,
        content: str | bytes | None,
        credential: Credential | None,
        classify: Classifier,
        *,
        decode: bool,
    ) -> tuple[httpx.Response, Any]:
        state = self._state(spec)
        what = f"{method} {path}"
        url = spec.url(path)
        extensions: dict[str, Any] = {}
        if credential is not None:
            target = httpx.URL(url)
            extensions[CREDENTIAL_EXTENSION] = (
                credential,
                (target.scheme, target.host, target.port),
            )
        attempt = 0
        began = time.monotonic()
        while True:
            trace.get_current_span().set_attribute("attempts", attempt + 1)
            await self._check_quota(spec, state)
            outcome: Outcome
            status = 0
            started = time.monotonic()
            try:
                async with state.semaphore:
                    if self.pace is not None:
                        await self.pace.before_send(spec, credential)
                    response = await self.client.request(
                        method,
                        url,
                        params=params,
                        headers=headers,
                        json=json,
                        content=content,
                        timeout=spec.timeout_s,
                        extensions=extensions,
                    )
            except httpx.TimeoutException as exc:
                outcome = Outcome(
                    "retry", f"timed out after {spec.timeout_s:g}s ({type(exc).__name__})"
                )
            except httpx.TransportError as exc:
                outcome = Outcome("retry", f"connection failed ({type(exc).__name__})")
            else:
                status = response.status_code
                trace.get_current_span().set_attribute("http.response.status_code", status)
                log.debug(
                    "%s: %s -> %d in %.0f ms",
                    spec.name, what, status, 1000 * (time.monotonic() - started),
                )  # fmt: skip
                outcome = classify(response, self.clock())
                if outcome.kind == "ok":
                    if not decode:
                        return response, None
                    try:
                        return response, response.json()
                    except ValueError:
                        kind = response.headers.get("Content-Type", "no content type")
                        size = len(response.content)
                        outcome = Outcome("malformed", f"body is not JSON ({kind}, {size} bytes)")
            outcome = replace(outcome, detail=redact(outcome.detail, credential))
            note_attempt(outcome, status, attempt)
            match outcome.kind:
                case "not_found":
                    raise NotFound(spec.name, f"{what}: {outcome.detail}")
                case "rejected":
                    raise RequestRejected(spec.name, f"{what}: {outcome.detail}", status)
                case "daily_quota":
                    raise await self.declare_exhausted(
                        spec, f"{what}: {outcome.detail}", outcome.reset_at
                    )
            delay = self._retry_delay(spec, outcome, attempt, what, time.monotonic() - began)
            if delay is None:
                raise await self.declare_exhausted(
                    spec, f"{what}: {outcome.detail} persisted after {attempt + 1} attempts"
                )
            attempt += 1
            log.info(
                "%s: %s: %s; retry %d/%d in %.2fs",
                spec.name, what, outcome.detail, attempt, self.retry.max_retries, delay,
            )  # fmt: skip
            await self.sleep(delay)

    def _retry_delay(
        self, spec: ProviderSpec, outcome: Outcome, attempt: int, what: str, elapsed_s: float
    ) -> float | None:
        """Seconds before the next attempt; None when a persistent 429 means the day is over.

        Raises when retrying is pointless: retries or the call's deadline spent, or a
        Retry-After beyond the cap (waiting less than asked would break the provider's rules,
        e.g. WDQS bans for it).
        """
        wanted = outcome.retry_after_s
        too_long = wanted is not None and wanted > self.retry.retry_after_max_s
        delay = wanted if wanted is not None else self.retry.backoff(attempt, self.rng)
        if self.retry.gives_up(attempt, elapsed_s, delay) or too_long:
            if outcome.kind == "rate_limited" and outcome.daily_if_persistent and not too_long:
                return None
            if outcome.kind == "malformed":
                raise MalformedResponse(
                    spec.name, f"{what}: {outcome.detail}; gave up after {attempt + 1} attempts"
                )
            if outcome.kind == "rate_limited":
                suffix = f"; retry after {wanted:g}s" if wanted is not None else ""
                raise RateLimited(
                    spec.name,
                    f"{what}: {outcome.detail} after {attempt + 1} attempts{suffix}",
                    wanted,
                )
            raise ProviderUnavailable(
                spec.name, f"{what}: {outcome.detail}; gave up after {attempt + 1} attempts"
            )
        return delay
