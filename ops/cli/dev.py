"""`alexandria dev`: the local stack (PostgreSQL, Kafka, sandbox, Jaeger): up, down, status, env."""

from __future__ import annotations

import asyncio
import shlex
import time

import click

from ops.devstack import services_proc
from ops.devstack.processes import StackError
from ops.devstack.stack import COMPONENTS, stack_env
from shared.db.migrate import apply_migrations
from shared.kafka.topics import create_topics
from shared.settings import Settings, load_settings


def local_settings() -> Settings:
    """Settings aimed at the local stack, whatever the shell's connection variables say."""
    base = load_settings()
    return load_settings(
        **{
            k.removeprefix("ALEXANDRIA_").lower(): v
            for k, v in stack_env(base).items()
            if k in ("ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS", "ALEXANDRIA_DATABASE_URL")
        }
    )


@click.group()
def dev() -> None:
    """The embedded local stack: Kafka (KRaft), PostgreSQL 15, the API sandbox, Jaeger; loopback."""


@dev.command()
@click.option("--no-setup", is_flag=True, help="Only start processes; skip migrations and topics.")
def up(no_setup: bool) -> None:
    """Start what is not running (idempotent), then apply migrations and create topics."""
    settings = local_settings()
    began = time.monotonic()
    for component in COMPONENTS:
        started = time.monotonic()
        outcome = component.start(settings)
        click.echo(
            f"{component.name:<11} {outcome:<16} {component.address(settings)}"
            f"  ({time.monotonic() - started:.1f}s)"
        )
    if not no_setup:
        report = apply_migrations(settings.dsn, settings.database.schema_name)
        click.echo(
            f"{'migrations':<11} {len(report.applied)} applied, "
            f"{report.already_applied} already there"
        )
        results = asyncio.run(create_topics(settings))
        click.echo(
            f"{'topics':<11} {sum(r.created for r in results)} created, "
            f"{sum(not r.created for r in results)} already there"
        )
    click.echo(
        f"stack up in {time.monotonic() - began:.1f}s. "
        'Point your shell at it with: eval "$(alexandria dev env)"'
    )


@dev.command()
def down() -> None:
    """Stop every component of the local stack and any demo services (data is kept)."""
    settings = local_settings()
    for service in services_proc.stop(settings.dev.state_dir):
        click.echo(f"{service:<11} stopped")
    failed = []
    for component in reversed(COMPONENTS):
        try:
            stopped = component.stop(settings)
        except StackError as exc:
            failed.append(component.name)
            click.echo(f"{component.name:<11} FAILED to stop: {exc}", err=True)
            continue
        click.echo(f"{component.name:<11} {'stopped' if stopped else 'was not running'}")
    if failed:
        click.echo(f"not stopped: {', '.join(failed)}; run `alexandria dev down` again", err=True)
        raise click.exceptions.Exit(1)


@dev.command()
def status() -> None:
    """Show whether each component answers, with its address; exit 1 if one does not."""
    settings = local_settings()
    healthy = True
    for component in COMPONENTS:
        ok = component.healthy(settings)
        healthy &= ok
        click.echo(
            f"{component.name:<11} {'healthy' if ok else 'down':<8} {component.address(settings)}"
        )
    click.echo(f"state folder: {settings.dev.state_dir}")
    if not healthy:
        raise click.exceptions.Exit(1)


@dev.command()
def env() -> None:
    """Print `export` lines for the stack's addresses: eval "$(alexandria dev env)"."""
    for name, value in stack_env(local_settings()).items():
        click.echo(f"export {name}={shlex.quote(value)}")
