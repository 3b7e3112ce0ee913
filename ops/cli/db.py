"""`alexandria db`: database migrations."""

from __future__ import annotations

import click

from shared.db.migrate import apply_migrations
from shared.settings import load_settings


@click.group()
def db() -> None:
    """The PostgreSQL schema."""


@db.command()
def migrate() -> None:
    """Apply pending migrations (idempotent)."""
    settings = load_settings()
    report = apply_migrations(settings.dsn, settings.database.schema_name)
    click.echo(
        f"{len(report.applied)} migrations applied ({', '.join(report.applied) or 'none'}), "
        f"{report.already_applied} already applied, on {settings.redacted_dsn}"
    )
