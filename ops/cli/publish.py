"""`alexandria publish`: hand-publish an event, validated before anything is sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click

from shared.events import MonthScheduled, make_envelope, month_correlation_id
from shared.kafka.producer import EventProducer
from shared.months import PROMPT_VARIANTS, validate_month_request
from shared.settings import Settings, load_settings


@click.group()
def publish() -> None:
    """Publish one event by hand (for operators and debugging)."""


@publish.command("month-scheduled")
@click.option("--year", type=int, required=True, help="Year of the month, 1900..this year.")
@click.option("--month", type=int, required=True, help="Month, 1..12.")
@click.option(
    "--prompt-variant",
    type=str,
    default=None,
    help=f"One of {', '.join(PROMPT_VARIANTS)}; default by year.",
)
@click.option("--batch-size", type=int, default=None, help="Books to ask each LLM for, 1..100.")
def month_scheduled(
    year: int, month: int, prompt_variant: str | None, batch_size: int | None
) -> None:
    """Publish a MonthScheduled for YEAR-MONTH, as the scheduler would."""
    request = validate_month_request(
        year, month, prompt_variant, batch_size, datetime.now(UTC).date()
    )
    event = MonthScheduled(
        envelope=make_envelope(
            MonthScheduled,
            producer="cli",
            correlation_id=month_correlation_id(request.year, request.month),
        ),
        year=request.year,
        month=request.month,
        prompt_variant=request.prompt_variant,
        batch_size=request.batch_size,
    )
    settings = load_settings()
    metadata = asyncio.run(_send(settings, event))
    click.echo(
        f"published MonthScheduled {request.year}-{request.month:02d} "
        f"({request.prompt_variant}, batch {request.batch_size}) "
        f"event_id={event.envelope.event_id} to {metadata}"
    )


async def _send(settings: Settings, event: MonthScheduled) -> str:
    async with EventProducer(settings) as producer:
        meta = await producer.send(event)
    return f"{meta.topic}[{meta.partition}]@{meta.offset}"
