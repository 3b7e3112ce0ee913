"""The worker's type filter: a service's handler sees only the event types it accepts, every
other one is rejected with the service and the type named."""

from __future__ import annotations

from collections.abc import Sequence

from shared.events import BooksGenerated, MonthScheduled
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, sort_accepted
from tests.fakes import incoming
from tests.samples import all_samples


async def nothing(batch: Sequence[Incoming], producer: EventProducer) -> Sequence[Reject]:
    return ()


SAMPLES = [incoming(event, offset) for offset, event in enumerate(all_samples())]


def test_only_the_accepted_types_reach_the_handler() -> None:
    spec = WorkerSpec("resolver", ["t"], nothing, accepts=(BooksGenerated,))
    accepted, rejects = sort_accepted(spec, SAMPLES)
    assert [type(i.event) for i in accepted] == [BooksGenerated]
    assert len(rejects) == len(SAMPLES) - 1
    assert [r.incoming for r in rejects] == [i for i in SAMPLES if i not in accepted]
    scheduled = next(r for r in rejects if isinstance(r.incoming.event, MonthScheduled))
    assert scheduled.reason == "resolver does not handle MonthScheduled"


def test_without_accepts_every_type_reaches_the_handler() -> None:
    accepted, rejects = sort_accepted(WorkerSpec("echo", ["t"], nothing), SAMPLES)
    assert (accepted, rejects) == (SAMPLES, [])
