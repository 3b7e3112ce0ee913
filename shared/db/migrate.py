"""Applies the SQL migrations in shared/db/migrations with yoyo; idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[str, ...]
    already_applied: int


def yoyo_uri(dsn: str, schema: str = "public") -> str:
    """yoyo wants `postgresql+psycopg://`; a non-public schema keeps `public` for pg_trgm."""
    parts = urlsplit(dsn)
    query = parts.query
    if schema != "public":
        query = "&".join(q for q in (query, f"schema={quote(schema)},public") if q)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, query, parts.fragment))


def apply_migrations(dsn: str, schema: str = "public") -> MigrationReport:
    backend = get_backend(yoyo_uri(dsn, schema))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    finally:
        backend.connection.close()
    return MigrationReport(
        applied=tuple(m.id for m in pending), already_applied=len(migrations) - len(pending)
    )
