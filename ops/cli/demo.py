"""`alexandria demo`: the whole pipeline on the local stack, from plan to summary."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import click

from ops.cli.dev import local_settings, up
from ops.devstack import services_proc
from ops.devstack.stack import stack_env
from ops.progress import progress_line, read_progress, summary
from services.scheduler.store import plan_months
from shared.months import YearMonth, months_between, parse_year_month


@click.command()
@click.option("--from", "first", default="2019-01", show_default=True, help="First month.")
@click.option("--to", "last", default="2019-06", show_default=True, help="Last month.")
@click.option("--timeout", default=900, show_default=True, help="Give up after this many s.")
@click.option("--keep-running", is_flag=True, help="Leave the services running afterwards.")
@click.pass_context
def demo(ctx: click.Context, first: str, last: str, timeout: int, keep_running: bool) -> None:
    """Start the stack and the five services, backfill FROM..TO, show progress and a summary."""
    try:
        months = months_between(parse_year_month(first), parse_year_month(last))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    ctx.invoke(up)
    settings = local_settings()
    env = {**stack_env(settings), "ALEXANDRIA_SCHEDULER_INTERVAL_S": "2"}
    services_proc.start(settings.dev.state_dir, env)
    click.echo(f"services running (logs in {settings.dev.state_dir / 'services'})")
    try:
        asyncio.run(_follow(settings.dsn, months, timeout))
    finally:
        if not keep_running:
            services_proc.stop(settings.dev.state_dir)


async def _follow(dsn: str, months: list[YearMonth], limit_s: int) -> None:
    began = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        added = await plan_months(conn, months)
        click.echo(f"planned {len(months)} months ({months[0]} .. {months[-1]}), {added} new")
        last = ""
        while time.monotonic() - began < limit_s:
            progress = await read_progress(conn)
            line = progress_line(progress)
            if line != last:
                click.echo(f"[{time.monotonic() - began:6.1f}s] {line}")
                last = line
            if progress.months_open == 0:
                break
            await asyncio.sleep(2)
        else:
            click.echo(f"timed out after {limit_s}s with months still open")
        click.echo(summary(await read_progress(conn), time.monotonic() - began))
    finally:
        await conn.close()
