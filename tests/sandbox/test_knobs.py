"""Knobs: per-second 429s with Retry-After, each provider's real daily-quota answer, 5xx bodies,
malformed JSON, latency and hangs; the admin API validates, counts and resets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from sandbox.knobs import KnobError, Knobs
from tests.sandbox import shapes
from tests.sandbox.support import (
    GEMINI_KEY,
    ISBNDB_KEY,
    XAI_KEY,
    books_known_by,
    client,
    sandbox_url,
    set_knobs,
)

__all__ = ["client", "sandbox_url"]

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def _calls() -> dict[str, Call]:
    isbn = books_known_by("isbndb", 1)[0].isbn13
    chat = {
        "model": "grok-4",
        "messages": [{"role": "user", "content": "3 books of March 2019"}],
        "response_format": {"type": "json_object"},
    }
    gemini = {
        "contents": [{"role": "user", "parts": [{"text": "3 books of March 2019"}]}],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    return {
        "isbndb": lambda c: c.get(f"/isbndb/book/{isbn}", headers=ISBNDB_KEY),
        "google_books": lambda c: c.get("/google-books/volumes", params={"q": f"isbn:{isbn}"}),
        "openlibrary": lambda c: c.get("/openlibrary/search.json", params={"q": "the memory"}),
        "archive": lambda c: c.get(
            "/archive/advancedsearch.php", params={"q": f"isbn:{isbn}", "output": "json"}
        ),
        "wikidata": lambda c: c.get(
            "/wikidata/sparql", params={"query": "ASK { ?x wdt:P31 wd:Q5 }", "format": "json"}
        ),
        "gemini": lambda c: c.post(
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            json=gemini,
            headers=GEMINI_KEY,
        ),
        "xai": lambda c: c.post("/xai/v1/chat/completions", json=chat, headers=XAI_KEY),
        "openai_compat": lambda c: c.post("/openai-compat/v1/chat/completions", json=chat),
    }


async def test_per_second_limit_answers_429_with_retry_after(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"*": {"rate_limit_429": 1}})
    for provider, call in _calls().items():
        assert (await call(client)).status_code == 200, provider
        limited = await call(client)
        assert limited.status_code == 429, provider
        assert int(limited.headers["Retry-After"]) >= 1, provider
        if provider == "isbndb":
            assert limited.json() == {"message": "Limit Exceeded"}
        elif provider == "google_books":
            shapes.google_error(limited.json(), 429, "RESOURCE_EXHAUSTED")
            assert "defaultPerMinutePerProject" in limited.text
        elif provider == "openlibrary":
            assert limited.json()["status"] == 429
        elif provider == "wikidata":
            assert "Too Many Requests - Please retry in" in limited.text
        elif provider == "gemini":
            shapes.google_error(limited.json(), 429, "RESOURCE_EXHAUSTED")
            assert "PerMinute" in limited.text and "RetryInfo" in limited.text
        elif provider in {"xai", "openai_compat"}:
            assert limited.json()["error"]["code"] == "rate_limit_exceeded"


async def test_daily_quota_answers_each_providers_per_day_error(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"*": {"daily_quota": 2}})
    for provider, call in _calls().items():
        for _ in range(2):
            assert (await call(client)).status_code == 200, provider
        spent = await call(client)
        again = await call(client)
        assert spent.status_code == again.status_code, provider  # stays spent until the reset
        assert spent.status_code in {403, 429}, provider
        if provider == "isbndb":
            assert spent.json() == {"message": "Limit Exceeded"}
            assert "Retry-After" not in spent.headers
        elif provider == "google_books":
            shapes.google_error(spent.json(), 429, "RESOURCE_EXHAUSTED")
            assert "defaultPerDayPerProject" in spent.text
        elif provider == "gemini":
            violation = spent.json()["error"]["details"][0]["violations"][0]
            assert "PerDay" in violation["quotaId"]
        elif provider == "wikidata":
            assert spent.status_code == 403 and "banned until" in spent.text
        elif provider in {"xai", "openai_compat"}:
            assert spent.json()["error"]["code"] == "insufficient_quota"
    stats = (await client.get("/_sandbox/stats")).json()["providers"]
    assert stats["isbndb"]["injected"]["daily_quota"] == 2
    await client.post("/_sandbox/reset", params={"knobs": "keep"})
    assert (await _calls()["isbndb"](client)).status_code == 200


async def test_server_errors_use_provider_bodies(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"*": {"error_rate": 1.0}})
    calls = _calls()
    for provider, call in calls.items():
        response = await call(client)
        assert 500 <= response.status_code < 600, provider
    isbndb = await calls["isbndb"](client)
    assert isbndb.json() == {"message": "Internal server error"}
    google = (await calls["google_books"](client)).json()
    assert google["error"]["status"] in {"INTERNAL", "UNAVAILABLE"}
    gemini = (await calls["gemini"](client)).json()
    assert gemini["error"]["status"] in {"INTERNAL", "UNAVAILABLE"}
    assert (await calls["xai"](client)).json()["error"]["type"] == "server_error"


async def test_malformed_answers(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"*": {"malformed_rate": 1.0}})
    calls = _calls()
    for provider in ("isbndb", "google_books", "openlibrary", "archive", "wikidata"):
        response = await calls[provider](client)
        assert response.status_code == 200
        assert shapes.is_invalid_json(response.text), provider
    outcomes = set()
    for _ in range(6):
        response = await calls["gemini"](client)
        if shapes.is_invalid_json(response.text):
            outcomes.add("envelope")
        else:
            candidate = response.json()["candidates"][0]
            assert candidate["finishReason"] == "MAX_TOKENS"
            text = "".join(p["text"] for p in candidate["content"]["parts"])
            assert shapes.is_invalid_json(text)
            outcomes.add("text")
    assert outcomes == {"envelope", "text"}


async def test_latency_and_timeouts(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"isbndb": {"latency_ms": 200}})
    started = time.monotonic()
    assert (await _calls()["isbndb"](client)).status_code == 200
    assert time.monotonic() - started >= 0.2
    await set_knobs(client, {"google_books": {"timeout_rate": 1.0, "timeout_s": 5}})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/google-books/volumes", params={"q": "dune"}, timeout=0.3)
    assert time.monotonic() - started < 2


async def test_fault_draws_are_deterministic_per_seed(client: httpx.AsyncClient) -> None:
    async def pattern(seed: int) -> list[int]:
        await client.post("/_sandbox/reset")
        await set_knobs(client, {"seed": seed, "isbndb": {"error_rate": 0.5}})
        return [(await _calls()["isbndb"](client)).status_code for _ in range(16)]

    first = await pattern(1)
    assert await pattern(1) == first
    assert {200, 500} <= set(first)
    assert await pattern(2) != first


async def test_admin_api_validates_counts_and_resets(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/_sandbox/knobs", json={"nosuch": {"latency_ms": 1}})
    assert unknown.status_code == 400 and "unknown provider" in unknown.json()["error"]
    bad = await client.post("/_sandbox/knobs", json={"isbndb": {"error_rate": 2}})
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]
    knobs = await set_knobs(client, {"google-books": {"latency_ms": 5}, "*": {"seed": 3}})
    assert knobs["providers"]["google_books"]["latency_ms"] == 5
    assert all(p["seed"] == 3 for p in knobs["providers"].values())
    await _calls()["isbndb"](client)
    await _calls()["isbndb"](client)
    stats = (await client.get("/_sandbox/stats")).json()["providers"]["isbndb"]
    assert stats["calls"] == 2 and stats["by_endpoint"] == {"GET /isbndb/book/{isbn}": 2}
    assert stats["by_status"] == {"200": 2}
    await client.post("/_sandbox/reset")
    assert (await client.get("/_sandbox/knobs")).json()["providers"]["google_books"][
        "latency_ms"
    ] == 0
    assert (await client.get("/_sandbox/stats")).json()["providers"]["isbndb"]["calls"] == 0
    health = (await client.get("/_sandbox/health")).json()
    assert health["status"] == "ok" and health["base_urls"]["google_books"].endswith(
        "/google-books"
    )


def test_knobs_from_json_layers_and_rejects_bad_input() -> None:
    knobs = Knobs().with_json_patch('{"isbndb": {"daily_quota": 100}}')
    knobs = knobs.with_json_patch('{"seed": 4, "xai": {"latency_ms": 10}}')
    assert knobs.for_provider("isbndb").daily_quota == 100
    assert knobs.seed_for("xai") == 4 and knobs.for_provider("xai").latency_ms == 10
    for text in ("{", '{"isbndb": {"daily_quota": -1}}', '{"isbndb": {"colour": 1}}', "[1]"):
        with pytest.raises(KnobError):
            Knobs().with_json_patch(text)
    assert json.loads(json.dumps(knobs.to_json()))["providers"]["isbndb"]["daily_quota"] == 100


async def test_per_key_rate_refuses_bursts_and_counts_them(client: httpx.AsyncClient) -> None:
    await set_knobs(client, {"isbndb": {"rate_per_s": 4}})
    isbn = books_known_by("isbndb", 1)[0].isbn13

    async def burst(key: str, n: int) -> list[int]:
        calls = [
            client.get(f"/isbndb/book/{isbn}", headers={"Authorization": key}) for _ in range(n)
        ]
        return sorted([r.status_code for r in await asyncio.gather(*calls)])

    # Each key has its own rate: a burst of five on one key gets one call through, another
    # key is not held back by it.
    assert await burst("key-a", 5) == [200, 429, 429, 429, 429]
    assert await burst("key-b", 1) == [200]
    await asyncio.sleep(0.3)
    statuses = []
    for _ in range(4):  # paced at the rate: all accepted
        statuses += await burst("key-a", 1)
        await asyncio.sleep(0.3)
    assert statuses == [200] * 4
    await set_knobs(client, {"isbndb": {"rate_burst": 3}})
    await asyncio.sleep(1.0)
    assert await burst("key-c", 4) == [200, 200, 200, 429]
    stats = (await client.get("/_sandbox/stats")).json()["providers"]["isbndb"]
    assert stats["injected"]["rate_per_key"] == 5
    assert stats["by_status"]["429"] == 5
    with pytest.raises(KnobError, match="rate_burst"):
        Knobs().with_patch({"isbndb": {"rate_burst": 0.5}})
