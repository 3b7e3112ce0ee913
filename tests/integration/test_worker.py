"""The consumer loop on the real broker: exactly-once outputs, dead letters, retries, isolation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.events import Codec, DeadLetter, MonthGenerationFailed, MonthScheduled, make_envelope
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, Worker, WorkerSpec, topic_for
from tests.kafka_helpers import read_topic
from tests.samples import all_samples

SCHEDULED = all_samples()[0]
assert isinstance(SCHEDULED, MonthScheduled)


def failed_for(event: MonthScheduled) -> MonthGenerationFailed:
    return MonthGenerationFailed(
        envelope=make_envelope(
            MonthGenerationFailed,
            producer="test",
            correlation_id="c",
            causation_id=event.envelope.event_id,
            item="echo",
        ),
        year=event.year,
        month=event.month,
        attempt=event.attempt,
        reason="echo",
        provider_calls=[],
    )


async def run_until(worker: Worker, done, timeout_s: float = 30.0) -> None:
    task = asyncio.create_task(worker.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await done():
            assert asyncio.get_running_loop().time() < deadline, "worker did not finish in time"
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
        await task


@pytest.fixture
async def inputs(settings):
    events = [SCHEDULED.model_copy(update={"month": m}) for m in (1, 2, 3)]
    async with EventProducer(settings) as producer:
        for event in events:
            await producer.send(event)
        await producer.send_raw(topic_for(settings, MonthScheduled), b"2019-09", b"garbage")
    return events


async def test_outputs_dead_letters_and_offsets(settings, inputs) -> None:
    calls: list[int] = []

    async def handle(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
        calls.append(len(batch))
        if len(calls) == 1:
            # Half the outputs are sent, then the database "goes away": the transaction aborts.
            await producer.send(failed_for(batch[0].event))
            raise ConnectionResetError("database went away")
        rejects = [Reject(i, "month 2 is impossible") for i in batch if i.event.month == 2]
        for item in batch:
            if item.event.month != 2:
                await producer.send(failed_for(item.event))
        return rejects

    spec = WorkerSpec(
        "echo",
        [topic_for(settings, MonthScheduled)],
        handle,
        max_batch=10,
        max_wait_s=0.5,
        retry_backoff_s=(0.05, 0.1),
    )
    async with EventProducer(settings, transactional_id=f"{settings.topics.prefix}-t1") as prod:
        worker = Worker(spec, settings, prod)

        async def done() -> bool:
            return len(calls) >= 2

        await run_until(worker, done)

    outputs = await read_topic(settings, topic_for(settings, MonthGenerationFailed), 3, 5)
    assert sorted(Codec().decode(r.value).month for r in outputs) == [1, 3]  # aborted one unseen
    letters = [
        Codec().decode(r.value)
        for r in await read_topic(settings, topic_for(settings, DeadLetter), 2, 5)
    ]
    assert all(isinstance(d, DeadLetter) for d in letters)
    assert sorted(d.reason for d in letters) == sorted(
        [
            "month 2 is impossible",
            "not Avro single-object encoding (expected marker C3 01 and an 8-byte fingerprint)",
        ]
    )

    # The offsets were committed with the outputs: a new worker has nothing left to do.
    seen: list[int] = []

    async def record(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
        seen.append(len(batch))
        return ()

    async with EventProducer(settings, transactional_id=f"{settings.topics.prefix}-t2") as prod:
        again = Worker(WorkerSpec("echo", spec.topics, record), settings, prod)
        waited = {"n": 0}

        async def idle() -> bool:
            waited["n"] += 1
            return waited["n"] > 10

        await run_until(again, idle)
    assert seen == []


async def test_a_handler_bug_is_isolated_to_its_event(settings, inputs) -> None:
    handled: list[int] = []

    async def handle(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
        for item in batch:
            if item.event.month == 3:
                raise KeyError("boom")
        for item in batch:
            handled.append(item.event.month)
            await producer.send(failed_for(item.event))
        return ()

    spec = WorkerSpec(
        "buggy", [topic_for(settings, MonthScheduled)], handle, max_batch=10, max_wait_s=0.5
    )
    async with EventProducer(settings, transactional_id=f"{settings.topics.prefix}-t3") as prod:
        worker = Worker(spec, settings, prod)

        async def done() -> bool:
            return len(await read_topic(settings, topic_for(settings, DeadLetter), 2, 0.5)) >= 2

        await run_until(worker, done)
    outputs = await read_topic(settings, topic_for(settings, MonthGenerationFailed), 2, 5)
    assert sorted(Codec().decode(r.value).month for r in outputs) == [1, 2]
    letters = [
        Codec().decode(r.value)
        for r in await read_topic(settings, topic_for(settings, DeadLetter), 2, 5)
    ]
    assert any(d.reason == "handler error: KeyError: 'boom'" for d in letters)


async def test_an_event_type_the_service_does_not_accept_is_dead_lettered_unhandled(
    settings, inputs
) -> None:
    handled: list[Incoming] = []

    async def handle(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
        handled.extend(batch)
        return ()

    spec = WorkerSpec(
        "picky",
        [topic_for(settings, MonthScheduled)],
        handle,
        accepts=(MonthGenerationFailed,),
        max_batch=10,
        max_wait_s=0.5,
    )
    async with EventProducer(settings, transactional_id=f"{settings.topics.prefix}-t4") as prod:
        worker = Worker(spec, settings, prod)

        async def done() -> bool:
            return len(await read_topic(settings, topic_for(settings, DeadLetter), 4, 0.5)) >= 4

        await run_until(worker, done)
    assert handled == []
    letters = [
        Codec().decode(r.value)
        for r in await read_topic(settings, topic_for(settings, DeadLetter), 4, 5)
    ]
    assert sorted(d.reason for d in letters if isinstance(d, DeadLetter)) == [
        "not Avro single-object encoding (expected marker C3 01 and an 8-byte fingerprint)",
        *["picky does not handle MonthScheduled"] * 3,
    ]


async def test_a_complete_batch_is_handled_without_waiting_out_max_wait(settings, inputs) -> None:
    batches: list[list[int]] = []

    async def handle(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
        batches.append(sorted(i.event.month for i in batch if isinstance(i.event, MonthScheduled)))
        return ()

    def all_three(events: Sequence[object]) -> bool:
        return len(events) >= 3  # the garbage record is no event: not shown

    spec = WorkerSpec(
        "eager",
        [topic_for(settings, MonthScheduled)],
        handle,
        max_batch=10,
        max_wait_s=60.0,  # far beyond run_until's timeout: only `complete` can end the wait
        complete=all_three,
    )
    async with EventProducer(settings, transactional_id=f"{settings.topics.prefix}-t5") as prod:
        worker = Worker(spec, settings, prod)

        async def done() -> bool:
            return sum(len(b) for b in batches) >= 3

        await run_until(worker, done, timeout_s=20)
    assert sorted(m for b in batches for m in b) == [1, 2, 3]
