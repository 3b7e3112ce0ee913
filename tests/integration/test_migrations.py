"""Migrations apply on an empty database, then again as a no-op, and build what the design needs."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db.migrate import apply_migrations

TABLES = {
    "enriched_editions",
    "enriched_works",
    "enriched_authors",
    "work_authors",
    "backfill_log",
    "enrichment_log",
    "projector_offsets",
    "provider_quota",
    "outbox",
}


async def test_migrations_apply_then_are_a_no_op(empty_database_url: str) -> None:
    first = apply_migrations(empty_database_url)
    assert first.applied and first.already_applied == 0
    second = apply_migrations(empty_database_url)
    assert second.applied == () and second.already_applied == len(first.applied)

    conn = await asyncpg.connect(empty_database_url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert tables >= TABLES
        partitions = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'enrichment_log'"
            )
        }
        assert partitions == {
            "enrichment_log_edition",
            "enrichment_log_work",
            "enrichment_log_author",
        }
        indexes = {
            r["indexname"]: r["indexdef"]
            for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
        for name in (
            "enriched_editions_title_trgm",
            "enriched_works_title_trgm",
            "enriched_authors_name_trgm",
        ):
            assert "gin_trgm_ops" in indexes[name]
        assert "USING gin (related_isbns)" in indexes["enriched_editions_related_isbns"]
        assert "USING gin (alternate_isbns)" in indexes["enriched_editions_alternate_isbns"]
        assert "WHERE (status = ANY" in indexes["backfill_log_claimable"]
    finally:
        await conn.close()


async def test_sanity_checks_refuse_impossible_rows(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute("INSERT INTO backfill_log (year, month) VALUES (2019, 3)")
        bad_rows = [
            "INSERT INTO backfill_log (year, month) VALUES (2019, 13)",
            "INSERT INTO backfill_log (year, month) VALUES (1899, 1)",
            "INSERT INTO backfill_log (year, month) VALUES (2019, 3)",
            "INSERT INTO backfill_log (year, month, status) VALUES (2019, 4, 'done')",
            "INSERT INTO backfill_log (year, month, status) VALUES (2019, 5, 'completed')",
            "INSERT INTO backfill_log (year, month, books_generated, isbns_resolved) "
            "VALUES (2019, 6, 1, 2)",
            "INSERT INTO enriched_works (work_key, title, metadata, created_at, updated_at) "
            "VALUES ('w', 't', '\"a string\"', now(), now())",
            "INSERT INTO enriched_editions (isbn, created_at, updated_at) "
            "VALUES ('0571334652', now(), now())",
        ]
        for sql in bad_rows:
            with pytest.raises((asyncpg.CheckViolationError, asyncpg.UniqueViolationError)):
                await conn.execute(sql)


async def test_trigram_similarity_is_available(db: asyncpg.Pool) -> None:
    score = await db.fetchval("SELECT similarity('The Overstory', 'Overstory')")
    assert score > 0.6
