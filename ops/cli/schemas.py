"""`alexandria schemas`: regenerate the event models after changing a schema."""

from __future__ import annotations

import click

from shared.events import codegen


@click.group()
def schemas() -> None:
    """The Avro schemas in schemas/ and the models generated from them."""


@schemas.command()
def generate() -> None:
    """Rewrite shared/events/generated.py from the newest version of each schema."""
    click.echo(f"wrote {codegen.write()}")


@schemas.command()
def check() -> None:
    """Exit 1 if the generated models are out of date."""
    if codegen.GENERATED.read_text() != codegen.generate():
        raise click.ClickException("models are stale: run `alexandria schemas generate`")
    click.echo("models match the schemas")
