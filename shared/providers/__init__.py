"""Provider layer: one client per external API over one shared transport per process."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.providers.archive import ArchiveClient
from shared.providers.errors import (
    DailyQuotaExhausted,
    MalformedResponse,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from shared.providers.gemini import GeminiClient
from shared.providers.google_books import GoogleBooksClient
from shared.providers.http import HttpTransport
from shared.providers.isbndb import IsbndbClient
from shared.providers.openai_compat import OpenAICompatClient
from shared.providers.openlibrary import OpenLibraryClient
from shared.providers.pace import MemoryPaceStore, Pacer, PaceStore, PostgresPaceStore
from shared.providers.quota import MemoryQuotaStore, PostgresQuotaStore, QuotaStore
from shared.providers.wikidata import WikidataClient
from shared.settings import Settings

__all__ = [
    "BookProviders",
    "DailyQuotaExhausted",
    "LLMProviders",
    "MalformedResponse",
    "NotFound",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "RequestRejected",
    "build_book_providers",
    "build_llm_providers",
]


@dataclass(frozen=True)
class BookProviders:
    """The five book APIs over one transport: the resolver's cascade, the enricher's sources."""

    transport: HttpTransport
    isbndb: IsbndbClient
    google_books: GoogleBooksClient
    openlibrary: OpenLibraryClient
    archive: ArchiveClient
    wikidata: WikidataClient

    async def aclose(self) -> None:
        await self.transport.aclose()


@dataclass(frozen=True)
class LLMProviders:
    """The LLMs the generator may ask, over one transport; None where not configured (no key,
    or for the OpenAI-compatible endpoint no URL and model)."""

    transport: HttpTransport
    gemini: GeminiClient | None
    xai: OpenAICompatClient | None
    openai_compat: OpenAICompatClient | None

    async def aclose(self) -> None:
        await self.transport.aclose()


def _transport(settings: Settings, pool: asyncpg.Pool | None) -> HttpTransport:
    """Without a pool, quotas and pacing are per process only (fine for a CLI or a test, wrong for
    replicas: pass the service's pool)."""
    quota: QuotaStore = PostgresQuotaStore(pool) if pool is not None else MemoryQuotaStore()
    pace: PaceStore = PostgresPaceStore(pool) if pool is not None else MemoryPaceStore()
    return HttpTransport.from_settings(settings, quota=quota, pace=Pacer(pace))


def build_book_providers(settings: Settings, pool: asyncpg.Pool | None = None) -> BookProviders:
    """The composition root for the book APIs."""
    transport = _transport(settings, pool)
    return BookProviders(
        transport=transport,
        isbndb=IsbndbClient.from_settings(transport, settings),
        google_books=GoogleBooksClient.from_settings(transport, settings),
        openlibrary=OpenLibraryClient.from_settings(transport, settings),
        archive=ArchiveClient.from_settings(transport, settings),
        wikidata=WikidataClient.from_settings(transport, settings),
    )


def build_llm_providers(settings: Settings, pool: asyncpg.Pool | None = None) -> LLMProviders:
    """The composition root for the LLMs: only those with credentials (or a local URL)."""
    transport = _transport(settings, pool)
    return LLMProviders(
        transport=transport,
        gemini=GeminiClient.from_settings(transport, settings)
        if settings.gemini.api_key is not None
        else None,
        xai=OpenAICompatClient.xai_from_settings(transport, settings)
        if settings.xai.api_key is not None
        else None,
        openai_compat=OpenAICompatClient.from_settings(transport, settings),
    )
