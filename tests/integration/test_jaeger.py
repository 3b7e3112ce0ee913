"""The local Jaeger takes a span over OTLP/HTTP from the services' own telemetry setup and
answers it back through its HTTP query API."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from tests.conftest import Jaeger

# A service process in miniature: shared.telemetry.configure with an OTLP endpoint, one span,
# then a flush. Run apart because configure() sets the process-wide tracer provider and logging.
EMIT_ONE_SPAN = """
import sys
from opentelemetry import trace
from shared.settings import load_settings
from shared.telemetry import configure

endpoint, service, marker = sys.argv[1:]
tracer = configure(load_settings(otlp_endpoint=endpoint), service)
with tracer.start_as_current_span(
    "jaeger-check", attributes={"alexandria.marker": marker, "month": "2019-01", "books": 3}
) as span:
    print(format(span.get_span_context().trace_id, "032x"))
if not trace.get_tracer_provider().force_flush(10_000):
    sys.exit("the span was not exported within 10s")
"""


def _traces(jaeger: Jaeger, service: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{jaeger.query_url}/api/traces", params={"service": service}, timeout=5)
    if answer.status_code != 200:  # 404/500 until the service is known to the store
        return []
    data = answer.json().get("data") or []
    assert isinstance(data, list)
    return data


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_a_span_sent_over_otlp_is_found_through_the_query_api(jaeger: Jaeger) -> None:
    suffix = uuid.uuid4().hex[:8]
    service, marker = f"jaeger-check-{suffix}", f"marker-{suffix}"
    emitted = subprocess.run(
        [sys.executable, "-c", EMIT_ONE_SPAN, jaeger.otlp_endpoint, service, marker],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    trace_id = emitted.stdout.strip().splitlines()[-1]

    service_name = f"alexandria-{service}"  # configure() names the resource so
    deadline = time.monotonic() + 30
    traces = _traces(jaeger, service_name)
    while not traces and time.monotonic() < deadline:
        time.sleep(0.5)
        traces = _traces(jaeger, service_name)
    assert traces, f"no trace for {service_name} in Jaeger within 30s"

    (found,) = traces
    assert found["traceID"] == trace_id
    (span,) = found["spans"]
    assert span["operationName"] == "jaeger-check"
    tags = _tags(span)
    assert tags["alexandria.marker"] == marker
    assert tags["month"] == "2019-01"
    assert tags["books"] == 3
    assert found["processes"][span["processID"]]["serviceName"] == service_name

    services = httpx.get(f"{jaeger.query_url}/api/services", timeout=5).json()["data"]
    assert service_name in services
    by_id = httpx.get(f"{jaeger.query_url}/api/traces/{trace_id}", timeout=5)
    assert by_id.status_code == 200
    assert [s["operationName"] for s in by_id.json()["data"][0]["spans"]] == ["jaeger-check"]
