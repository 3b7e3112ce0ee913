"""`alexandria topics`: the event topics and the dead-letter topic."""

from __future__ import annotations

import asyncio

import click

from shared.kafka.topics import create_topics
from shared.settings import load_settings


@click.group()
def topics() -> None:
    """Kafka topics (one per event type, plus the dead-letter topic)."""


@topics.command()
def create() -> None:
    """Create every missing topic with explicit partitions and no time-based deletion."""
    settings = load_settings()
    for result in asyncio.run(create_topics(settings)):
        click.echo(f"{result.topic:<50} {'created' if result.created else 'exists'}")
