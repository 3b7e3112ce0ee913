"""Which failures make an input wait for its provider, and when a provider counts as down:
the pure decisions of shared.providers.outage, the retry deadline, and the callers' wrappers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.enricher.fetch import timed
from services.resolver.fetch import waiting_on_outages
from shared.events import GeneratedBook
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    NotFound,
    ProviderError,
    ProviderStillFailing,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from shared.providers.outage import Outages, gather_all, must_wait
from shared.providers.spec import RetryPolicy

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRANSIENT = [
    ProviderUnavailable("p", "timed out after 20s; gave up after 7 attempts"),
    RateLimited("p", "rate limited (429) after 7 attempts", retry_after_s=1.0),
    MalformedResponse("p", "body is not JSON"),
]
DEFINITIVE = [
    NotFound("p", "not found (404)"),
    DailyQuotaExhausted("p", "daily quota", NOW + timedelta(hours=3)),
    RequestRejected("p", "request rejected (400)", 400),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_a_transient_failure_waits_within_the_patience_only(exc: ProviderError) -> None:
    assert must_wait(exc, NOW, NOW, 600)
    assert must_wait(exc, NOW - timedelta(seconds=599), NOW, 600)
    assert not must_wait(exc, NOW - timedelta(seconds=600), NOW, 600)
    assert not must_wait(exc, NOW, NOW, 0)  # no patience: never wait


@pytest.mark.parametrize("exc", DEFINITIVE, ids=lambda e: type(e).__name__)
def test_a_definitive_answer_never_waits(exc: ProviderError) -> None:
    assert not must_wait(exc, NOW, NOW, 600)


def test_outages_wait_then_call_the_provider_down_once_then_recover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [NOW]
    outages = Outages(patience_s=60, clock=lambda: clock[0])
    error = ProviderUnavailable("isbndb", "503 after 7 attempts")
    with pytest.raises(ProviderStillFailing, match="waiting for isbndb") as raised:
        outages.failed(error)
    assert raised.value.cause is error and raised.value.provider == "isbndb"
    clock[0] = NOW + timedelta(seconds=59)
    with pytest.raises(ProviderStillFailing):
        outages.failed(error)
    assert outages.since == {"isbndb": NOW}  # since the first failure, not the latest

    clock[0] = NOW + timedelta(seconds=61)
    outages.failed(error)  # down: returns, the caller decides without it
    outages.failed(error)
    assert outages.down == {"isbndb"}
    assert [r.levelname for r in caplog.records if "treated as down" in r.getMessage()] == ["ERROR"]

    outages.answered("isbndb")
    assert outages.down == set() and outages.since == {}
    with pytest.raises(ProviderStillFailing):  # a new outage: patience from now
        outages.failed(error)


def test_an_answer_in_between_restarts_the_patience() -> None:
    clock = [NOW]
    outages = Outages(patience_s=60, clock=lambda: clock[0])
    error = RateLimited("google_books", "429", retry_after_s=None)
    for step in range(10):  # a storm: failures 30 s apart, each followed by an answer
        clock[0] = NOW + timedelta(seconds=30 * step)
        with pytest.raises(ProviderStillFailing):
            outages.failed(error)
        outages.answered("google_books")
    assert outages.down == set()


@pytest.mark.parametrize("exc", DEFINITIVE, ids=lambda e: type(e).__name__)
def test_a_definitive_failure_is_an_answer(exc: ProviderError) -> None:
    outages = Outages(patience_s=60, clock=lambda: NOW, since={"p": NOW - timedelta(hours=1)})
    outages.failed(exc)  # returns: the caller decides on it
    assert outages.since == {}


def test_retries_stop_at_the_count_or_the_deadline() -> None:
    policy = RetryPolicy(max_retries=6, deadline_s=30)
    assert not policy.gives_up(0, elapsed_s=0, delay_s=0.5)
    assert not policy.gives_up(5, elapsed_s=20, delay_s=9.9)
    assert policy.gives_up(6, elapsed_s=0, delay_s=0)
    assert policy.gives_up(2, elapsed_s=25, delay_s=6)  # the next attempt would start at 31 s


async def test_gather_all_lets_every_sibling_finish_before_raising() -> None:
    finished: list[str] = []

    async def fails() -> None:
        raise ProviderStillFailing(ProviderUnavailable("xai", "503"))

    async def slow() -> str:
        await asyncio.sleep(0.05)
        finished.append("slow")
        return "slow"

    with pytest.raises(ProviderStillFailing):
        await gather_all(fails(), slow())
    assert finished == ["slow"]
    assert await gather_all(slow(), slow()) == ["slow", "slow"]


BOOK = GeneratedBook(book_id="bk1", title="Circe", authors=["Madeline Miller"])


async def test_a_cascade_search_waits_for_its_provider_instead_of_falling_through() -> None:
    outages = Outages(patience_s=600, clock=lambda: NOW)

    async def throttled(book: GeneratedBook) -> list[object]:
        raise RateLimited("isbndb", "429 after 7 attempts", retry_after_s=None)

    async def unknown(book: GeneratedBook) -> list[object]:
        raise NotFound("isbndb", "404")

    with pytest.raises(ProviderStillFailing):
        await waiting_on_outages("isbndb", throttled, outages)(BOOK)  # type: ignore[arg-type]
    with pytest.raises(NotFound):  # an answer: the cascade moves on
        await waiting_on_outages("isbndb", unknown, outages)(BOOK)  # type: ignore[arg-type]
    assert outages.since == {}


async def test_the_enricher_waits_for_a_failing_source_and_drops_a_down_one() -> None:
    async def failing() -> dict[str, object]:
        raise ProviderUnavailable("wikidata", "503 after 7 attempts")

    timings: dict[str, int] = {}
    failures: dict[str, str] = {}
    waiting = Outages(patience_s=600, clock=lambda: NOW)
    with pytest.raises(ProviderStillFailing):
        await timed("wikidata", failing(), {}, timings, failures, waiting)
    assert failures == {}

    down = Outages(patience_s=0, clock=lambda: NOW)
    assert await timed("wikidata", failing(), {}, timings, failures, down) == {}
    assert failures == {"wikidata": "ProviderUnavailable: wikidata: 503 after 7 attempts"}


def test_the_outage_gauge_says_how_long_a_provider_has_failed() -> None:
    from shared.metrics import PROVIDER_OUTAGE

    clock = [NOW]
    outages = Outages(patience_s=600, clock=lambda: clock[0])
    error = ProviderUnavailable("gauge_probe", "503")
    with pytest.raises(ProviderStillFailing):
        outages.failed(error)
    clock[0] = NOW + timedelta(seconds=42)
    with pytest.raises(ProviderStillFailing):
        outages.failed(error)
    assert PROVIDER_OUTAGE.labels("gauge_probe")._value.get() == 42
    outages.answered("gauge_probe")
    assert PROVIDER_OUTAGE.labels("gauge_probe")._value.get() == 0
