"""The part of an LLM answer both wire formats share: read the month from the prompt, generate
the month's books, shape them to the requested schema, and cut the text when a fault says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.faults import MALFORMED, MALFORMED_DONE
from sandbox.hashing import stable_int
from sandbox.llm_books import generate_month
from sandbox.prompts import read_request
from sandbox.state import state_of
from sandbox.structured import as_text, render, shape_from_schema


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    truncated: bool  # the text stops mid-way, as when the model hits its token limit
    prompt_tokens: int
    books: int


def answer(
    request: web.Request,
    provider: str,
    texts: list[str],
    schema: Any,
    json_mode: bool,
    default_array: bool,
) -> ModelAnswer:
    state = state_of(request)
    asked = read_request(texts)
    seed = state.knobs.seed_for(provider)
    if asked is None:
        books = []
    else:
        books = generate_month(
            state.catalogue, provider, asked.year, asked.month, seed, count=asked.count
        )
    shape = shape_from_schema(schema, default_array)
    text = as_text(render(books, shape), fenced=not json_mode)
    truncated = False
    # Half the malformed answers are a truncated model text in a valid envelope (finish reason
    # MAX_TOKENS / length); the other half are left to the middleware, which cuts the envelope.
    if request.get(MALFORMED) and stable_int(seed, provider, state.counters[provider].draws) % 2:
        text = text[: max(1, len(text) * 2 // 3)]
        truncated = True
        request[MALFORMED_DONE] = True
    prompt_tokens = sum(len(t) for t in texts) // 4 + 8
    return ModelAnswer(text, truncated, prompt_tokens, len(books))


def token_count(text: str) -> int:
    return max(1, len(text) // 4)
