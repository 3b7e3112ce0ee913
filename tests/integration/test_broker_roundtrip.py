"""Every event type goes through the real broker to its own topic, keyed, and decodes unchanged."""

from __future__ import annotations

from shared.events import Codec, event_type_of
from shared.kafka.producer import EventProducer
from tests.kafka_helpers import read_topic
from tests.samples import all_samples


async def test_every_event_type_round_trips_through_kafka(settings) -> None:
    codec = Codec()
    samples = all_samples()
    async with EventProducer(settings, codec) as producer:
        for event in samples:
            await producer.send(event, headers=[("traceparent", b"00-test")])

    for event in samples:
        event_type = event_type_of(event)
        records = await read_topic(settings, event_type.topic(settings.topics.prefix), 1)
        assert len(records) == 1, event_type.name
        record = records[0]
        assert record.key == event_type.key(event).encode()
        assert codec.decode(record.value) == event
        assert ("traceparent", b"00-test") in list(record.headers)


async def test_same_key_lands_in_one_partition_in_order(settings) -> None:
    sample = all_samples()[0]
    events = [sample.model_copy(update={"attempt": n}) for n in range(1, 6)]
    async with EventProducer(settings) as producer:
        for event in events:
            await producer.send(event)
    records = await read_topic(settings, f"{settings.topics.prefix}.month-scheduled", 5)
    assert len({r.partition for r in records}) == 1
    assert [Codec().decode(r.value).attempt for r in records] == [1, 2, 3, 4, 5]
