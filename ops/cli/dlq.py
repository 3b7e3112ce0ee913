"""`alexandria dlq`: read, re-inject and purge the dead-letter topic."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import click
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from ops.dead_letter_reader import (
    REPLAYED_FROM,
    DlqError,
    Letter,
    check_replay_request,
    format_count,
    format_letter,
    matching,
    newest,
    parse_time,
    purge_plan,
    replay_headers,
    select_for_replay,
    to_ms,
    unique,
)
from shared.events import DEAD_LETTER, Codec, CodecError, DeadLetter
from shared.kafka.consumer import make_consumer
from shared.kafka.options import client_options
from shared.kafka.producer import EventProducer
from shared.settings import Settings, load_settings

READ_TIMEOUT_S = 60.0
T = TypeVar("T")


@dataclass(frozen=True)
class Topic:
    """The dead-letter topic as read once: its letters, offsets and what was not a letter."""

    letters: list[Letter]
    partitions: list[TopicPartition]
    beginning: dict[TopicPartition, int]
    end: dict[TopicPartition, int]
    not_letters: int


def _before(_: click.Context, __: click.Parameter, value: str) -> datetime:
    try:
        return parse_time(value)
    except DlqError as exc:
        raise click.BadParameter(str(exc)) from None


def _run(job: Coroutine[Any, Any, T]) -> T:
    """Run one Kafka step; a refusal becomes click's one-line error, not a traceback."""
    try:
        return asyncio.run(job)
    except DlqError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def dlq() -> None:
    """The dead-letter topic: what consumers gave up on, with the reason and the original bytes."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=100, show_default=True,
              help="Show the newest N (0: all).")  # fmt: skip
@click.option("--consumer", default=None, help="Only dead letters of this consumer.")
@click.option("--source-topic", default=None, help="Only dead letters from this topic.")
def list_(limit: int, consumer: str | None, source_topic: str | None) -> None:
    """One line per dead letter: id, time, consumer, source topic/partition@offset, error."""
    topic = _run(_read(load_settings()))
    everything = unique(topic.letters)
    picked = matching(everything, consumer=consumer, source_topic=source_topic)
    shown = newest(picked, limit)
    for letter in shown:
        click.echo(format_letter(letter))
    click.echo(format_count(len(shown), len(picked), len(everything)))
    if topic.not_letters:
        click.echo(f"({topic.not_letters} records on the topic are not DeadLetter events)")


@dlq.command()
@click.option("--id", "ids", multiple=True, help="Event id of a dead letter (repeatable).")
@click.option("--all", "replay_all", is_flag=True, help="Every dead letter (of --consumer).")
@click.option("--consumer", default=None, help="Only dead letters of this consumer.")
def replay(ids: tuple[str, ...], replay_all: bool, consumer: str | None) -> None:
    """Re-inject dead letters onto their source topic, after the consumer was fixed.

    The original key, value bytes and headers are published again, with the header
    alexandria-dlq-replayed-from: <dead letter id>. The message gets a new offset, so every
    consumer of that topic sees it again (the services are idempotent by event id). The dead
    letter itself stays in the dead-letter topic; purge it with `alexandria dlq purge`.
    """
    try:
        check_replay_request(ids, replay_all)  # before touching Kafka
    except DlqError as exc:
        raise click.UsageError(str(exc)) from None
    settings = load_settings()
    topic = _run(_read(settings))
    try:
        chosen = select_for_replay(topic.letters, ids, replay_all, consumer)
    except DlqError as exc:
        raise click.ClickException(str(exc)) from None
    if not chosen:
        click.echo("no dead letters to replay")
        return
    for letter, where in zip(chosen, _run(_reinject(settings, chosen)), strict=True):
        click.echo(
            f"replayed {letter.event_id} ({letter.event.consumer}, was {letter.source}) "
            f"-> {where} with {REPLAYED_FROM}"
        )
    click.echo(f"{len(chosen)} replayed; the dead letters stay in the dead-letter topic")


@dlq.command()
@click.option("--before", required=True, callback=_before, metavar="ISO-TIME",
              help="Delete dead letters older than this ISO time (UTC if no zone).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Show what would be deleted, delete nothing.")
def purge(before: datetime, dry_run: bool) -> None:
    """Delete dead letters older than --before with Kafka's DeleteRecords.

    Per partition, everything before the first record at or after --before goes (found with
    offsets_for_times), so a partition loses only a prefix and nothing newer is deleted.
    """
    settings = load_settings()
    topic, cuts = _run(_cuts(settings, before))
    plan = purge_plan(topic.letters, cuts)  # records, duplicates too: they go as well
    verb = "would delete" if dry_run else "deleted"
    if dry_run:
        for letters in plan.values():
            for letter in letters:
                click.echo(format_letter(letter))
    else:
        _run(_delete(settings, topic, cuts))
    for partition, letters in plan.items():
        click.echo(f"partition {partition}: {verb} {len(letters)} (up to offset {cuts[partition]})")
    total = sum(len(v) for v in plan.values())
    click.echo(f"{verb} {total} dead letters older than {before.isoformat()}")


# --- Kafka I/O ---------------------------------------------------------------------------------


def _topic_name(settings: Settings) -> str:
    return DEAD_LETTER.topic(settings.topics.prefix)


async def _partitions(settings: Settings) -> list[TopicPartition]:
    name = _topic_name(settings)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([name])
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise DlqError(f"topic {name} does not exist; create it with: alexandria topics create")
    return sorted(TopicPartition(name, p["partition"]) for p in described["partitions"])


async def _read(settings: Settings) -> Topic:
    """Every committed record of every partition, from the start up to today's end."""
    partitions = await _partitions(settings)
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        beginning = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        letters, not_letters = await _drain(consumer, end)
        return Topic(letters, partitions, beginning, end, not_letters)
    finally:
        await consumer.stop()


