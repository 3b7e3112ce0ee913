"""`alexandria replay`: rebuild the tables from the topics, verify them, swap them in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from ops import replay as rp
from shared.settings import load_settings


@contextmanager
def progress_bar(label: str) -> Iterator[rp.Progress]:
    """A progress bar on stderr: events applied / total, rate, ETA."""
    started = time.monotonic()
    bar: Any = None
    shown = 0

    def rate(_: object) -> str:
        return f"{shown / max(time.monotonic() - started, 1e-9):,.0f} events/s"

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = click.progressbar(
                length=max(total, 1),
                label=label,
                show_eta=True,
                item_show_func=rate,
                file=click.get_text_stream("stderr"),
            )
            bar.__enter__()
        bar.update(done - shown)
        shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _groups(_: click.Context, __: click.Parameter, value: str) -> tuple[str, ...]:
    groups = tuple(g.strip() for g in value.split(",") if g.strip())
    unknown = [g for g in groups if g not in rp.GROUPS]
    if unknown or not groups:
        raise click.BadParameter(
            f"unknown table group(s) {', '.join(unknown) or '(none)'}; "
            f"use a comma-separated list of: {', '.join(rp.GROUPS)}"
        )
    return groups


@click.group(invoke_without_command=True)
@click.option(
    "--tables",
    default=",".join(rp.GROUPS),
    show_default=True,
    callback=_groups,
    help="Table groups to swap in: catalogue (editions, works, authors), months "
    "(backfill_log, month_books), audit (enrichment_log).",
)
@click.option(
    "--until-offset",
    type=click.IntRange(min=0),
    default=None,
    help="Stop each partition at this offset.",
)
@click.option(
    "--until",
    "until_time",
    type=click.DateTime(),
    default=None,
    help="Stop at events written before this time (UTC), e.g. 2026-11-28T12:00:00.",
)
@click.option("--dry-run", is_flag=True, help="Rebuild and compare with the live tables only.")
@click.option(
    "--keep/--no-keep",
    default=True,
    show_default=True,
    help="Keep the previous tables (drop them later with `replay drop-previous`).",
)
@click.pass_context
def replay(
    ctx: click.Context,
    tables: tuple[str, ...],
    until_offset: int | None,
    until_time: datetime | None,
    dry_run: bool,
    keep: bool,
) -> None:
    """Rebuild the projected tables from the topics (offset 0) into a fresh schema while the
    live tables keep serving, then swap them in atomically."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    schema = f"alexandria_rebuild_{rp.stamp()}"

    async def run() -> None:
        ends = await rp.end_offsets(settings, until_offset, until_time)
        with progress_bar("rebuilding") as progress:
            result = await rp.rebuild(settings, schema, ends, progress)
        click.echo(
            f"rebuilt {result.events:,} events into {schema} in {result.seconds:.1f}s "
            f"({result.rate:,.0f} events/s)"
        )
        diffs = await rp.compare(settings, schema)
        for diff in diffs:
            _echo_diff(diff)
        if dry_run:
            await rp.drop_schema(settings, schema)
            click.echo("dry run: nothing swapped")
            return
        swapped = await rp.swap(settings, schema, tables, keep)
        click.echo(
            f"swapped in {', '.join(swapped.tables)}"
            + (
                f"; previous tables kept in {swapped.previous_schema}"
                if swapped.previous_schema
                else "; previous tables dropped"
            )
        )
        if swapped.carried_claims or swapped.carried_plans:
            click.echo(
                f"carried over {swapped.carried_claims} claims and "
                f"{swapped.carried_plans} plans made while rebuilding"
            )

    asyncio.run(run())


def _echo_diff(diff: rp.TableDiff) -> None:
    state = "identical" if diff.identical else "DIFFERENT"
    click.echo(
        f"  {diff.table:<20} live {diff.live_rows:>8} rebuilt {diff.rebuilt_rows:>8}  {state}"
    )
    for key in diff.first_differences:
        click.echo(f"      first differing key ({key})")


@replay.command()
@click.option("--keep-scratch", is_flag=True, help="Keep the scratch schema for inspection.")
def verify(keep_scratch: bool) -> None:
    """Rebuild what the live projector applied into a scratch schema and compare row by row;
    exit 1 unless identical."""
    settings = load_settings()

    async def run() -> rp.VerifyReport:
        with progress_bar("verifying") as progress:
            return await rp.verify(settings, progress, keep_scratch)

    report = asyncio.run(run())
    for diff in report.tables:
        _echo_diff(diff)
    live, rebuilt = report.audit_rows
    click.echo(
        f"  enrichment_log       live {live:>8} rebuilt {rebuilt:>8}  "
        "(audit of arrival order: not compared)"
    )
    click.echo(
        f"rebuilt {report.rebuild.events:,} events in {report.rebuild.seconds:.1f}s "
        f"({report.rebuild.rate:,.0f} events/s)"
    )
    if not report.identical:
        raise click.ClickException("the live tables differ from a rebuild of the topics")
    click.echo("identical")


@replay.command("drop-previous")
def drop_previous() -> None:
    """Drop the tables kept from earlier replays."""
    settings = load_settings()

    async def run() -> list[str]:
        schemas = await rp.previous_schemas(settings)
        for schema in schemas:
            await rp.drop_schema(settings, schema)
        return schemas

    dropped = asyncio.run(run())
    click.echo(f"dropped {len(dropped)} previous version(s): {', '.join(dropped) or 'none'}")
