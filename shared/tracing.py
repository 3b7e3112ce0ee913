"""Tracing beyond the W3C headers: which spans may start a trace, the library instrumentations
(httpx, asyncpg, aiokafka) and small helpers the services use to mark outcomes on their spans.

A month run is one trace, rooted at the scheduler's "schedule month" span. Library spans (an
HTTP attempt, a SQL statement, a Kafka send or receive) join the trace of the service span
they run under; on their own (a scheduler tick's queries, an idle poll) they are not recorded,
so Jaeger shows month traces and batch traces, not thousands of one-span traces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes

Headers = Sequence[tuple[str, bytes]]

# Span kinds the instrumentations use; a span of one of these kinds never starts a trace.
_LIBRARY_KINDS = frozenset({SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER})


class ServiceRootsOnly(Sampler):
    """Root sampler: a trace starts only at a service's own (internal) span."""

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind in _LIBRARY_KINDS:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "ServiceRootsOnly"


def sampler() -> Sampler:
    """Children follow their parent's decision; roots only for service spans."""
    return ParentBased(root=ServiceRootsOnly())


def instrument_libraries() -> None:
    """asyncpg statement spans and aiokafka send/receive spans (idempotent).

    Statement parameters are not captured (they hold book data, and a DSN's password is never
    a parameter); the spans carry the statement, database, user and address only."""
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    asyncpg = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    for instrumentor in (asyncpg, AIOKafkaInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """An httpx span per attempt (redirects included) on this client's own transport: the layer
    above the one that adds API keys to the wire copy of a request, so a span sees the request
    as the code built it, never a key (shared/providers/http.py `_CredentialTransport`)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def parent_of(headers: Headers | None) -> otel_context.Context:
    """The trace context a Kafka record carries. Several `traceparent` headers (the service's
    own and the aiokafka send span's, appended after it): the last, the innermost, wins."""
    carrier = {key: value.decode(errors="replace") for key, value in headers or ()}
    return propagate.extract(carrier)


@contextmanager
def within(headers: Headers) -> Iterator[None]:
    """Run under the trace context the headers carry (if any): a relayed outbox row is sent
    inside its month's trace, not as a trace of its own."""
    if not any(key == "traceparent" for key, _ in headers):
        yield
        return
    token = otel_context.attach(parent_of(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


def span_context_of(headers: Headers | None) -> trace.SpanContext | None:
    context = trace.get_current_span(parent_of(headers)).get_span_context()
    return context if context.is_valid else None


def by_trace(
    headers: Sequence[Headers | None],
) -> dict[int, tuple[otel_context.Context, list[int]]]:
    """Records grouped by the trace their headers carry: trace id -> (the first record's
    context, the indexes of the records in that trace). Records without a context are left
    out."""
    groups: dict[int, tuple[otel_context.Context, list[int]]] = {}
    for index, record_headers in enumerate(headers):
        span_context = span_context_of(record_headers)
        if span_context is None:
            continue
        if span_context.trace_id not in groups:
            groups[span_context.trace_id] = (parent_of(record_headers), [])
        groups[span_context.trace_id][1].append(index)
    return groups


def links_to(headers: Sequence[Headers | None]) -> list[Link]:
    """One link per distinct span context among the records (a batch span's links)."""
    seen: dict[tuple[int, int], Link] = {}
    for record_headers in headers:
        span_context = span_context_of(record_headers)
        if span_context is not None:
            seen.setdefault((span_context.trace_id, span_context.span_id), Link(span_context))
    return list(seen.values())


def month_label(year: int | None, month: int | None) -> str | None:
    """The `month` attribute: `YYYY-MM`, the key Jaeger searches a month's trace by."""
    if year is None or month is None:
        return None
    return f"{year:04d}-{month:02d}"


def record_failure(
    span: trace.Span,
    name: str,
    attributes: Mapping[str, Any],
    *,
    error: BaseException | None = None,
    fail: bool = False,
) -> None:
    """An event for a failure the span's work absorbed; `fail` also marks the span ERROR."""
    span.add_event(name, {k: v for k, v in attributes.items() if v is not None})
    if error is not None and fail:
        span.record_exception(error)
    if fail:
        span.set_status(Status(StatusCode.ERROR, str(attributes.get("error", name))[:200]))
