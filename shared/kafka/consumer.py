"""The one way this project makes a Kafka consumer: offsets never auto-committed, committed
(read_committed) events only, and a partition without a position read from its beginning."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.kafka.options import client_options
from shared.settings import Settings


def make_consumer(
    settings: Settings, *topics: str, group_id: str | None = None, **options: Any
) -> AIOKafkaConsumer:
    """A consumer for `topics` (or for partitions assigned later).

    Never "latest": with it, the reset for a missing position can race a seek and deliver a
    newer record first, whose stored offset then makes the older ones look applied already.
    """
    return AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **options,
    )
