"""`alexandria backfill`: plan months, run one scheduler round, and show progress."""

from __future__ import annotations

import asyncio
import os
import sys

import click

from ops.calendar import MonthCell, render_calendar
from ops.progress import Progress, read_months, read_progress, summary
from services.scheduler.app import tick
from services.scheduler.store import plan_months
from shared.db.pool import create_pool
from shared.events import Codec
from shared.kafka.producer import EventProducer
from shared.months import YearMonth, months_between, parse_year_month
from shared.settings import Settings, load_settings


@click.group()
def backfill() -> None:
    """Backfill months: plan them, schedule them, follow them."""


def _year_month(_: click.Context, __: click.Parameter, value: str) -> YearMonth:
    try:
        return parse_year_month(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@backfill.command()
@click.option("--from", "first", required=True, callback=_year_month, help="First month, YYYY-MM.")
@click.option("--to", "last", required=True, callback=_year_month, help="Last month, YYYY-MM.")
def plan(first: YearMonth, last: YearMonth) -> None:
    """Add the months from --from to --to as pending (months already known keep their state)."""
    months = months_between(first, last)
    added = asyncio.run(_plan(load_settings(), months))
    click.echo(
        f"planned {len(months)} months ({months[0]} .. {months[-1]}): "
        f"{added} new, {len(months) - added} already there"
    )


async def _plan(settings: Settings, months: list[YearMonth]) -> int:
    pool = await create_pool(settings, max_size=1)
    try:
        return await plan_months(pool, months)
    finally:
        await pool.close()


@backfill.command("tick")
def tick_once() -> None:
    """One scheduler round: claim due months, publish their MonthScheduled events."""
    claimed, relayed = asyncio.run(_tick(load_settings()))
    click.echo(f"claimed {claimed} months, published {relayed} events")


async def _tick(settings: Settings) -> tuple[int, int]:
    pool = await create_pool(settings, max_size=2)
    try:
        async with EventProducer(settings, Codec()) as producer:
            return await tick(settings, pool, producer)
    finally:
        await pool.close()


@backfill.command()
@click.option(
    "--calendar",
    is_flag=True,
    help="Draw the months as a year x month grid: status and resolution rate per month.",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the calendar by status (auto: when stdout is a terminal and NO_COLOR is unset).",
)
def status(calendar: bool, color: str) -> None:
    """Months by status, books, ISBNs, synthetic works, rows per table and provider calls."""
    settings = load_settings()
    if not calendar:
        click.echo(summary(asyncio.run(_progress(settings))))
        return
    colored = use_color(color)
    # click.echo drops ANSI codes when stdout is not a terminal unless told otherwise.
    click.echo(render_calendar(asyncio.run(_months(settings)), color=colored), color=colored)


def use_color(choice: str) -> bool:
    if choice == "auto":
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return choice == "always"


async def _progress(settings: Settings) -> Progress:
    pool = await create_pool(settings, max_size=1)
    try:
        return await read_progress(pool)
    finally:
        await pool.close()


async def _months(settings: Settings) -> list[MonthCell]:
    pool = await create_pool(settings, max_size=1)
    try:
        return await read_months(pool)
    finally:
        await pool.close()
