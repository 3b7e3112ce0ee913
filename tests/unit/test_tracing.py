"""Traces in process: which spans may start a trace, and what the services' spans say about a
month (generator, resolver, enricher handlers with fakes; the projector's month spans)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka.structs import ConsumerRecord
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.enricher.app import Enricher
from services.generator.app import Generator
from services.generator.fetch import LLM
from services.projector.app import project_spans
from services.projector.logic.events import Positioned
from services.projector.store import BatchResult
from services.resolver.app import Resolver
from services.resolver.logic.resolution import CASCADE
from shared.events import (
    BooksGenerated,
    Event,
    GeneratedBook,
    ISBNResolved,
    MonthScheduled,
    make_envelope,
)
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming
from shared.providers.errors import ProviderUnavailable
from shared.providers.models import BookRecord, LLMBook
from shared.providers.outage import Outages
from shared.telemetry import inject_headers
from shared.tracing import by_trace, links_to, parent_of
from tests.fakes import (
    AnsweringLLM,
    FailingLLM,
    InMemoryCandidateWorks,
    InMemoryKnownBooks,
    InMemoryMetadata,
    InMemorySearch,
    RecordingProducer,
)
from tests.spans import installed_exporter, named

AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
tracer = trace.get_tracer("tests.tracing")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return installed_exporter()


def month_trace(month: str) -> list[tuple[str, bytes]]:
    """The headers a month's events carry: the context of a "schedule month" root span."""
    with tracer.start_as_current_span("schedule month", attributes={"month": month}):
        return inject_headers()


def incoming(event: Event, headers: list[tuple[str, bytes]], offset: int = 0) -> Incoming:
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="t", partition=0, offset=offset, timestamp=0, timestamp_type=0, key=None,
        value=b"", checksum=None, serialized_key_size=0, serialized_value_size=0,
        headers=tuple(headers),
    )  # fmt: skip
    return Incoming(event, record)


async def handle(handler: Any, items: Sequence[Incoming]) -> RecordingProducer:
    producer = RecordingProducer()
    await handler(items, cast(EventProducer, producer))
    return producer


def trace_of(headers: list[tuple[str, bytes]]) -> int:
    return trace.get_current_span(parent_of(headers)).get_span_context().trace_id


# --- which spans start a trace -----------------------------------------------------------------


def test_library_spans_never_start_a_trace_but_join_one(spans: InMemorySpanExporter) -> None:
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
        pass
    with tracer.start_as_current_span("t receive", kind=SpanKind.CONSUMER):
        pass
    assert spans.get_finished_spans() == ()  # an idle poll, a tick's query: not recorded

    with (
        tracer.start_as_current_span("resolve month") as root,
        tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as child,
    ):
        pass
    assert [s.name for s in spans.get_finished_spans()] == ["SELECT", "resolve month"]
    assert child.get_span_context().trace_id == root.get_span_context().trace_id


def test_records_group_by_trace_and_links_are_distinct(spans: InMemorySpanExporter) -> None:
    may, june = month_trace("2018-05"), month_trace("2018-06")
    groups = by_trace([may, june, may, ()])
    assert [indexes for _, indexes in groups.values()] == [[0, 2], [1]]
    assert len(links_to([may, june, may, ()])) == 2


# --- generator ---------------------------------------------------------------------------------


def scheduled(month: int) -> MonthScheduled:
    return MonthScheduled(
        envelope=make_envelope(MonthScheduled, producer="scheduler",
                               correlation_id=f"month:2018-{month:02d}", occurred_at=AT),
        year=2018, month=month, prompt_variant="baseline", batch_size=20, attempt=1,
    )  # fmt: skip


def llms(*clients: AnsweringLLM | FailingLLM) -> list[LLM]:
    names = ("gemini", "xai", "openai_compat")[: len(clients)]
    down_at_once = Outages(patience_s=0)  # a failed LLM is decided without (not waited for)
    return [LLM(n, f"{n}-model", c, down_at_once) for n, c in zip(names, clients, strict=True)]


