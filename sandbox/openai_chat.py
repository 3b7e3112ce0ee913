"""OpenAI-shaped chat completions: xAI Grok (api.x.ai/v1) and any OpenAI-compatible endpoint
(Ollama, vLLM): POST /v1/chat/completions with response_format json_schema, GET /v1/models."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.errors import json_response, openai_error
from sandbox.faults import fault_middleware
from sandbox.hashing import stable_int
from sandbox.llm_answer import answer, token_count
from sandbox.state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MODELS = {"xai": ("grok-4", "grok-3", "grok-3-mini"), "openai_compat": ("local-model",)}


def authorizer(
    provider: str, required: bool
) -> Callable[[web.Request, SandboxState], web.StreamResponse | None]:
    """Bearer keys: xAI requires one; local OpenAI-compatible servers ignore it unless the
    api_key knob is set."""

    def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        expected = state.knobs.for_provider(provider).api_key
        if not key and (required or expected is not None):
            return openai_error(
                401,
                "Missing or invalid Authorization header: expected 'Bearer <API key>'.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if expected is not None and key != expected:
            shown = f"{key[:4]}***" if key else "***"
            return openai_error(
                400,
                f"Incorrect API key provided: {shown}. You can obtain an API key from "
                "https://console.x.ai.",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    return authorize


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _texts(messages: list[Any]) -> list[str]:
    """User turns first (newest first), then system and developer messages."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    others = [
        m for m in messages if isinstance(m, dict) and m.get("role") in {"system", "developer"}
    ]
    return [_content_text(m.get("content")) for m in [*reversed(users), *others]]


def completions_handler(provider: str, model_prefix: str | None) -> Handler:
    async def completions(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.text())
        except json.JSONDecodeError:
            return openai_error(
                400, "Request body is not valid JSON.", "invalid_request_error", None
            )
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return openai_error(
                400, "messages: field is required", "invalid_request_error", "missing_field"
            )
        model = str(body.get("model") or "")
        if model_prefix is not None and not model.startswith(model_prefix):
            return openai_error(
                404,
                f"The model {model} does not exist or your team does not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        response_format = body.get("response_format") or {}
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        schema = None
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, dict) else None
        texts = _texts(body["messages"])
        result = answer(
            request,
            provider,
            texts,
            schema,
            json_mode=kind in {"json_schema", "json_object"},
            default_array=False,
        )
        finish = "length" if result.truncated else "stop"
        completion_tokens = token_count(result.text)
        reasoning = (
            0 if "mini" in model or provider == "openai_compat" else 60 + completion_tokens // 8
        )
        created = int(time.time())
        reply_id = str(
            uuid.UUID(int=stable_int("completion", result.text, created) << 64 | created)
        )
        if body.get("stream"):
            return await _stream(request, reply_id, created, model, result.text, finish)
        usage: dict[str, Any] = {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": result.prompt_tokens + completion_tokens + reasoning,
            "prompt_tokens_details": {"text_tokens": result.prompt_tokens, "cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        return json_response(
            {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text, "refusal": None},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
                "system_fingerprint": f"fp_{stable_int('fp', model) % 16**10:010x}",
            }
        )

    return completions


async def _stream(
    request: web.Request, reply_id: str, created: int, model: str, text: str, finish: str
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    pieces = [text[i : i + 200] for i in range(0, len(text), 200)] or [""]
    for index, piece in enumerate(pieces):
        delta: dict[str, Any] = {"content": piece}
        if index == 0:
            delta["role"] = "assistant"
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        chunk = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    last = {
        "id": reply_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
    }
    await response.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
    await response.write_eof()
    return response


def models_handler(provider: str) -> Handler:
    async def models(request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": 1_735_689_600, "owned_by": provider}
                    for name in _MODELS.get(provider, ())
                ],
            }
        )

    return models


def create_app(provider: str) -> web.Application:
    """xai: Bearer key required, grok-* models; openai_compat: any model, key optional."""
    is_xai = provider == "xai"
    app = web.Application(
        middlewares=[fault_middleware(provider, authorizer(provider, required=is_xai))]
    )
    app.router.add_post(
        "/v1/chat/completions", completions_handler(provider, "grok" if is_xai else None)
    )
    app.router.add_get("/v1/models", models_handler(provider))
    return app
