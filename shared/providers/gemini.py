"""Google Gemini client (native generateContent) returning structured book suggestions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from shared.providers.errors import MalformedResponse, RequestRejected
from shared.providers.google_errors import classify_google
from shared.providers.http import HttpTransport
from shared.providers.llm import BOOK_LIST_SCHEMA, parse_answer_text, to_gemini_schema
from shared.providers.models import LLMBook
from shared.providers.quota import PACIFIC
from shared.providers.spec import Credential, ProviderSpec, spec_from_block
from shared.settings import Settings

PROVIDER = "gemini"


def spec_from_settings(settings: Settings) -> ProviderSpec:
    # Requests-per-day reset at midnight Pacific (documented), applied per project: all
    # replicas share one budget, so a per-day 429 is recorded for the others.
    return spec_from_block(
        PROVIDER,
        settings.gemini,
        settings.http,
        timeout_s=settings.llm.timeout_s,
        shares_exhaustion=True,
        quota_tz=PACIFIC,
    )


def request_body(
    prompt: str,
    schema: Mapping[str, Any],
    *,
    system: str | None = None,
    temperature: float | None = None,
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "responseMimeType": "application/json",
        "responseSchema": to_gemini_schema(schema),
    }
    if temperature is not None:
        config["temperature"] = temperature
    if max_output_tokens is not None:
        config["maxOutputTokens"] = max_output_tokens
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": config,
    }
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    return body


def answer_text(body: Any) -> tuple[str, str | None]:
    """(concatenated text of the first candidate, finishReason). A blocked prompt is refused."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(PROVIDER, "expected a GenerateContentResponse object")
    candidates = body.get("candidates")
    if not candidates:
        feedback = body.get("promptFeedback")
        reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
        if reason:
            raise RequestRejected(PROVIDER, f"prompt blocked ({reason})", 200)
        raise MalformedResponse(PROVIDER, "no candidates in the answer")
    first = candidates[0] if isinstance(candidates, list) else None
    if not isinstance(first, Mapping):
        raise MalformedResponse(PROVIDER, "candidate is not an object")
    finish = first.get("finishReason")
    content = first.get("content")
    parts = content.get("parts") if isinstance(content, Mapping) else None
    texts = [
        part["text"]
        for part in parts or ()
        if isinstance(part, Mapping)
        and isinstance(part.get("text"), str)
        and not part.get("thought")
    ]
    if not texts:
        if finish in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
            raise RequestRejected(PROVIDER, f"answer withheld ({finish})", 200)
        raise MalformedResponse(PROVIDER, f"candidate has no text (finishReason {finish})")
    return "".join(texts), finish if isinstance(finish, str) else None


def parse_answer(body: Any) -> list[LLMBook]:
    text, finish = answer_text(body)
    return parse_answer_text(PROVIDER, text, finish, "MAX_TOKENS", "finishReason")


@dataclass
class GeminiClient:
    transport: HttpTransport
    spec: ProviderSpec
    api_key: SecretStr | None
    model: str
    temperature: float | None = 0.2

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> GeminiClient:
        return cls(
            transport, spec_from_settings(settings), settings.gemini.api_key, settings.gemini.model
        )

    async def generate_books(
        self,
        prompt: str,
        schema: Mapping[str, Any] = BOOK_LIST_SCHEMA,
        *,
        system: str | None = None,
    ) -> list[LLMBook]:
        """Books the model suggests; `schema` is JSON Schema, converted to Gemini's subset."""
        credential = Credential.in_header(self.api_key, "x-goog-api-key") if self.api_key else None
        body = await self.transport.request_json(
            self.spec,
            "POST",
            f"/v1beta/models/{quote(self.model, safe='')}:generateContent",
            json=request_body(prompt, schema, system=system, temperature=self.temperature),
            credential=credential,
            classify=classify_google,
            route="/v1beta/models/{model}:generateContent",
        )
        return parse_answer(body)
