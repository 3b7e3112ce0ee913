"""Fixtures for the provider tests: the real sandbox on an ephemeral loopback port, settings that
point every client at it with small backoffs, and a transport that records its sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from sandbox.app import create_app
from sandbox.catalogue import Catalogue, load_catalogue
from sandbox.knobs import Knobs
from shared.providers.http import HttpTransport
from shared.providers.quota import MemoryQuotaStore
from shared.settings import Settings, load_settings

# Distinctive so a leak is easy to grep for; the sandbox accepts only these.
KEYS = {
    "isbndb": "isbndb-SECRET-5f1c9a7e",
    "google_books": "google-SECRET-8b2d4e6f",
    "gemini": "gemini-SECRET-3a9c7d1b",
    "xai": "xai-SECRET-0e4f6a2c",
    "openai_compat": "compat-SECRET-7d5b1e9a",
}
PREFIXES = {
    "isbndb": "/isbndb",
    "google_books": "/google-books",
    "openlibrary": "/openlibrary",
    "archive": "/archive",
    "wikidata": "/wikidata",
    "gemini": "/gemini",
    "xai": "/xai",
    "openai_compat": "/openai-compat/v1",
}
START_KNOBS = {
    # Every provider knows every book, so tests can pick any catalogue ISBN.
    "*": {"coverage": 1.0},
    **{provider: {"api_key": key} for provider, key in KEYS.items()},
}


@dataclass
class Sandbox:
    """The running sandbox and its admin API."""

    url: str
    catalogue: Catalogue
    admin: httpx.AsyncClient

    def base(self, provider: str) -> str:
        return self.url + PREFIXES[provider]

    async def knobs(self, patch: dict[str, Any]) -> None:
        response = await self.admin.post("/_sandbox/knobs", json=patch)
        assert response.status_code == 200, response.text

    async def reset(self) -> None:
        response = await self.admin.post("/_sandbox/reset")
        assert response.status_code == 200, response.text

    async def stats(self, provider: str) -> dict[str, Any]:
        response = await self.admin.get("/_sandbox/stats")
        stats: dict[str, Any] = response.json()["providers"][provider]
        return stats

    async def calls(self, provider: str) -> int:
        return int((await self.stats(provider))["calls"])


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
async def sandbox_server(catalogue: Catalogue) -> AsyncIterator[str]:
    app = create_app(catalogue, Knobs().with_patch(START_KNOBS))
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def sandbox(sandbox_server: str, catalogue: Catalogue) -> AsyncIterator[Sandbox]:
    """The sandbox with start-up knobs and zeroed counters for this test."""
    async with httpx.AsyncClient(base_url=sandbox_server, timeout=10.0) as admin:
        box = Sandbox(sandbox_server, catalogue, admin)
        await box.reset()
        yield box
        await box.reset()


def provider_settings(sandbox: Sandbox, **overrides: Any) -> Settings:
    """Settings aimed at the sandbox: keys set, fast backoff, short timeouts."""
    values: dict[str, Any] = {
        "isbndb_base_url": sandbox.base("isbndb"),
        "google_books_base_url": sandbox.base("google_books"),
        "openlibrary_base_url": sandbox.base("openlibrary"),
        "archive_base_url": sandbox.base("archive"),
        "wikidata_base_url": sandbox.base("wikidata"),
        "gemini_base_url": sandbox.base("gemini"),
        "xai_base_url": sandbox.base("xai"),
        "openai_compat_base_url": sandbox.base("openai_compat"),
        "openai_compat_model": "local-model",
        "isbndb_api_key": KEYS["isbndb"],
        "google_books_api_key": KEYS["google_books"],
        "gemini_api_key": KEYS["gemini"],
        "xai_api_key": KEYS["xai"],
        "openai_compat_api_key": KEYS["openai_compat"],
        "http_timeout_s": 1.0,
        "wikidata_timeout_s": 5.0,
        "llm_timeout_s": 5.0,
        "http_max_retries": 2,
        "http_backoff_base_s": 0.01,
        "http_backoff_max_s": 0.05,
        "http_retry_after_max_s": 2.0,
        "contact_email": "provider-tests@example.org",
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class SleepLog:
    """Records every wait the transport asks for, then really waits (so Retry-After holds)."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def settings_for(sandbox: Sandbox) -> Iterator[Any]:
    yield lambda **overrides: provider_settings(sandbox, **overrides)


@pytest.fixture
async def transport(sandbox: Sandbox, sleeps: SleepLog) -> AsyncIterator[HttpTransport]:
    """One transport per test (as one per process in production), in-memory quota store."""
    settings = provider_settings(sandbox)
    async with HttpTransport.from_settings(
        settings, quota=MemoryQuotaStore(), sleep=sleeps
    ) as shared:
        yield shared