async def _drain(
    consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]
) -> tuple[list[Letter], int]:
    codec = Codec()
    letters: list[Letter] = []
    not_letters = 0
    deadline = asyncio.get_running_loop().time() + READ_TIMEOUT_S
    while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
        if asyncio.get_running_loop().time() > deadline:
            raise DlqError(f"could not read the dead-letter topic within {READ_TIMEOUT_S:.0f}s")
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                try:
                    event = codec.decode(record.value)
                except CodecError:
                    event = None
                if not isinstance(event, DeadLetter):
                    not_letters += 1
                    continue
                letters.append(Letter(event, record.partition, record.offset, record.timestamp))
    return letters, not_letters


async def _reinject(settings: Settings, letters: Sequence[Letter]) -> list[str]:
    """Publish each letter's original message again, one at a time to keep their order."""
    done: list[str] = []
    async with EventProducer(settings) as producer:
        for letter in letters:
            e = letter.event
            meta = await producer.send_raw(e.source_topic, e.key, e.payload, replay_headers(letter))
            done.append(f"{meta.topic}/{meta.partition}@{meta.offset}")
    return done


async def _cuts(settings: Settings, before: datetime) -> tuple[Topic, dict[int, int]]:
    """The topic as read, and per partition the first offset at or after `before`."""
    topic = await _read(settings)
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        found = await consumer.offsets_for_times({tp: to_ms(before) for tp in topic.partitions})
    finally:
        await consumer.stop()
    cuts = {
        tp.partition: (hit.offset if hit is not None else topic.end[tp])
        for tp, hit in found.items()
    }
    return topic, cuts


async def _delete(settings: Settings, topic: Topic, cuts: dict[int, int]) -> None:
    wanted = {
        tp: RecordsToDelete(before_offset=cuts[tp.partition])
        for tp in topic.partitions
        if cuts[tp.partition] > topic.beginning[tp]
    }
    if not wanted:
        return
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.delete_records(wanted)
    finally:
        await admin.close()
