"""The generator's handler in process: MonthScheduled in, one BooksGenerated (or
MonthGenerationFailed) out, an impossible month rejected; fake LLMs, a recording producer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.generator.app import Generator
from services.generator.fetch import LLM
from services.generator.logic import SYSTEM_INSTRUCTION
from shared.events import BooksGenerated, MonthGenerationFailed, MonthScheduled, make_envelope
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    ProviderError,
    ProviderStillFailing,
    ProviderUnavailable,
    RateLimited,
)
from shared.providers.models import LLMBook
from shared.providers.outage import Outages
from tests.fakes import AnsweringLLM, FailingLLM, RecordingProducer, drive, incoming

AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
EDUCATED = LLMBook(title="Educated", authors=("Tara Westover",), publication_year=2018,
                   publication_month=2, isbn="9780399590504")  # fmt: skip
EDUCATED_XAI = LLMBook(title="Educated", subtitle="A Memoir", authors=("Tara Westover",),
                       publisher="Random House", publication_year=2018)  # fmt: skip
BECOMING = LLMBook(title="Becoming", authors=("Michelle Obama",), publication_year=2018)
CIRCE = LLMBook(title="Circe", authors=("Madeline Miller",), publication_year=2018)


def scheduled(year: int = 2018, month: int = 2, at: datetime = AT) -> MonthScheduled:
    return MonthScheduled(
        envelope=make_envelope(
            MonthScheduled,
            producer="scheduler",
            correlation_id=f"month:{year:04d}-{month:02d}",
            occurred_at=at,
        ),
        year=year,
        month=month,
        prompt_variant="baseline",
        batch_size=20,
        attempt=2,
    )


def generator(
    *clients: AnsweringLLM | FailingLLM, timeout_s: float = 5.0, outages: Outages | None = None
) -> Generator:
    """`outages` defaults to one with no patience: a failing LLM counts as down at once."""
    names = ("gemini", "xai", "openai_compat")[: len(clients)]
    record = outages if outages is not None else Outages(patience_s=0)
    llms = [LLM(n, f"{n}-model", c, record) for n, c in zip(names, clients, strict=True)]
    return Generator(llms, timeout_s)


async def test_both_llms_answer_one_books_generated_with_the_books_deduplicated() -> None:
    gemini, xai = AnsweringLLM([EDUCATED, BECOMING]), AnsweringLLM([EDUCATED_XAI, CIRCE])
    event = scheduled()
    out = await drive(generator(gemini, xai).handle, event)

    assert out.rejects == []
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert (books.year, books.month, books.attempt) == (2018, 2, 2)
    assert books.envelope.causation_id == event.envelope.event_id
    assert books.envelope.correlation_id == "month:2018-02"
    by_title = {b.title: b for b in books.books}
    assert sorted(by_title) == ["Becoming", "Circe", "Educated"]
    educated = by_title["Educated"]
    assert educated.source_providers == ["gemini", "xai"]
    assert (educated.isbn, educated.publisher) == ("9780399590504", "Random House")
    assert [(c.provider, c.books_returned, c.error) for c in books.provider_calls] == [
        ("gemini", 2, None),
        ("xai", 2, None),
    ]
    # Both were asked the same month prompt, with the bibliographer's instruction.
    for llm in (gemini, xai):
        [(prompt, system)] = llm.prompts
        assert "February 2018 (2018-02)" in prompt and system == SYSTEM_INSTRUCTION


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("xai", "503 after 7 attempts"),
        RateLimited("xai", "429 after 7 attempts", retry_after_s=None),
    ],
    ids=["5xx", "429"],
)
async def test_an_llm_still_failing_makes_the_month_wait_for_it(error: ProviderError) -> None:
    """Within its patience a transient failure decides nothing: the batch raises a transient
    error (the worker retries it) and no event is sent; an answer later ends the wait."""
    outages = Outages(patience_s=600)
    producer = RecordingProducer()
    handle = generator(AnsweringLLM([CIRCE]), FailingLLM(error), outages=outages).handle
    with pytest.raises(ProviderStillFailing, match="waiting for xai"):
        await drive_with(handle, producer, scheduled())
    assert producer.sent == []
    assert "xai" in outages.since

    out = await drive(generator(AnsweringLLM([CIRCE]), AnsweringLLM([BECOMING]),
                                outages=outages).handle, scheduled())  # fmt: skip
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert sorted(b.title for b in books.books) == ["Becoming", "Circe"]
    assert outages.since == {}


async def test_an_llm_down_past_its_patience_is_decided_without_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    outages = Outages(patience_s=600, clock=lambda: now)
    outages.since["xai"] = now - timedelta(seconds=601)
    failing = FailingLLM(ProviderUnavailable("xai", "503 after 7 attempts"))
    out = await drive(generator(AnsweringLLM([CIRCE]), failing, outages=outages).handle,
                      scheduled())  # fmt: skip
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert [b.title for b in books.books] == ["Circe"]
    assert outages.down == {"xai"}
    assert any("xai has failed for 601s" in r.getMessage() for r in caplog.records)


async def test_a_spent_daily_quota_is_an_answer_not_a_wait() -> None:
    quota = DailyQuotaExhausted("gemini", "daily quota", datetime(2024, 5, 2, tzinfo=UTC))
    out = await drive(generator(FailingLLM(quota), AnsweringLLM([CIRCE]),
                                outages=Outages(patience_s=600)).handle, scheduled())  # fmt: skip
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert [b.title for b in books.books] == ["Circe"]


async def drive_with(handle: Any, producer: RecordingProducer, *events: MonthScheduled) -> None:
    """`drive` with the producer kept outside, for a batch whose handling raises."""
    await handle([incoming(event, offset) for offset, event in enumerate(events)], producer)


async def test_one_llm_down_costs_only_its_books() -> None:
    failing = FailingLLM(ProviderUnavailable("xai", "503 after 3 attempts"))
    out = await drive(generator(AnsweringLLM([CIRCE]), failing).handle, scheduled())
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert [b.title for b in books.books] == ["Circe"]
    assert books.provider_calls[1].error == "ProviderUnavailable: xai: 503 after 3 attempts"


async def test_all_llms_failing_is_a_month_generation_failure() -> None:
    gemini = FailingLLM(RateLimited("gemini", "429", retry_after_s=None))
    slow = AnsweringLLM([CIRCE], delay_s=1.0)  # past its timeout: an answer that never came
    out = await drive(generator(gemini, slow, timeout_s=0.05).handle, scheduled())

    assert out.rejects == []
    [failed] = out.sent
    assert isinstance(failed, MonthGenerationFailed)
    assert (failed.year, failed.month, failed.attempt) == (2018, 2, 2)
    assert failed.reason == (
        "every LLM failed (gemini: RateLimited: gemini: 429; xai: timed out after 0s)"
    )
    assert [(c.provider, c.books_returned) for c in failed.provider_calls] == [
        ("gemini", 0),
        ("xai", 0),
    ]


async def test_an_impossible_month_is_rejected_and_no_llm_is_asked() -> None:
    gemini = AnsweringLLM([CIRCE])
    thirteen = scheduled(month=13)
    out = await drive(generator(gemini).handle, thirteen, scheduled())

    assert [r.incoming.event for r in out.rejects] == [thirteen]
    assert out.reasons() == ["impossible MonthScheduled: month 13 is outside 1..12"]
    assert len(out.sent) == 1 and len(gemini.prompts) == 1  # the valid month still ran


async def test_the_month_is_judged_as_of_the_event_not_today() -> None:
    """A replay judges an event as its first delivery did: 'the future' is the event's."""
    ahead = scheduled(2019, 4, at=datetime(2019, 3, 15, tzinfo=UTC))
    current = scheduled(2019, 3, at=datetime(2019, 3, 15, tzinfo=UTC))
    out = await drive(generator(AnsweringLLM([CIRCE])).handle, ahead, current)
    assert out.reasons() == ["impossible MonthScheduled: 2019-04 is in the future"]
    assert [type(e) for e in out.sent] == [BooksGenerated]


