"""An undecodable message is dead-lettered with its bytes and reason; the rest flows on."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from shared.events import Codec, DeadLetter
from shared.kafka.dead_letter_sender import decode_or_dead_letter
from shared.kafka.options import client_options
from shared.kafka.producer import EventProducer
from tests.kafka_helpers import read_topic
from tests.samples import all_samples


async def test_poison_message_is_dead_lettered_and_consumption_continues(settings) -> None:
    codec = Codec()
    good = all_samples()[0]
    topic = f"{settings.topics.prefix}.month-scheduled"
    async with EventProducer(settings, codec) as producer:
        await producer.send(good)
        await producer.send_raw(
            topic, b"2019-03", b"\xc3\x01not-a-fingerprint", [("traceparent", b"00-x")]
        )
        await producer.send(good.model_copy(update={"month": 4}))

        consumer = AIOKafkaConsumer(
            topic,
            **client_options(settings),
            group_id=f"{settings.topics.prefix}-test",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        decoded = []
        try:
            seen = 0
            while seen < 3:
                for records in (await consumer.getmany(timeout_ms=5000)).values():
                    for record in records:
                        seen += 1
                        event = await decode_or_dead_letter(
                            codec, producer, record, "test-consumer"
                        )
                        if event is not None:
                            decoded.append(event)
        finally:
            await consumer.stop()

    assert sorted(e.month for e in decoded) == [3, 4]
    letters = await read_topic(settings, f"{settings.topics.prefix}.dead-letter", 1)
    assert len(letters) == 1
    letter = codec.decode(letters[0].value)
    assert isinstance(letter, DeadLetter)
    assert letter.payload == b"\xc3\x01not-a-fingerprint"
    assert letter.source_topic == topic and letter.source_offset >= 0
    assert letter.consumer == "test-consumer"
    assert letter.error_type == "CodecError"
    assert "unknown schema fingerprint" in letter.reason
    assert letter.headers == {"traceparent": b"00-x"}
    assert letter.key == b"2019-03"