async def test_generate_month_counts_books_per_llm_and_marks_a_failed_llm(
    spans: InMemorySpanExporter,
) -> None:
    book = LLMBook(title="Circe", authors=("Madeline Miller",), publication_year=2018)
    failing = FailingLLM(ProviderUnavailable("xai", "POST /chat/completions: HTTP 503"))
    headers = month_trace("2018-04")
    await handle(
        Generator(llms(AnsweringLLM([book]), failing), 5.0).handle,
        [incoming(scheduled(4), headers)],
    )

    [month] = named(spans.get_finished_spans(), "generate month")
    assert month.context.trace_id == trace_of(headers)
    attributes = dict(month.attributes or {})
    assert attributes["month"] == "2018-04"
    assert attributes["outcome"] == "BooksGenerated"
    assert (attributes["books.gemini"], attributes["books"], attributes["llms.failed"]) == (1, 1, 1)
    assert "books.xai" not in attributes
    [event] = [e for e in month.events if e.name == "llm failed"]
    assert (event.attributes or {})["provider"] == "xai"
    assert "HTTP 503" in str((event.attributes or {})["error"])
    assert month.status.status_code is not StatusCode.ERROR  # the month still has books

    [ask_xai] = named(spans.get_finished_spans(), "ask xai")
    assert ask_xai.status.status_code is StatusCode.ERROR
    assert ask_xai.parent is not None and ask_xai.parent.span_id == month.context.span_id
    [ask_gemini] = named(spans.get_finished_spans(), "ask gemini")
    assert (ask_gemini.attributes or {})["books"] == 1


async def test_generate_month_is_an_error_when_every_llm_failed(
    spans: InMemorySpanExporter,
) -> None:
    down = FailingLLM(ProviderUnavailable("gemini", "HTTP 500"))
    await handle(
        Generator(llms(down, FailingLLM(ProviderUnavailable("xai", "HTTP 500"))), 5.0).handle,
        [incoming(scheduled(5), month_trace("2018-05"))],
    )
    [month] = named(spans.get_finished_spans(), "generate month")
    assert (month.attributes or {})["outcome"] == "MonthGenerationFailed"
    assert month.status.status_code is StatusCode.ERROR
    assert sorted((e.attributes or {})["provider"] for e in month.events) == ["gemini", "xai"]


# --- resolver ----------------------------------------------------------------------------------

CIRCE = GeneratedBook(book_id="bk-circe", title="Circe", authors=["Madeline Miller"],
                      source_providers=["xai"])  # fmt: skip
INVENTED = GeneratedBook(book_id="bk-invented", title="The Lighthouse Cartographer",
                         authors=["Ines Halvorsen"], source_providers=["gemini"])  # fmt: skip


async def test_resolve_month_counts_outcomes_and_marks_provider_failures(
    spans: InMemorySpanExporter,
) -> None:
    hit = BookRecord(provider="google_books", isbn13="9780316556347", title="Circe",
                     authors=("Madeline Miller",))  # fmt: skip
    search = {p: InMemorySearch() for p in CASCADE}
    search["isbndb"] = InMemorySearch(error=ProviderUnavailable("isbndb", "HTTP 503"))
    search["google_books"] = InMemorySearch([hit])
    event = BooksGenerated(
        envelope=make_envelope(BooksGenerated, producer="generator",
                               correlation_id="month:2018-03", occurred_at=AT),
        year=2018, month=3, prompt_variant="baseline", books=[CIRCE], provider_calls=[],
    )  # fmt: skip
    headers = month_trace("2018-03")
    resolver = Resolver(InMemoryKnownBooks(), dict(search), concurrency=4)
    await handle(resolver.handle, [incoming(event, headers)])

    finished = spans.get_finished_spans()
    [month] = named(finished, "resolve month")
    assert month.context.trace_id == trace_of(headers)
    attributes = dict(month.attributes or {})
    assert (attributes["resolved"], attributes["unresolved"], attributes["already_known"]) == (
        1,
        0,
        0,
    )
    assert attributes["provider_failures"] == 1
    [failed] = [e for e in month.events if e.name == "provider failed"]
    assert (failed.attributes or {})["provider"] == "isbndb"
    [cascade] = named(finished, "cascade")
    assert cascade.parent is not None and cascade.parent.span_id == month.context.span_id
    assert (cascade.attributes or {})["provider"] == "google_books"
    assert [e.name for e in cascade.events] == ["provider failed"]


