"""Provider layer: one client per external API over one shared transport; see `build_providers`."""

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
from shared.providers.http import HttpTransport, QuotaStore
from shared.providers.isbndb import IsbndbClient
from shared.providers.openai_compat import OpenAICompatClient
from shared.providers.openlibrary import OpenLibraryClient
from shared.providers.quota import MemoryQuotaStore, PostgresQuotaStore
from shared.providers.wikidata import WikidataClient
from shared.settings import Settings

__all__ = [
    "DailyQuotaExhausted",
    "MalformedResponse",
    "NotFound",
    "ProviderError",
    "ProviderUnavailable",
    "Providers",
    "RateLimited",
    "RequestRejected",
    "build_providers",
]


@dataclass(frozen=True)
class Providers:
    """Every client, sharing one transport (and so one connection pool) per process."""

    transport: HttpTransport
    isbndb: IsbndbClient
    google_books: GoogleBooksClient
    openlibrary: OpenLibraryClient
    archive: ArchiveClient
    wikidata: WikidataClient
    gemini: GeminiClient
    xai: OpenAICompatClient
    openai_compat: OpenAICompatClient | None

    async def aclose(self) -> None:
        await self.transport.aclose()


def build_providers(settings: Settings, pool: asyncpg.Pool | None = None) -> Providers:
    """The composition root for the provider layer. Without a pool, quotas are per process
    only (fine for a CLI or a test, wrong for replicas: pass the service's pool)."""
    quota: QuotaStore = PostgresQuotaStore(pool) if pool is not None else MemoryQuotaStore()
    transport = HttpTransport.from_settings(settings, quota=quota)
    return Providers(
        transport=transport,
        isbndb=IsbndbClient.from_settings(transport, settings),
        google_books=GoogleBooksClient.from_settings(transport, settings),
        openlibrary=OpenLibraryClient.from_settings(transport, settings),
        archive=ArchiveClient.from_settings(transport, settings),
        wikidata=WikidataClient.from_settings(transport, settings),
        gemini=GeminiClient.from_settings(transport, settings),
        xai=OpenAICompatClient.xai_from_settings(transport, settings),
        openai_compat=OpenAICompatClient.from_settings(transport, settings),
    )
