"""Per-provider middleware that applies the knobs: counts calls, checks keys, enforces the daily
quota, the per-second limit and the per-key rate, adds latency, and injects timeouts, 5xx and
malformed bodies."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.errors import STYLES
from sandbox.hashing import fraction, stable_int
from sandbox.state import ProviderCounters, SandboxState, state_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Authorizer = Callable[[web.Request, SandboxState], web.StreamResponse | None]

# Handlers of LLM endpoints read this to truncate the model's text instead of the envelope,
# and set MALFORMED_DONE so the middleware does not truncate a second time.
MALFORMED: web.RequestKey[bool] = web.RequestKey("sandbox_malformed", bool)
MALFORMED_DONE: web.RequestKey[bool] = web.RequestKey("sandbox_malformed_done", bool)


def endpoint_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return f"{request.method} {path}"


def _quota_exhausted(counters: ProviderCounters, state: SandboxState, limit: int | None) -> bool:
    today = state.day()
    if counters.quota_day != today:
        counters.quota_day = today
        counters.quota_used = 0
    if limit is not None and counters.quota_used >= limit:
        return True
    counters.quota_used += 1
    return False


def _retry_after(counters: ProviderCounters, state: SandboxState, limit: int) -> int | None:
    """Seconds to wait when the rolling-second limit is reached, else None (and the call counts)."""
    if limit <= 0:
        return None
    now = state.monotonic()
    while counters.recent and counters.recent[0] <= now - 1.0:
        counters.recent.popleft()
    if len(counters.recent) >= limit:
        return max(1, math.ceil(counters.recent[0] + 1.0 - now))
    counters.recent.append(now)
    return None


def caller(request: web.Request) -> str:
    """Whom a per-key limit counts: the API key wherever the API takes it, else the User-Agent
    (how Open Library and WDQS tell clients apart)."""
    for header in ("Authorization", "x-goog-api-key"):
        if header in request.headers:
            return f"{header}:{request.headers[header]}"
    if "key" in request.query:
        return f"key:{request.query['key']}"
    return f"ua:{request.headers.get('User-Agent', '')}"


def per_key_wait(
    counters: ProviderCounters, state: SandboxState, who: str, rate: float, burst: float
) -> int | None:
    """GCRA per caller: seconds to wait if this call is early for its slot by more than the
    burst's slack, else None (and the slot is taken)."""
    if rate <= 0:
        return None
    now, interval = state.monotonic(), 1.0 / rate
    due = counters.next_arrival.get(who, now)
    slack = (burst - 1.0) * interval
    if now < due - slack:
        return max(1, math.ceil(due - slack - now))
    counters.next_arrival[who] = max(due, now) + interval
    return None


def truncate(response: web.Response) -> web.Response:
    """Cut a JSON body mid-way, as a dropped connection or a proxy's buffer limit would."""
    body = response.body
    if not isinstance(body, bytes) or len(body) < 2:
        return response
    cut = web.Response(body=body[: max(1, len(body) // 2)], status=response.status)
    cut.headers["Content-Type"] = response.headers.get("Content-Type", "application/json")
    return cut


def fault_middleware(provider: str, authorize: Authorizer | None = None) -> Middleware:
    style = STYLES[provider]

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        state = state_of(request)
        counters = state.counters[provider]
        counters.calls += 1
        counters.by_endpoint[endpoint_name(request)] += 1
        response = await _apply(request, handler, state, counters)
        counters.by_status[str(response.status)] += 1
        return response

    async def _apply(
        request: web.Request, handler: Handler, state: SandboxState, counters: ProviderCounters
    ) -> web.StreamResponse:
        knobs = state.knobs.for_provider(provider)
        if authorize is not None:
            refused = authorize(request, state)
            if refused is not None:
                return refused
        if _quota_exhausted(counters, state, knobs.daily_quota):
            counters.injected["daily_quota"] += 1
            return style.quota_exhausted()
        wait = _retry_after(counters, state, knobs.rate_limit_429)
        if wait is not None:
            counters.injected["rate_limit_429"] += 1
            return style.rate_limited(wait)
        wait = per_key_wait(counters, state, caller(request), knobs.rate_per_s, knobs.rate_burst)
        if wait is not None:
            counters.injected["rate_per_key"] += 1
            return style.rate_limited(wait)

        seed = state.knobs.seed_for(provider)
        draw = counters.draws
        counters.draws += 1
        latency = knobs.latency_ms + knobs.latency_jitter_ms * fraction(seed, provider, draw, "j")
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if knobs.timeout_rate and fraction(seed, provider, draw, "timeout") < knobs.timeout_rate:
            counters.injected["timeout"] += 1
            await asyncio.sleep(knobs.timeout_s)
            return style.timeout()
        if knobs.error_rate and fraction(seed, provider, draw, "error") < knobs.error_rate:
            counters.injected["error"] += 1
            return style.server_error(stable_int(seed, provider, draw, "kind"))
        malformed = bool(
            knobs.malformed_rate
            and fraction(seed, provider, draw, "malformed") < knobs.malformed_rate
        )
        request[MALFORMED] = malformed
        response = await handler(request)
        if malformed:
            counters.injected["malformed"] += 1
            if (
                not request.get(MALFORMED_DONE)
                and isinstance(response, web.Response)
                and response.status == 200
            ):
                return truncate(response)
        return response

    return middleware
