"""`alexandria`: one entry point for the dev stack, the database, topics and manual publishing.

Known failures become one clear line on stderr and a non-zero exit, never a stack trace.
"""

from __future__ import annotations

import os
from typing import Any

import click
from aiokafka.errors import KafkaError

from ops.cli import backfill, db, demo, dev, dlq, publish, replay, schemas, synthetic, topics, trace
from ops.devstack.processes import StackError
from shared.events import CodecError
from shared.months import InvalidMonth
from shared.settings import SettingsError

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    SettingsError,
    StackError,
    CodecError,
    InvalidMonth,
    KafkaError,
    OSError,
)


class AlexandriaGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except EXPECTED_ERRORS as exc:
            raise click.ClickException(describe(exc)) from None
        except Exception as exc:
            if os.environ.get("ALEXANDRIA_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc}\n"
                "(set ALEXANDRIA_DEBUG=1 to see the traceback)"
            ) from None


def describe(exc: Exception) -> str:
    if isinstance(exc, KafkaError):
        return f"Kafka: {type(exc).__name__} {exc}. Is the broker up? Try: alexandria dev status"
    return str(exc) or type(exc).__name__


@click.group(cls=AlexandriaGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Alexandria Backfill: fill a book database with rich metadata, month by month."""


cli.add_command(dev.dev)
cli.add_command(backfill.backfill)
cli.add_command(demo.demo)
cli.add_command(replay.replay)
cli.add_command(db.db)
cli.add_command(topics.topics)
cli.add_command(publish.publish)
cli.add_command(schemas.schemas)
cli.add_command(dlq.dlq)
cli.add_command(synthetic.synthetic)
cli.add_command(trace.trace)


def main() -> None:
    cli(prog_name="alexandria")
