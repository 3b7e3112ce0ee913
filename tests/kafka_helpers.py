"""Reading topics back in tests: every partition from the start until enough arrived."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from shared.kafka.options import client_options
from shared.kafka.topics import partitions_of
from shared.settings import Settings


async def read_topic(
    settings: Settings, topic: str, expected: int, timeout_s: float = 15.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """At least `expected` records of `topic` (fewer only if the timeout passes)."""
    assignment = await partitions_of(settings, [topic])
    consumer = AIOKafkaConsumer(
        **client_options(settings), enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    partitions = await partitions_of(settings, [topic])
    consumer = AIOKafkaConsumer(**client_options(settings))
    await consumer.start()
    try:
        return {tp.partition: o for tp, o in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()
