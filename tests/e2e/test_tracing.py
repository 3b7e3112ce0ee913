"""Complete traces in a real Jaeger: a two-month backfill through the five service processes,
exported over OTLP, read back through Jaeger's query API. One month runs with xAI and ISBNdb
answering 5xx to everything, the other with every provider up.

Each month must be exactly one trace, with spans of all five services, provider call spans
named for their provider, and, for the failing month only, error-marked spans for xAI and
ISBNdb (and the events that record the failures on the month's spans). No configured secret
(the API keys, the database password) may appear in anything a span exports."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.months import YearMonth
from tests.conftest import Jaeger
from tests.harness import Pipeline

FAILING, HEALTHY = YearMonth(2016, 7), YearMonth(2016, 8)
SERVICES = ("scheduler", "generator", "resolver", "enricher", "projector")
FAULTS = {"xai": {"error_rate": 1.0}, "isbndb": {"error_rate": 1.0}}
NO_FAULTS = {"xai": {"error_rate": 0.0}, "isbndb": {"error_rate": 0.0}}


def label(month: YearMonth) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def tags(item: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in item.get("tags", [])}


def events(span: dict[str, Any]) -> list[dict[str, Any]]:
    return [{f["key"]: f["value"] for f in log["fields"]} for log in span.get("logs", [])]


def is_error(span: dict[str, Any]) -> bool:
    found = tags(span)
    return found.get("error") is True or found.get("otel.status_code") == "ERROR"


def service_of(trace: dict[str, Any], span: dict[str, Any]) -> str:
    name: str = trace["processes"][span["processID"]]["serviceName"]
    return name.removeprefix("alexandria-")


def ours(trace: dict[str, Any], prefix: str) -> bool:
    """A trace of this test: one of its Kafka spans names one of this test's topics."""
    return any(
        str(tags(s).get("messaging.destination.name", "")).startswith(prefix + ".")
        for s in trace["spans"]
    )


def month_traces(jaeger: Jaeger, prefix: str, month: str, since_us: int) -> dict[str, Any]:
    """trace id -> trace, for every trace of this test in which some service's span carries
    this month (searched service by service, as a person would in the UI)."""
    found: dict[str, Any] = {}
    for service in SERVICES:
        answer = httpx.get(
            f"{jaeger.query_url}/api/traces",
            params={
                "service": f"alexandria-{service}",
                "tags": json.dumps({"month": month}),
                "start": since_us,
                "limit": 50,
            },
            timeout=10,
        )
        if answer.status_code != 200:  # the service is not known to Jaeger yet
            continue
        for trace in answer.json().get("data") or []:
            if ours(trace, prefix):
                found[trace["traceID"]] = trace
    return found


def complete(traces: dict[str, Any]) -> bool:
    return len(traces) == 1 and {
        service_of(t, s) for t in traces.values() for s in t["spans"]
    } >= set(SERVICES)


