"""The sandbox's own admin API under /_sandbox: knobs, reset, stats, health and ground truth."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.errors import json_response
from sandbox.knobs import PROVIDERS, KnobError, normalise_provider
from sandbox.llm_books import LLM_PROVIDERS
from sandbox.prompts import DEFAULT_COUNT
from sandbox.state import state_of
from sandbox.truth import month_truth

BASE_PATHS = {
    "isbndb": "/isbndb",
    "google_books": "/google-books",
    "openlibrary": "/openlibrary",
    "archive": "/archive",
    "wikidata": "/wikidata",
    "gemini": "/gemini",
    "xai": "/xai",
    "openai_compat": "/openai-compat/v1",
}


def _bad(message: str) -> web.Response:
    return json_response({"error": message}, 400)


async def get_knobs(request: web.Request) -> web.StreamResponse:
    return json_response(state_of(request).knobs.to_json())


async def post_knobs(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        patch: Any = json.loads(await request.text() or "{}")
        state.knobs = state.knobs.with_patch(patch)
    except json.JSONDecodeError as exc:
        return _bad(f"body is not valid JSON: {exc.msg}")
    except KnobError as exc:
        return _bad(str(exc))
    return json_response(state.knobs.to_json())


async def reset(request: web.Request) -> web.StreamResponse:
    """Clears counters and quotas; restores the start-up knobs unless ?knobs=keep."""
    state = state_of(request)
    state.reset(knobs=request.query.get("knobs") != "keep")
    return json_response({"reset": True, "knobs": state.knobs.to_json()})


async def stats(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    return json_response(
        {
            "started_at": state.started_at,
            "providers": {name: counters.to_json() for name, counters in state.counters.items()},
        }
    )


async def health(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    base = f"{request.scheme}://{request.host}"
    return json_response(
        {
            "status": "ok",
            "books": len(state.catalogue.books),
            "invented": len(state.catalogue.invented),
            "seed": state.knobs.seed,
            "base_urls": {name: base + path for name, path in BASE_PATHS.items()},
        }
    )


def _int(request: web.Request, name: str) -> int:
    value = request.query.get(name)
    if value is None or not value.lstrip("-").isdigit():
        raise ValueError(f"{name} must be an integer")
    return int(value)


async def truth(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/truth?year=&month=[&provider=][&seed=][&count=N|all]"""
    state = state_of(request)
    try:
        year, month = _int(request, "year"), _int(request, "month")
        seed_override = _int(request, "seed") if "seed" in request.query else None
        raw_count = request.query.get("count", str(DEFAULT_COUNT))
        count = None if raw_count == "all" else int(raw_count)
    except ValueError as exc:
        return _bad(str(exc))
    if not 1 <= month <= 12:
        return _bad("month must be 1-12")
    providers: tuple[str, ...] = LLM_PROVIDERS
    if "provider" in request.query:
        wanted = normalise_provider(request.query["provider"])
        if wanted not in LLM_PROVIDERS:
            return _bad(f"provider must be one of {', '.join(LLM_PROVIDERS)}")
        providers = (wanted,)
    seeds = {
        p: state.knobs.seed_for(p) if seed_override is None else seed_override for p in providers
    }
    coverage = {p: state.coverage(p) for p in PROVIDERS if p not in LLM_PROVIDERS}
    return json_response(month_truth(state.index, year, month, seeds, count, coverage, providers))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/knobs", get_knobs)
    app.router.add_post("/_sandbox/knobs", post_knobs)
    app.router.add_post("/_sandbox/reset", reset)
    app.router.add_get("/_sandbox/stats", stats)
    app.router.add_get("/_sandbox/health", health)
    app.router.add_get("/_sandbox/truth", truth)
