"""OpenAI-compatible chat-completions client (x.ai Grok, Ollama, vLLM) for book suggestions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from shared.providers.errors import MalformedResponse
from shared.providers.http import HttpTransport
from shared.providers.llm import BOOK_LIST_SCHEMA, parse_answer_text
from shared.providers.models import LLMBook
from shared.providers.outcomes import Outcome, classify_status, json_body
from shared.providers.spec import Credential, ProviderSpec, spec_from_block
from shared.settings import Settings

# A base that already ends in the API version (`.../v1`, Gemini's `.../openai`) gets only the
# resource appended; a bare host (xAI's `https://api.x.ai`) gets `/v1/chat/completions`.
_VERSIONED_BASE = re.compile(r"/(v\d+[a-z0-9]*|openai)/?$")
# Out of credits (xAI) / billing quota (OpenAI): no retry will help until someone pays.
_EXHAUSTED_CODES = {"insufficient_quota", "billing_hard_limit_reached"}


def completions_path(base_url: str) -> str:
    return "/chat/completions" if _VERSIONED_BASE.search(base_url) else "/v1/chat/completions"


def request_body(
    model: str,
    prompt: str,
    schema: Mapping[str, Any],
    *,
    system: str | None = None,
    temperature: float | None = None,
    schema_name: str = "books",
) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": dict(schema)},
        },
    }
    if temperature is not None:
        body["temperature"] = temperature
    return body


def classify(response: httpx.Response, now: datetime) -> Outcome:
    """OpenAI-convention errors; a 429 about credits is a stop, not a per-second limit."""
    outcome = classify_status(response, now)
    if outcome.kind == "ok":
        return outcome
    body = json_body(response)
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        outcome = replace(outcome, detail=f"{outcome.detail}: {error['message'][:200]}")
    if outcome.kind != "rate_limited":
        return outcome
    if isinstance(error, Mapping) and (
        error.get("code") in _EXHAUSTED_CODES or error.get("type") in _EXHAUSTED_CODES
    ):
        return Outcome("daily_quota", "429: credits or spending limit exhausted")
    return outcome


def answer_text(body: Any, provider: str) -> tuple[str, str | None]:
    """(message content of the first choice, finish_reason); content may be a list of parts."""
    choices = body.get("choices") if isinstance(body, Mapping) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise MalformedResponse(provider, "expected {'choices': [...]} in the completion")
    first = choices[0]
    message = first.get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    if not isinstance(content, str) or not content.strip():
        refusal = message.get("refusal") if isinstance(message, Mapping) else None
        detail = "refused" if refusal else f"finish_reason {first.get('finish_reason')}"
        raise MalformedResponse(provider, f"completion has no content ({detail})")
    finish = first.get("finish_reason")
    return content, finish if isinstance(finish, str) else None


def parse_answer(body: Any, provider: str) -> list[LLMBook]:
    text, finish = answer_text(body, provider)
    return parse_answer_text(provider, text, finish, "length", "finish_reason")


@dataclass
class OpenAICompatClient:
    """One client for any chat-completions endpoint; `spec.name` labels errors and quotas."""

    transport: HttpTransport
    spec: ProviderSpec
    api_key: SecretStr | None
    model: str
    temperature: float | None = 0.2

    @classmethod
    def xai_from_settings(cls, transport: HttpTransport, settings: Settings) -> OpenAICompatClient:
        block = settings.xai
        spec = spec_from_block("xai", block, settings.http, timeout_s=settings.llm.timeout_s)
        return cls(transport, spec, block.api_key, block.model)

    @classmethod
    def from_settings(
        cls, transport: HttpTransport, settings: Settings
    ) -> OpenAICompatClient | None:
        """The generic endpoint (Ollama, vLLM...), or None when not configured."""
        block = settings.openai_compat
        if not block.base_url or not block.model:
            return None
        spec = spec_from_block(
            "openai_compat", block, settings.http, timeout_s=settings.llm.timeout_s
        )
        return cls(transport, spec, block.api_key, block.model)

    async def generate_books(
        self,
        prompt: str,
        schema: Mapping[str, Any] = BOOK_LIST_SCHEMA,
        *,
        system: str | None = None,
    ) -> list[LLMBook]:
        """Books the model suggests, constrained by `response_format: json_schema`."""
        credential = (
            Credential.in_header(self.api_key, "Authorization", prefix="Bearer ")
            if self.api_key
            else None
        )
        body = await self.transport.request_json(
            self.spec,
            "POST",
            completions_path(self.spec.base_url),
            json=request_body(
                self.model, prompt, schema, system=system, temperature=self.temperature
            ),
            credential=credential,
            classify=classify,
        )
        return parse_answer(body, self.spec.name)
