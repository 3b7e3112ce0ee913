"""`alexandria dlq` on the real broker: list, replay (by id, --all) with the replay header,
purge --before (dry run first), and bad input refused in one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

from ops.dead_letter_reader import REPLAYED_FROM
from shared.events import Codec, DeadLetter
from shared.kafka.dead_letter_sender import FailedMessage, send_to_dead_letter
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Rejected
from tests.kafka_helpers import end_offsets, read_topic

POISON = b"\xc3\x01not-a-fingerprint"


def run_cli(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "ALEXANDRIA_TOPIC_PREFIX": settings.topics.prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


async def park(settings, source: str, consumer: str, reason: str, n: int = 1) -> list[DeadLetter]:
    """Publish `n` poison messages on `source` and dead-letter each as `consumer` would."""
    topic = f"{settings.topics.prefix}.{source}"
    letters = []
    async with EventProducer(settings) as producer:
        for i in range(n):
            meta = await producer.send_raw(topic, f"key-{i}".encode(), POISON, [("trace", b"t1")])
            message = FailedMessage(
                topic, meta.partition, meta.offset, f"key-{i}".encode(), POISON, (("trace", b"t1"),)
            )
            letters.append(await send_to_dead_letter(producer, message, consumer, Rejected(reason)))
    return letters


async def test_list_filters_and_cuts_long_reasons(settings) -> None:
    enricher = await park(settings, "isbn-resolved", "enricher", "bad ISBN " + "x" * 400, n=2)
    (projector,) = await park(settings, "month-scheduled", "projector", "month 13")

    out = ok(run_cli(settings, "dlq", "list")).splitlines()
    assert out[-1] == "3 dead letters"
    assert len(out) == 4
    line = next(x for x in out if x.startswith(projector.envelope.event_id))
    assert " projector " in line
    assert f"{settings.topics.prefix}.month-scheduled/{projector.source_partition}@" in line
    assert line.endswith("Rejected: month 13")
    long = next(x for x in out if x.startswith(enricher[0].envelope.event_id))
    assert long.endswith("...") and len(long) < 300

    only = ok(run_cli(settings, "dlq", "list", "--consumer", "enricher")).splitlines()
    assert only[-1] == "2 dead letters matching (of 3)"
    topic = f"{settings.topics.prefix}.month-scheduled"
    by_topic = ok(run_cli(settings, "dlq", "list", "--source-topic", topic)).splitlines()
    assert by_topic[0].startswith(projector.envelope.event_id) and len(by_topic) == 2
    tail = ok(run_cli(settings, "dlq", "list", "--limit", "1")).splitlines()
    assert tail[-1] == "3 dead letters, showing the newest 1 (--limit 0 shows all)"


async def test_replay_by_id_and_all_reinjects_with_the_header(settings) -> None:
    enricher = await park(settings, "isbn-resolved", "enricher", "enricher bug", n=2)
    (projector,) = await park(settings, "month-scheduled", "projector", "projector bug")
    resolved_topic = f"{settings.topics.prefix}.isbn-resolved"

    out = ok(run_cli(settings, "dlq", "replay", "--id", projector.envelope.event_id))
    assert f"replayed {projector.envelope.event_id} (projector, was" in out
    assert "1 replayed; the dead letters stay in the dead-letter topic" in out
    records = await read_topic(settings, f"{settings.topics.prefix}.month-scheduled", 2)
    assert len(records) == 2
    again = max(
        records, key=lambda r: r.offset if r.partition == projector.source_partition else -1
    )
    assert (again.key, again.value) == (b"key-0", POISON)
    headers = dict(again.headers)
    assert headers["trace"] == b"t1"
    assert headers[REPLAYED_FROM] == projector.envelope.event_id.encode()

    out = ok(run_cli(settings, "dlq", "replay", "--all", "--consumer", "enricher"))
    assert "2 replayed" in out
    replayed = [r for r in await read_topic(settings, resolved_topic, 4) if r.headers]
    from_ids = {dict(r.headers).get(REPLAYED_FROM) for r in replayed}
    assert from_ids == {None, *(e.envelope.event_id.encode() for e in enricher)}
    assert sum((await end_offsets(settings, resolved_topic)).values()) == 4
    # The dead letters themselves stay.
    assert ok(run_cli(settings, "dlq", "list")).splitlines()[-1] == "3 dead letters"


async def test_bad_replay_requests_are_refused_in_one_line(settings) -> None:
    (letter,) = await park(settings, "isbn-resolved", "enricher", "bug")
    refused(run_cli(settings, "dlq", "replay"), "--id EVENT_ID (repeatable) or --all")
    refused(
        run_cli(settings, "dlq", "replay", "--all", "--id", letter.envelope.event_id),
        "--id and --all exclude each other",
    )
    refused(run_cli(settings, "dlq", "replay", "--id", "no-such-id"), "with id no-such-id")
    refused(
        run_cli(settings, "dlq", "replay", "--id", letter.envelope.event_id, "--consumer", "x"),
        "no dead letter of consumer 'x'",
    )
    refused(run_cli(settings, "dlq", "purge"), "Missing option '--before'")
    refused(run_cli(settings, "dlq", "purge", "--before", "yesterday"), "not an ISO time")
    topic = f"{settings.topics.prefix}.isbn-resolved"
    assert sum((await end_offsets(settings, topic)).values()) == 1, "nothing was re-injected"


async def test_purge_before_deletes_only_older_letters(settings) -> None:
    old = await park(settings, "isbn-resolved", "enricher", "old", n=4)
    await asyncio.sleep(1.2)
    cut = datetime.now(UTC)
    await asyncio.sleep(0.2)
    new = await park(settings, "month-scheduled", "projector", "new", n=2)
    before = cut.isoformat()

    dry = ok(run_cli(settings, "dlq", "purge", "--before", before, "--dry-run"))
    assert f"would delete 4 dead letters older than {cut.isoformat()}" in dry
    assert all(e.envelope.event_id in dry for e in old)
    assert not any(e.envelope.event_id in dry for e in new)
    assert ok(run_cli(settings, "dlq", "list")).splitlines()[-1] == "6 dead letters"

    done = ok(run_cli(settings, "dlq", "purge", "--before", before))
    assert f"deleted 4 dead letters older than {cut.isoformat()}" in done
    per_partition = [x for x in done.splitlines() if x.startswith("partition ")]
    assert len(per_partition) == 3
    assert sum(int(x.split("deleted ")[1].split()[0]) for x in per_partition) == 4
    left = ok(run_cli(settings, "dlq", "list")).splitlines()
    assert left[-1] == "2 dead letters"
    assert {x.split()[0] for x in left[:-1]} == {e.envelope.event_id for e in new}
    remaining = await read_topic(settings, f"{settings.topics.prefix}.dead-letter", 2)
    assert {Codec().decode(r.value).envelope.event_id for r in remaining} == {
        e.envelope.event_id for e in new
    }
    # Nothing older is left, so a second purge has nothing to do.
    assert "deleted 0 dead letters" in ok(run_cli(settings, "dlq", "purge", "--before", before))