async def wait_for_traces(
    jaeger: Jaeger, prefix: str, since_us: int, timeout_s: float = 60.0
) -> dict[str, dict[str, Any]]:
    """Both months' traces once each holds all five services and its span count stopped
    growing between two looks (spans arrive in export batches); at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    previous: dict[str, int] = {}
    while True:
        found = {
            label(m): month_traces(jaeger, prefix, label(m), since_us) for m in (FAILING, HEALTHY)
        }
        sizes = {m: sum(len(t["spans"]) for t in traces.values()) for m, traces in found.items()}
        if all(complete(traces) for traces in found.values()) and sizes == previous:
            return {m: next(iter(traces.values())) for m, traces in found.items()}
        if time.monotonic() > deadline:
            summary = {
                m: [
                    (tid, sorted({service_of(t, s) for s in t["spans"]}), len(t["spans"]))
                    for tid, t in traces.items()
                ]
                for m, traces in found.items()
            }
            raise AssertionError(f"traces not complete and stable in {timeout_s}s: {summary}")
        previous = sizes
        await asyncio.sleep(2.0)


def provider_spans(trace: dict[str, Any], provider: str) -> list[dict[str, Any]]:
    return [
        s
        for s in trace["spans"]
        if tags(s).get("provider") == provider and s["operationName"].startswith(f"{provider} ")
    ]


def decided(trace: dict[str, Any], name: str, key: str) -> list[dict[str, Any]]:
    """The `name` spans that reached a decision (`key` set): a batch that waited for a failing
    provider (ProviderStillFailing, retried by the worker) leaves an ERROR span without one."""
    return [s for s in named(trace, name) if key in tags(s)]


def named(trace: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in trace["spans"] if s["operationName"] == name]


async def test_each_month_is_one_complete_trace_in_jaeger(
    pipeline: Pipeline, settings, jaeger: Jaeger
) -> None:
    since_us = int(time.time() * 1_000_000)
    pipeline.env["ALEXANDRIA_OTLP_ENDPOINT"] = jaeger.otlp_endpoint
    pipeline.env["OTEL_BSP_SCHEDULE_DELAY"] = "500"  # export every 0.5 s, not every 5 s
    pipeline.env["ALEXANDRIA_SYNTHETIC_PER_RUN"] = "0"

    pipeline.knobs(FAULTS)
    await pipeline.plan([FAILING])
    pipeline.start()
    assert await pipeline.wait_until_settled(90) == {"completed": 1}
    pipeline.knobs(NO_FAULTS)
    await pipeline.plan([HEALTHY])
    assert await pipeline.wait_until_settled(60) == {"completed": 2}

    traces = await wait_for_traces(jaeger, settings.topics.prefix, since_us)
    failing, healthy = traces[label(FAILING)], traces[label(HEALTHY)]

    for month, trace in traces.items():
        # One root: the scheduler's; every span with a month attribute names this month.
        roots = [s for s in trace["spans"] if not s.get("references")]
        assert [(r["operationName"], service_of(trace, r)) for r in roots] == [
            ("schedule month", "scheduler")
        ], month
        assert {tags(s)["month"] for s in trace["spans"] if "month" in tags(s)} == {month}
        for name in ("generate month", "resolve month", "project month"):
            assert named(trace, name), (month, name)
        assert named(trace, "enrich isbn"), month
        assert all(tags(s)["month"] == month for s in named(trace, "enrich isbn"))
        # The libraries' spans: HTTP attempts, SQL statements, Kafka sends and receives.
        kinds = {tags(s).get("span.kind") for s in trace["spans"]}
        assert {"client", "producer", "consumer"} <= kinds, (month, kinds)
        assert any(tags(s).get("db.system") == "postgresql" for s in trace["spans"]), month
        assert any("http.response.status_code" in tags(s) for s in trace["spans"]), month
        # Provider call spans name their provider; the LLMs' and the cascade's are here.
        for provider in ("gemini", "xai", "isbndb"):
            assert provider_spans(trace, provider), (month, provider)
        [generated] = decided(trace, "generate month", "outcome")
        assert tags(generated)["outcome"] == "BooksGenerated"
        assert tags(generated)["books.gemini"] > 0
        [resolved] = decided(trace, "resolve month", "resolved")
        counts = tags(resolved)
        assert (
            counts["resolved"] + counts["unresolved"] + counts["already_known"] == (counts["books"])
        )

    # The failing month: xAI's and ISBNdb's calls are marked ERROR, and the month's spans
    # record the failures as events.
    assert all(is_error(s) for s in provider_spans(failing, "xai"))
    assert any(is_error(s) for s in provider_spans(failing, "isbndb"))
    [generated] = decided(failing, "generate month", "outcome")
    assert "books.xai" not in tags(generated)
    assert not is_error(generated)  # Gemini answered: the month has books
    assert any(
        e.get("event") == "llm failed" and e.get("provider") == "xai" for e in events(generated)
    )
    [resolved] = decided(failing, "resolve month", "resolved")
    assert any(
        e.get("event") == "provider failed" and e.get("provider") == "isbndb"
        for e in events(resolved)
    )
    assert tags(resolved)["provider_failures"] > 0
    assert is_error(named(failing, "ask xai")[0])
    # The healthy month: no provider call failed for good.
    assert not [s for s in healthy["spans"] if is_error(s) and "provider" in tags(s)]
    assert tags(named(healthy, "generate month")[0])["books.xai"] > 0

    # No secret in anything exported: API keys (the harness's), the database password.
    password = urlsplit(settings.dsn).password
    secrets = {"sandbox-key", *([password] if password else [])}
    exported = json.dumps(traces)
    assert not [s for s in secrets if s in exported]
