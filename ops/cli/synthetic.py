"""`alexandria synthetic`: re-resolve synthetic works now, as the resolver's timer does."""

from __future__ import annotations

import asyncio

import click

from services.resolver.app import enhance
from services.resolver.fetch import searches
from services.resolver.logic.upgrades import Summary
from shared.db.pool import create_pool
from shared.kafka.producer import EventProducer
from shared.providers import build_book_providers
from shared.settings import Settings, load_settings


@click.group()
def synthetic() -> None:
    """Synthetic works: books no provider knew, kept from the LLM's answer until one does."""


@synthetic.command("enhance")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Works to try in this run (default: ALEXANDRIA_SYNTHETIC_PER_RUN).")  # fmt: skip
def enhance_once(limit: int | None) -> None:
    """One run: re-resolve the oldest due synthetic works through the ISBN cascade.

    Each work is tried at most once per ALEXANDRIA_SYNTHETIC_RETRY_AFTER_DAYS (a provider
    outage does not count); ISBNdb is skipped when its daily quota is spent. A book that now
    resolves is published as an ISBNResolved, and the pipeline upgrades its work in place.
    """
    settings = load_settings()
    summary = asyncio.run(
        _enhance(settings, settings.synthetic.per_run if limit is None else limit)
    )
    for key in summary.upgraded:
        click.echo(f"resolved {key}")
    click.echo(summary.line())


async def _enhance(settings: Settings, limit: int) -> Summary:
    pool = await create_pool(settings, max_size=2)
    providers = build_book_providers(settings, pool)
    try:
        async with EventProducer(settings) as producer:
            return await enhance(settings, pool, producer, searches(providers), limit)
    finally:
        await providers.aclose()
        await pool.close()