# --- enricher ----------------------------------------------------------------------------------


def isbn_resolved(month: int, isbn13: str) -> ISBNResolved:
    return ISBNResolved(
        envelope=make_envelope(ISBNResolved, producer="resolver",
                               correlation_id=f"month:2018-{month:02d}", occurred_at=AT),
        year=2018, month=month, book=CIRCE, month_book_count=2, outcome="resolved",
        isbn13=isbn13, provider="google_books", attempts=[],
    )  # fmt: skip


async def test_enrich_spans_carry_the_month_and_the_batch_links_every_month(
    spans: InMemorySpanExporter,
) -> None:
    april, may = month_trace("2018-04"), month_trace("2018-05")
    items = [
        incoming(isbn_resolved(4, "9780316556347"), april, 0),
        incoming(isbn_resolved(5, "9780399590504"), may, 1),
    ]
    await handle(Enricher(InMemoryCandidateWorks(), InMemoryMetadata()).handle, items)

    finished = spans.get_finished_spans()
    [batch] = named(finished, "enrich batch")
    assert batch.parent is None
    assert (batch.attributes or {})["months"] == ("2018-04", "2018-05")
    assert {link.context.trace_id for link in batch.links} == {trace_of(april), trace_of(may)}
    by_month = {(s.attributes or {})["month"]: s for s in named(finished, "enrich isbn")}
    assert sorted(by_month) == ["2018-04", "2018-05"]
    assert by_month["2018-04"].context.trace_id == trace_of(april)
    assert by_month["2018-05"].context.trace_id == trace_of(may)
    assert [link.context.span_id for link in by_month["2018-04"].links] == [batch.context.span_id]


# --- projector ---------------------------------------------------------------------------------


def raw(offset: int, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return incoming(scheduled(1), headers, offset).record


def test_the_projector_joins_each_month_trace_of_its_batch(spans: InMemorySpanExporter) -> None:
    april, may = month_trace("2018-04"), month_trace("2018-05")
    records = [raw(0, april), raw(1, may), raw(2, april), raw(3, [])]
    positioned = [
        Positioned("t", 0, 0, "BooksGenerated", {"year": 2018, "month": 4}),
        Positioned("t", 0, 1, "ISBNResolved", {"year": 2018, "month": 5}),
        Positioned("t", 0, 2, "ISBNResolved", {"year": 2018, "month": 4}),
        Positioned("t", 0, 3, "ISBNResolved", {"year": 2018, "month": 6}),
    ]
    with tracer.start_as_current_span("apply batch", context=otel_context.Context()) as batch:
        pass
    project_spans(
        records, positioned, BatchResult(applied=4, skipped=0), 0, batch.get_span_context()
    )

    by_month = {
        (s.attributes or {})["month"]: s for s in named(spans.get_finished_spans(), "project month")
    }
    assert sorted(by_month) == ["2018-04", "2018-05"]  # the record without a context: no span
    april_span = by_month["2018-04"]
    assert april_span.context.trace_id == trace_of(april)
    attributes = dict(april_span.attributes or {})
    assert (attributes["events"], attributes["events.BooksGenerated"]) == (2, 1)
    assert attributes["events.ISBNResolved"] == 1
    assert [link.context.span_id for link in april_span.links] == [batch.get_span_context().span_id]
