"""Shared fixtures for the sandbox tests: the real catalogue, one sandbox per module on an
ephemeral loopback port, an httpx client that resets knobs and counters before each test."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from sandbox.app import create_app
from sandbox.catalogue import Catalogue, CatalogueBook, load_catalogue
from sandbox.catalogue_index import CatalogueIndex
from sandbox.knobs import Knobs
from sandbox.truth import known_by

ISBNDB_KEY = {"Authorization": "test-key"}
GEMINI_KEY = {"x-goog-api-key": "test-key"}
XAI_KEY = {"Authorization": "Bearer test-key"}
USER_AGENT = {"User-Agent": "AlexandriaTests/1.0 (tests@example.org)"}


@functools.cache
def catalogue() -> Catalogue:
    return load_catalogue()


@functools.cache
def index() -> CatalogueIndex:
    return CatalogueIndex.build(catalogue())


def books_known_by(provider: str, count: int = 5) -> list[CatalogueBook]:
    """Catalogue books whose primary ISBN the provider can look up (default coverage)."""
    found = [b for b in catalogue().books if known_by(index(), b.isbn13)[provider]]
    assert len(found) >= count, f"only {len(found)} books known by {provider}"
    return found[:count]


def book_unknown_to(provider: str) -> CatalogueBook:
    return next(b for b in catalogue().books if not known_by(index(), b.isbn13)[provider])


def busiest_month() -> tuple[int, int]:
    counts: dict[tuple[int, int], int] = {}
    for book in catalogue().books:
        key = (int(book.publication_date[:4]), int(book.publication_date[5:7]))
        counts[key] = counts.get(key, 0) + 1
    return max(counts, key=lambda k: (counts[k], k))


async def start_sandbox(knobs: Knobs | None = None) -> tuple[web.AppRunner, str]:
    app = create_app(catalogue(), knobs)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    runner, url = await start_sandbox()
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10.0, headers=USER_AGENT) as http:
        await http.post("/_sandbox/reset")
        yield http
        await http.post("/_sandbox/reset")


async def set_knobs(http: httpx.AsyncClient, patch: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/_sandbox/knobs", json=patch)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
