"""What every provider call leaves behind: one span (retries included, failures marked) and
one count in alexandria_provider_calls_total by outcome. The transport wraps each call in both."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.metrics import PROVIDER_CALLS
from shared.providers.errors import DailyQuotaExhausted, NotFound, ProviderError, call_outcome
from shared.providers.outcomes import Outcome
from shared.providers.spec import ProviderSpec

tracer = trace.get_tracer("alexandria.providers")
T = TypeVar("T")


async def counted(provider: str, call: Awaitable[T]) -> T:
    """One request, its retries included, counted once in alexandria_provider_calls_total by
    outcome: every provider (the LLMs too) is counted here and nowhere else. A cancelled call
    (a caller's timeout, shutdown) is not counted."""
    try:
        result = await call
    except Exception as exc:
        PROVIDER_CALLS.labels(provider, call_outcome(exc)).inc()
        raise
    PROVIDER_CALLS.labels(provider, "ok").inc()
    return result


async def traced(
    spec: ProviderSpec, method: str, path: str, route: str | None, call: Awaitable[T]
) -> T:
    """One span per provider call, its retries included: "<provider> <METHOD> <route>", with
    the provider, the endpoint (the path: no query, so no key), the attempts, the last status
    and the outcome kind. The httpx span of each attempt nests under it. A failure that ends
    the call marks it ERROR with the (redacted) exception; NotFound is an answer, not an error.
    """
    attributes: dict[str, str | int] = {
        "provider": spec.name,
        "endpoint": path,
        "http.request.method": method,
        "attempts": 0,
    }
    with tracer.start_as_current_span(
        f"{spec.name} {method} {route or path}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            result = await call
        except NotFound:
            span.set_attribute("outcome", "not_found")
            raise
        except ProviderError as exc:
            span.set_attribute("error.type", type(exc).__name__)
            if isinstance(exc, DailyQuotaExhausted):
                span.set_attribute("outcome", "daily_quota")
                span.set_attribute("quota", "exhausted")
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:300]))
            raise
        except asyncio.CancelledError:
            span.add_event("cancelled", {"reason": "the caller's timeout or shutdown"})
            raise
        span.set_attribute("outcome", "ok")
        return result


def note_attempt(outcome: Outcome, status: int, attempt: int) -> None:
    """A failed attempt on the provider span: an event, and the outcome kind so far."""
    span = trace.get_current_span()
    span.set_attribute("outcome", outcome.kind)
    span.add_event(
        "attempt failed",
        {
            "attempt": attempt + 1,
            "outcome": outcome.kind,
            "status": status,
            "detail": outcome.detail,
        },
    )
