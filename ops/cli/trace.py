"""`alexandria trace show`: one month's trace from Jaeger as a waterfall, in the terminal or as a
static HTML page (the Jaeger UI's assets are not available here; see ops/trace_view.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ops.cli.dev import local_settings
from ops.devstack import jaeger
from ops.trace_view import TraceViewError, fetch_month_trace, parse_trace, render_html, render_text
from shared.months import parse_year_month


@click.group()
def trace() -> None:
    """Read a month's trace from Jaeger's query API."""


def _month(_: click.Context, __: click.Parameter, value: str) -> str:
    try:
        return str(parse_year_month(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@trace.command()
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option(
    "--jaeger",
    "jaeger_url",
    default=None,
    help="Jaeger's query URL.  [default: the local stack's, http://127.0.0.1:26686]",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write the waterfall as a self-contained HTML page to this file.",
)
@click.option(
    "--no-library",
    is_flag=True,
    help="Leave out the HTTP, SQL and Kafka spans of OpenTelemetry's instrumentations.",
)
def show(month: str, jaeger_url: str | None, html_file: Path | None, no_library: bool) -> None:
    """The month's trace (its newest run) as a waterfall: one line per span, by parent."""
    url = jaeger_url or jaeger.ui_url(local_settings())
    try:
        found = fetch_month_trace(url, month)
        view = parse_trace(found.trace, hide_library=no_library)
    except TraceViewError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(render_text(view), nl=False)
    if found.candidates > 1:
        click.echo(f"({found.candidates} runs of {month} in Jaeger; this is the newest)")
    if html_file is not None:
        html_file.write_text(render_html(view), encoding="utf-8")
        click.echo(f"wrote {html_file}")
