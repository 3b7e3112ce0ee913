"""asyncpg connection pools from settings, with the configured schema on the search path."""

from __future__ import annotations

import asyncpg

from shared.settings import Settings


async def create_pool(settings: Settings, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    search_path = (
        "public"
        if settings.database.schema_name == "public"
        else (f"{settings.database.schema_name},public")
    )
    pool = await asyncpg.create_pool(
        settings.dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": search_path, "application_name": "alexandria"},
    )
    assert pool is not None
    return pool
