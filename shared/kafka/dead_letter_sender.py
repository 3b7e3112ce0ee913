"""Sends dead letters: what a consumer cannot decode or apply goes to the dead-letter topic with
the reason and its source position, so nothing is skipped silently (docs/architecture.md §3).
Reading them back is `ops/dead_letter_reader.py`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.structs import ConsumerRecord

from shared.events import Codec, CodecError, DeadLetter, make_envelope
from shared.events.generated import Event
from shared.kafka.producer import EventProducer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedMessage:
    """The coordinates and bytes of a message a consumer gave up on."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def dead_letter_event(
    message: FailedMessage, consumer: str, error: BaseException | str
) -> DeadLetter:
    error_type = error if isinstance(error, str) else type(error).__name__
    reason = str(getattr(error, "reason", None) or error)
    source = f"{message.topic}/{message.partition}/{message.offset}"
    return DeadLetter(
        # One dead letter per source message and consumer, however often it is retried.
        envelope=make_envelope(
            DeadLetter,
            producer=consumer,
            correlation_id=f"dlq:{source}",
            causation_id=source,
            item=consumer,
        ),
        consumer=consumer,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        key=message.key,
        payload=message.value,
        headers=dict(message.headers),
        error_type=error_type,
        reason=reason[:4000],
    )


async def send_to_dead_letter(
    producer: EventProducer, message: FailedMessage, consumer: str, error: BaseException | str
) -> DeadLetter:
    """Park the message with the reason and wait for the broker's ack, so consuming can go on."""
    event = dead_letter_event(message, consumer, error)
    await producer.send(event)
    log.warning(
        "dead-lettered %s/%s/%s for %s: %s %s",
        message.topic,
        message.partition,
        message.offset,
        consumer,
        event.error_type,
        event.reason,
    )
    return event


async def decode_or_dead_letter(
    codec: Codec, producer: EventProducer, message: ConsumerRecord[bytes, bytes], consumer: str
) -> Event | None:
    """The decoded event, or None after parking an undecodable message on the dead-letter topic."""
    try:
        return codec.decode(message.value)
    except CodecError as exc:
        await send_to_dead_letter(producer, failed_message(message), consumer, exc)
        return None


def failed_message(message: ConsumerRecord[bytes, bytes]) -> FailedMessage:
    return FailedMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value or b"",
        headers=tuple(message.headers or ()),
    )
