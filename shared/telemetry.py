"""Logs, traces and metrics for every service: JSON logs with the correlation id, OpenTelemetry
traces carried across Kafka in W3C `traceparent` headers, Prometheus metrics on a port (the
metrics themselves are defined in `shared.metrics`)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from shared.metrics import serve as serve_metrics
from shared.settings import Settings
from shared.tracing import instrument_libraries, sampler

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the service and the month run being processed."""

    def __init__(self, service: str, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.service = service
        self.secrets = [s for s in secrets if len(s) >= 4]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (cid := correlation_id.get()) is not None:
            entry["correlation_id"] = cid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        line = json.dumps(entry, ensure_ascii=False)
        for secret in self.secrets:  # last line of defence: never print a configured secret
            line = line.replace(secret, "***")
        return line


def configured_secrets(settings: Settings) -> list[str]:
    values = []
    for block in settings.blocks().values():
        for name in type(block).model_fields:
            value = getattr(block, name)
            if hasattr(value, "get_secret_value"):
                secret = value.get_secret_value()
                if block is settings.database:  # the DSN's password, not the whole URL
                    secret = secret.rpartition("@")[0].partition("://")[2].partition(":")[2]
                if secret:
                    values.append(secret)
    return values


def configure(settings: Settings, service: str) -> trace.Tracer:
    """Set up logging, tracing (OTLP when an endpoint is set) and the metrics port."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, configured_secrets(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.telemetry.log_level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)

    # Library spans (httpx, asyncpg, aiokafka) join the service span they run under and never
    # start a trace of their own (shared/tracing.py).
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"alexandria-{service}"}), sampler=sampler()
    )
    if settings.telemetry.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.telemetry.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    instrument_libraries()
    serve_metrics(settings.telemetry.metrics_port, settings.telemetry.metrics_host)
    return trace.get_tracer(f"alexandria.{service}")


def inject_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers (W3C traceparent/tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(key, value.encode()) for key, value in carrier.items()]


def context_from_headers(headers: Sequence[tuple[str, bytes]] | None) -> otel_context.Context:
    carrier = {key: value.decode(errors="replace") for key, value in headers or ()}
    return propagate.extract(carrier)


@contextmanager
def correlated(cid: str | None) -> Iterator[None]:
    token = correlation_id.set(cid)
    try:
        yield
    finally:
        correlation_id.reset(token)
