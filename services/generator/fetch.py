"""The generator's provider calls: the configured LLMs and one bounded question to each."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from services.generator.logic import SYSTEM_INSTRUCTION, Answer
from shared.providers import LLMProviders, ProviderError
from shared.providers.models import LLMBook


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
