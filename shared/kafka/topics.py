"""Creates the event topics and the dead-letter topic: explicit partitions, kept forever."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.events import all_topics
from shared.kafka.options import client_options
from shared.settings import Settings

# Topics are the system of record: no time- or size-based deletion.
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicResult:
    topic: str
    created: bool


async def create_topics(settings: Settings) -> list[TopicResult]:
    """Create every topic that is missing; existing topics are left as they are (idempotent)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = all_topics(settings.topics.prefix)
        missing = [t for t in wanted if t not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=topic,
                        num_partitions=settings.topics.partitions,
                        replication_factor=settings.topics.replication_factor,
                        topic_configs=TOPIC_CONFIG,
                    )
                    for topic in missing
                ]
            )
            await _wait_for_leaders(admin, missing)
        return [TopicResult(t, t in missing) for t in wanted]
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float = 30.0
) -> None:
    """Creation returns before partitions have leaders; producing then fails with
    NotLeaderForPartition, so wait until every partition has one."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(topics)
        ready = all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        )
        if ready:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics have no partition leaders after {timeout_s:.0f}s: {topics}")
        await asyncio.sleep(0.1)


async def partitions_of(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`, from the cluster's metadata."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        return sorted(
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        )
    finally:
        await admin.close()
