"""Spans as exported, in memory: the process-wide tracer provider (set once, with the services'
sampler) gets an in-memory exporter, cleared for each test that asks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.tracing import sampler

_exporter: InMemorySpanExporter | None = None


def installed_exporter() -> InMemorySpanExporter:
    """The in-memory exporter on the global provider (installing both the first time), empty."""
    global _exporter
    if _exporter is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider(sampler=sampler())
            trace.set_tracer_provider(provider)
        assert isinstance(trace.get_tracer_provider(), TracerProvider)
        _exporter = InMemorySpanExporter()
        trace.get_tracer_provider().add_span_processor(  # type: ignore[attr-defined]
            SimpleSpanProcessor(_exporter)
        )
    _exporter.clear()
    return _exporter


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def texts(span: ReadableSpan) -> list[str]:
    """Every string a span exports: its name, attribute values, events and their attributes,
    the status description, links' attributes."""
    out = [span.name, span.status.description or ""]

    def values(attributes: Any) -> None:
        for key, value in (attributes or {}).items():
            out.append(str(key))
            if isinstance(value, tuple):
                out.extend(str(v) for v in value)
            else:
                out.append(str(value))

    values(span.attributes)
    for event in span.events:
        out.append(event.name)
        values(event.attributes)
    for link in span.links:
        values(link.attributes)
    values(span.resource.attributes)
    return out
