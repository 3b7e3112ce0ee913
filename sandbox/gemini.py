"""Google Gemini API (generativelanguage.googleapis.com): POST /v1beta/models/{m}:generateContent
(and :streamGenerateContent?alt=sse, v1 too), plus the OpenAI-compatible /v1beta/openai layer."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox import openai_chat
from sandbox.errors import google_error, json_response
from sandbox.faults import fault_middleware
from sandbox.hashing import stable_int
from sandbox.llm_answer import answer, token_count
from sandbox.state import SandboxState

PROVIDER = "gemini"


def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
    """x-goog-api-key or ?key= (the OpenAI layer takes the key as a Bearer token)."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    auth = request.headers.get("Authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        return google_error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    expected = state.knobs.for_provider(PROVIDER).api_key
    if expected is not None and key != expected:
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )
    return None


def _texts(body: dict[str, Any]) -> list[str]:
    """User turns first (newest first), then the system instruction."""
    texts: list[str] = []
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts.extend(
                str(part.get("text", ""))
                for part in content.get("parts") or []
                if isinstance(part, dict) and part.get("text")
            )
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    if isinstance(system, dict):
        texts.extend(
            str(p.get("text", "")) for p in system.get("parts") or [] if isinstance(p, dict)
        )
    return texts


def _not_found(model: str, version: str) -> web.Response:
    return google_error(
        404,
        "NOT_FOUND",
        f"models/{model} is not found for API version {version}, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods.",
    )


async def generate(request: web.Request) -> web.StreamResponse:
    version = request.match_info["version"]
    model, _, method = request.match_info["target"].partition(":")
    if not model.startswith("gemini") or method not in {"generateContent", "streamGenerateContent"}:
        return _not_found(model, version)
    try:
        body = json.loads(await request.text())
    except json.JSONDecodeError:
        return google_error(
            400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token."
        )
    if not isinstance(body, dict) or not body.get("contents"):
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified\n",
        )
    config = body.get("generationConfig") or body.get("generation_config") or {}
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    json_mode = config.get("responseMimeType") == "application/json" or schema is not None
    texts = _texts(body)
    result = answer(request, PROVIDER, texts, schema, json_mode, default_array=True)
    text = result.text
    # Real answers sometimes split the JSON text over several parts; clients must concatenate.
    cut = len(text) // 2 if stable_int("parts", text) % 4 == 0 else 0
    parts = [{"text": text[:cut]}, {"text": text[cut:]}] if cut else [{"text": text}]
    output_tokens = token_count(text)
    thoughts = 0 if "flash-lite" in model else 40 + output_tokens // 10
    usage: dict[str, Any] = {
        "promptTokenCount": result.prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": result.prompt_tokens + output_tokens + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": result.prompt_tokens}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    reply = {
        "candidates": [
            {
                "content": {"parts": parts, "role": "model"},
                "finishReason": "MAX_TOKENS" if result.truncated else "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": f"{stable_int('response', text, request.path):x}"[:22],
    }
    if method == "streamGenerateContent":
        # One server-sent event with the whole answer: enough for clients that stream.
        stream = web.Response(text=f"data: {json.dumps(reply)}\r\n\r\n")
        stream.headers["Content-Type"] = "text/event-stream"
        return stream
    return json_response(reply, content_type="application/json; charset=UTF-8")


async def list_models(request: web.Request) -> web.StreamResponse:
    names = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite")
    return json_response(
        {
            "models": [
                {
                    "name": f"models/{n}",
                    "displayName": n,
                    "supportedGenerationMethods": ["generateContent", "countTokens"],
                }
                for n in names
            ]
        }
    )


def create_app() -> web.Application:
    app = web.Application(middlewares=[fault_middleware(PROVIDER, authorize)])
    app.router.add_get("/{version:v1beta|v1}/models", list_models)
    app.router.add_post("/{version:v1beta|v1}/models/{target}", generate)
    app.router.add_post(
        "/v1beta/openai/chat/completions",
        openai_chat.completions_handler(PROVIDER, model_prefix="gemini"),
    )
    return app
