"""The generator service: MonthScheduled -> every configured LLM at once -> BooksGenerated."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry import trace

from services.generator.logic import SYSTEM_INSTRUCTION, build_prompt
from services.generator.outcome import Answer, generation_outcome
from shared.events import MonthScheduled
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.months import InvalidMonth, validate_month_request
from shared.providers import LLMProviders, ProviderError, build_llm_providers
from shared.providers.models import LLMBook
from shared.settings import Settings
from shared.telemetry import context_from_headers, correlated, inject_headers

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.generator")


class BookSuggester(Protocol):
    async def generate_books(self, prompt: str, *, system: str | None = None) -> list[LLMBook]: ...


@dataclass(frozen=True)
class LLM:
    provider: str
    model: str
    client: BookSuggester


def configured_llms(providers: LLMProviders) -> list[LLM]:
    """Every LLM with credentials (or, for a local OpenAI-compatible server, a base URL)."""
    clients = {
        "gemini": providers.gemini,
        "xai": providers.xai,
        "openai_compat": providers.openai_compat,
    }
    return [LLM(name, c.model, c) for name, c in clients.items() if c is not None]


async def ask(llm: LLM, prompt: str, timeout_s: float) -> Answer:
    """One provider, bounded by its own timeout; a failure is an answer too."""
    started = time.monotonic()
    try:
        books = await asyncio.wait_for(
            llm.client.generate_books(prompt, system=SYSTEM_INSTRUCTION), timeout_s
        )
        result, error = tuple(books), None
    except TimeoutError:
        result, error = None, f"timed out after {timeout_s:.0f}s"
    except ProviderError as exc:
        result, error = None, f"{type(exc).__name__}: {exc}"
    return Answer(llm.provider, llm.model, result, error, int((time.monotonic() - started) * 1000))


class Generator:
    def __init__(self, settings: Settings, llms: Sequence[LLM]) -> None:
        self.settings = settings
        self.llms = llms

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        results = await asyncio.gather(*(self._one(item, producer) for item in batch))
        return [r for r in results if r is not None]

    async def _one(self, item: Incoming, producer: EventProducer) -> Reject | None:
        scheduled = item.event
        if not isinstance(scheduled, MonthScheduled):
            return Reject(item, f"generator does not handle {type(scheduled).__name__}")
        try:
            validate_month_request(
                scheduled.year,
                scheduled.month,
                scheduled.prompt_variant,
                scheduled.batch_size,
                datetime.now(UTC).date(),
            )
        except InvalidMonth as exc:
            return Reject(item, f"impossible MonthScheduled: {exc}")
        parent = context_from_headers(item.record.headers)
        with (
            correlated(scheduled.envelope.correlation_id),
            tracer.start_as_current_span(
                "generate month",
                context=parent,
                attributes={"month": f"{scheduled.year}-{scheduled.month:02d}"},
            ),
        ):
            prompt = build_prompt(
                scheduled.year, scheduled.month, scheduled.prompt_variant, scheduled.batch_size
            )
            answers = await asyncio.gather(
                *(ask(llm, prompt, self.settings.llm.timeout_s) for llm in self.llms)
            )
            outcome = generation_outcome(scheduled, answers, datetime.now(UTC))
            await producer.send(outcome, inject_headers())
            calls = ", ".join(
                f"{a.provider} {len(a.books) if a.books is not None else a.error}" for a in answers
            )
            log.info(
                "%d-%02d attempt %d: %s (%s)",
                scheduled.year,
                scheduled.month,
                scheduled.attempt,
                type(outcome).__name__,
                calls,
            )
        return None


async def run(settings: Settings) -> None:
    providers = build_llm_providers(settings)
    try:
        generator = Generator(settings, configured_llms(providers))
        spec = WorkerSpec(
            "generator", [topic_for(settings, MonthScheduled)], generator.handle, max_batch=8
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
