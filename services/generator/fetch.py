"""The generator's provider calls: the configured LLMs and one bounded question to each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import trace

from services.generator.logic import SYSTEM_INSTRUCTION, Answer
from shared.providers import LLMProviders, ProviderError
from shared.providers.errors import MalformedResponse
from shared.providers.models import LLMBook
from shared.providers.outage import Outages
from shared.tracing import record_failure

tracer = trace.get_tracer("alexandria.generator")


class BookSuggester(Protocol):
    async def generate_books(self, prompt: str, *, system: str | None = None) -> list[LLMBook]: ...


@dataclass(frozen=True)
class LLM:
    provider: str
    model: str
    client: BookSuggester
    outages: Outages = field(default_factory=Outages)


def configured_llms(providers: LLMProviders) -> list[LLM]:
    """Every LLM with credentials (or, for a local OpenAI-compatible server, a base URL), with
    the transport's outage record: whether a month waits for a failing LLM."""
    clients = {
        "gemini": providers.gemini,
        "xai": providers.xai,
        "openai_compat": providers.openai_compat,
    }
    outages = providers.transport.outages
    return [LLM(name, c.model, c, outages) for name, c in clients.items() if c is not None]


MALFORMED_TRIES = 3
"""Asks per LLM call when its answer is a garbled text inside a valid reply: the transport
retries what it can see (status, body), not the model's text, so `ask` retries that itself."""


async def suggest(llm: LLM, prompt: str) -> list[LLMBook]:
    """The LLM's books; a malformed answer is asked again, up to MALFORMED_TRIES in all."""
    for attempt in range(1, MALFORMED_TRIES + 1):
        try:
            return await llm.client.generate_books(prompt, system=SYSTEM_INSTRUCTION)
        except MalformedResponse:
            if attempt == MALFORMED_TRIES:
                raise
    raise AssertionError("unreachable")


async def ask(llm: LLM, prompt: str, timeout_s: float) -> Answer:
    """One provider; a definitive failure (or one of an LLM down past its patience) is an
    answer too, a transient one raises ProviderStillFailing so the month waits for this LLM
    (the transport retries each timed-out or failed attempt up to its deadline first;
    `timeout_s` only bounds a call that outlives that). Its span ("ask <provider>") holds the
    provider's HTTP call and says how many books came, or the error."""
    started = time.monotonic()
    attributes = {"provider": llm.provider, "model": llm.model}
    with tracer.start_as_current_span(f"ask {llm.provider}", attributes=attributes) as span:
        try:
            books = await asyncio.wait_for(suggest(llm, prompt), timeout_s)
            result, error = tuple(books), None
            llm.outages.answered(llm.provider)
            span.set_attribute("books", len(result))
        except TimeoutError as exc:
            result, error = None, f"timed out after {timeout_s:.0f}s"
            record_failure(span, "llm failed", {"error": error}, error=exc, fail=True)
        except ProviderError as exc:
            result, error = None, f"{type(exc).__name__}: {exc}"
            record_failure(span, "llm failed", {"error": error}, error=exc, fail=True)
            llm.outages.failed(exc)  # raises while the month must wait for this LLM
    return Answer(llm.provider, llm.model, result, error, int((time.monotonic() - started) * 1000))
