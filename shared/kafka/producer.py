"""Publishes events: Avro single-object values, keyed per event type, acked by all ISRs."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata, TopicPartition

from shared.events import Codec, event_type_of
from shared.events.generated import Event
from shared.kafka.options import client_options
from shared.settings import Settings
from shared.tracing import within

Headers = Sequence[tuple[str, bytes]]


class EventProducer:
    """One idempotent producer per process; `send` returns once the broker has the event."""

    def __init__(
        self, settings: Settings, codec: Codec | None = None, transactional_id: str | None = None
    ) -> None:
        self.prefix = settings.topics.prefix
        self.codec = codec or Codec()
        self._producer = AIOKafkaProducer(
            **client_options(settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            transactional_id=transactional_id,
            transaction_timeout_ms=60_000,
        )

    def transaction(self) -> Any:
        """Kafka transaction: everything sent inside, and the offsets, commit or abort together."""
        return self._producer.transaction()

    async def send_offsets(self, offsets: dict[TopicPartition, int], group_id: str) -> None:
        await self._producer.send_offsets_to_transaction(offsets, group_id)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def topic_of(self, event: Event) -> str:
        return event_type_of(event).topic(self.prefix)

    async def send(self, event: Event, headers: Headers = ()) -> RecordMetadata:
        event_type = event_type_of(event)
        return await self.send_raw(
            event_type.topic(self.prefix),
            event_type.key(event).encode(),
            self.codec.encode(event),
            headers,
        )

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> RecordMetadata:
        # The send (and the aiokafka send span) runs in the trace the headers carry: a relayed
        # outbox row joins its month's trace rather than the relay's.
        with within(headers):
            result: RecordMetadata = await self._producer.send_and_wait(
                topic, value=value, key=key, headers=list(headers)
            )
        return result