@dataclass
class GarbledThenAnswering:
    """An LLM whose first `garbled` answers are cut mid-text (valid reply, broken model text)."""

    garbled: int
    books: list[LLMBook]
    asks: int = 0

    async def generate_books(self, prompt: str, *, system: str | None = None) -> list[LLMBook]:
        self.asks += 1
        if self.asks <= self.garbled:
            raise MalformedResponse("xai", "the model's JSON is cut off")
        return self.books


async def test_a_garbled_llm_answer_is_asked_again() -> None:
    twice = GarbledThenAnswering(garbled=2, books=[BECOMING])
    out = await drive(generator(AnsweringLLM([CIRCE]), twice,  # type: ignore[arg-type]
                                outages=Outages(patience_s=600)).handle, scheduled())  # fmt: skip
    [books] = out.sent
    assert isinstance(books, BooksGenerated)
    assert sorted(b.title for b in books.books) == ["Becoming", "Circe"]
    assert twice.asks == 3

    always = GarbledThenAnswering(garbled=99, books=[BECOMING])
    with pytest.raises(ProviderStillFailing):  # garbled every time: the month waits
        await drive(generator(AnsweringLLM([CIRCE]), always,  # type: ignore[arg-type]
                              outages=Outages(patience_s=600)).handle, scheduled())  # fmt: skip
    assert always.asks == 3
