"""The metric helpers: consumer lag, the table-derived gauges, provider calls counted once in the
shared transport by outcome, and the resolver's books counted only once their batch committed."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from services.resolver.app import Resolver
from shared.metrics import (
    ConsumerLag,
    lag,
    months_by_status,
    quota_remaining,
    resolution_rate,
    samples,
    set_table_gauges,
)
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    call_outcome,
)
from shared.providers.http import HttpTransport
from shared.providers.spec import ProviderSpec, RetryPolicy
from tests.fakes import InMemoryKnownBooks, drive
from tests.unit.test_resolver_handle import CIRCE, INVENTED, generated, searches


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- pure helpers --------------------------------------------------------------------------------


def test_lag_is_highwater_minus_position_never_negative_unknown_until_fetched() -> None:
    assert lag(10, 7) == 3
    assert lag(10, 10) == 0
    assert lag(10, 12) == 0  # a position past a stale high-water mark is not negative lag
    assert lag(None, 3) is None and lag(5, None) is None


def test_months_by_status_names_every_status_with_zero_for_the_absent() -> None:
    assert months_by_status({"completed": 3, "retry": 1}) == {
        "pending": 0,
        "processing": 0,
        "completed": 3,
        "failed": 0,
        "retry": 1,
    }


def test_quota_remaining_is_limit_minus_used_and_zero_once_exhausted() -> None:
    assert quota_remaining(13_000, 120, exhausted=False) == 12_880
    assert quota_remaining(100, 130, exhausted=False) == 0
    assert quota_remaining(13_000, 120, exhausted=True) == 0


def test_resolution_rate_is_found_over_generated_and_nan_before_any_book() -> None:
    assert resolution_rate(3, 4) == 0.75
    assert math.isnan(resolution_rate(0, 0))


def test_table_gauges_are_set_for_every_status_and_provider() -> None:
    set_table_gauges({"completed": 2}, found=9, generated=12, quotas={"isbndb": (50, 8, False)})
    assert value("alexandria_months", status="completed") == 2
    assert value("alexandria_months", status="pending") == 0
    assert REGISTRY.get_sample_value("alexandria_months", {"status": "failed"}) == 0
    assert value("alexandria_resolution_rate") == 0.75
    assert value("alexandria_quota_remaining", provider="isbndb") == 42


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (NotFound("p", "x"), "not_found"),
        (DailyQuotaExhausted("p", "x", datetime(2030, 1, 1, tzinfo=UTC)), "quota"),
        (RateLimited("p", "x", None), "rate_limited"),
        (ProviderUnavailable("p", "x"), "unavailable"),
        (MalformedResponse("p", "x"), "malformed"),
        (RequestRejected("p", "x", 400), "error"),
        (ProviderError("p", "x"), "error"),
        (OSError("pool gone"), "error"),
    ],
)
def test_call_outcome_labels(error: Exception, outcome: str) -> None:
    assert call_outcome(error) == outcome


def test_samples_parses_a_metrics_page() -> None:
    page = (
        "# HELP x_total X\n# TYPE x_total counter\n"
        'x_total{a="1",b="2"} 3.0\nx_total{a="2",b="2"} 4.0\n'
    )
    assert samples(page) == {
        ("x_total", (("a", "1"), ("b", "2"))): 3.0,
        ("x_total", (("a", "2"), ("b", "2"))): 4.0,
    }


# --- consumer lag --------------------------------------------------------------------------------


class FakeConsumer:
    def __init__(self, partitions: dict[TopicPartition, tuple[int | None, int]]) -> None:
        self.partitions = partitions

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.partitions[partition][0]

    async def position(self, partition: TopicPartition) -> int:
        return self.partitions[partition][1]


def lag_of(partition: int) -> float | None:
    labels = {"group": "unit.group", "topic": "unit.lag", "partition": str(partition)}
    return REGISTRY.get_sample_value("alexandria_consumer_lag", labels)


async def test_consumer_lag_per_partition_and_dropped_when_revoked() -> None:
    a, b, c = (TopicPartition("unit.lag", p) for p in range(3))
    gauge = ConsumerLag("unit.group")
    consumer = FakeConsumer({a: (10, 4), b: (7, 7), c: (None, 0)})
    await gauge.update(consumer)
    assert (lag_of(0), lag_of(1), lag_of(2)) == (6, 0, None)  # 2: nothing fetched yet

    consumer.partitions = {b: (9, 9)}  # a revoked, c still never fetched
    await gauge.update(consumer)
    assert (lag_of(0), lag_of(1), lag_of(2)) == (None, 0, None)


# --- provider calls, counted in the transport ----------------------------------------------------


def transport(handler: httpx.MockTransport) -> HttpTransport:
    async def no_sleep(_: float) -> None:
        return None

    return HttpTransport(
        client=httpx.AsyncClient(transport=handler),
        retry=RetryPolicy(max_retries=1),
        sleep=no_sleep,
    )


SPEC = ProviderSpec("unit_llm", "http://llm.test", timeout_s=1, max_concurrency=2)


async def test_every_request_is_counted_once_by_outcome_retries_included() -> None:
    answers = {
        "/ok": [httpx.Response(200, json={"a": 1})],
        "/missing": [httpx.Response(404)],
        "/down": [httpx.Response(503), httpx.Response(503)],
        "/flaky": [httpx.Response(503), httpx.Response(200, json={})],
        "/html": [httpx.Response(200, text="<html>"), httpx.Response(200, text="<html>")],
        "/busy": [httpx.Response(429), httpx.Response(429)],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.path].pop(0)

    before = {
        o: value("alexandria_provider_calls_total", provider="unit_llm", outcome=o)
        for o in ("ok", "not_found", "unavailable", "malformed", "rate_limited")
    }
    async with transport(httpx.MockTransport(handler)) as http:
        assert await http.request_json(SPEC, "GET", "/ok") == {"a": 1}
        assert await http.request_json(SPEC, "GET", "/flaky") == {}
        for path, error in (
            ("/missing", NotFound),
            ("/down", ProviderUnavailable),
            ("/html", MalformedResponse),
            ("/busy", RateLimited),
        ):
            with pytest.raises(error):
                await http.request_json(SPEC, "GET", path)
    after = {
        o: value("alexandria_provider_calls_total", provider="unit_llm", outcome=o) - before[o]
        for o in before
    }
    assert after == {"ok": 2, "not_found": 1, "unavailable": 1, "malformed": 1, "rate_limited": 1}


# --- the resolver's books ------------------------------------------------------------------------


async def test_books_are_counted_once_their_batch_is_committed() -> None:
    resolver = Resolver(InMemoryKnownBooks([]), dict(searches()), concurrency=2)
    before = value("alexandria_books_total", outcome="unresolved")
    await drive(resolver.handle, generated(CIRCE, INVENTED))
    assert value("alexandria_books_total", outcome="unresolved") == before  # not committed yet
    await drive(resolver.handle, generated(CIRCE, INVENTED))  # the batch redone after an abort
    resolver.committed()
    assert value("alexandria_books_total", outcome="unresolved") == before + 2
    resolver.committed()  # nothing new committed: nothing counted twice
    assert value("alexandria_books_total", outcome="unresolved") == before + 2
