"""Provider call spans against the sandbox: one span per call named for the provider and the
route, an httpx span per attempt under it, failures marked ERROR, and no configured key in
anything a span exports (happy paths, 5xx with retries, 429s, quota, wrong keys)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shared.providers import build_book_providers
from shared.providers.errors import ProviderError, ProviderUnavailable
from tests.providers.conftest import KEYS, Sandbox, provider_settings
from tests.providers.exercise import all_providers, exercise, wrong_key_settings
from tests.spans import installed_exporter, named, texts

tracer = trace.get_tracer("tests.providers")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return installed_exporter()


def _httpx_children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.parent is not None
        and s.parent.span_id == parent.context.span_id
        and s.instrumentation_scope is not None
        and "httpx" in s.instrumentation_scope.name
    ]


async def test_a_provider_call_is_one_span_with_an_httpx_span_per_attempt(
    sandbox: Sandbox, spans: InMemorySpanExporter
) -> None:
    book = sandbox.catalogue.books[0]
    providers = build_book_providers(provider_settings(sandbox))
    try:
        with tracer.start_as_current_span("resolve month"):
            await providers.isbndb.book(book.isbn13)
            await sandbox.knobs({"isbndb": {"error_rate": 1.0}})
            with pytest.raises(ProviderUnavailable):
                await providers.isbndb.book(book.isbn13)
    finally:
        await providers.aclose()

    finished = spans.get_finished_spans()
    ok, failed = named(finished, "isbndb GET /book/{isbn}")
    for span in (ok, failed):
        attributes = dict(span.attributes or {})
        assert attributes["provider"] == "isbndb"
        assert attributes["endpoint"] == f"/book/{book.isbn13}"
    assert dict(ok.attributes or {})["outcome"] == "ok"
    assert dict(ok.attributes or {})["attempts"] == 1
    assert dict(ok.attributes or {})["http.response.status_code"] == 200
    assert ok.status.status_code is not StatusCode.ERROR
    assert len(_httpx_children(finished, ok)) == 1

    attributes = dict(failed.attributes or {})
    assert attributes["attempts"] == 3  # HTTP_MAX_RETRIES=2 in these settings
    assert attributes["outcome"] == "retry"
    assert attributes["http.response.status_code"] >= 500
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events].count("attempt failed") == 3
    assert any(e.name == "exception" for e in failed.events)  # record_exception
    assert len(_httpx_children(finished, failed)) == 3


async def test_no_configured_key_lands_in_any_exported_span(
    sandbox: Sandbox, spans: InMemorySpanExporter
) -> None:
    settings = provider_settings(sandbox, http_retry_after_max_s=0.5, llm_timeout_s=0.3)
    providers = all_providers(settings)
    errors: list[BaseException] = []
    try:
        with tracer.start_as_current_span("happy paths"):
            await exercise(providers, sandbox, errors)
        assert errors == [], [str(e) for e in errors]
        await sandbox.knobs(
            {
                "isbndb": {"error_rate": 1.0},
                "google_books": {"rate_limit_429": 1},
                "gemini": {"daily_quota": 0},
                "xai": {"malformed_rate": 1.0},
            }
        )
        with tracer.start_as_current_span("error paths"):
            await exercise(providers, sandbox, errors)
    finally:
        await providers.aclose()
    await sandbox.reset()
    wrong = wrong_key_settings(sandbox)
    bad = all_providers(wrong)
    try:
        with tracer.start_as_current_span("wrong keys"):
            await exercise(bad, sandbox, errors)
    finally:
        await bad.aclose()
    assert any(isinstance(e, ProviderError) for e in errors)

    finished = spans.get_finished_spans()
    provider_spans = {s.name for s in finished if (s.attributes or {}).get("provider")}
    # Every keyed provider was called and traced, Google's key rides in the query string.
    for name in ("isbndb", "google_books", "gemini", "xai", "openai_compat"):
        assert any(n.startswith(f"{name} ") for n in provider_spans), (name, provider_spans)
    google_urls = [
        str(v)
        for s in finished
        for k, v in (s.attributes or {}).items()
        if k in ("url.full", "http.url") and "google-books" in str(v)
    ]
    assert google_urls, "the httpx spans record the URL they were sent to"
    secrets = {*KEYS.values(), *(k[::-1] for k in KEYS.values())}
    leaks: list[Any] = [
        (span.name, text) for span in finished for text in texts(span) for s in secrets if s in text
    ]
    assert leaks == []
