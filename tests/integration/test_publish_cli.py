"""`alexandria publish month-scheduled`: a valid month is published; a bad one is not."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.events import Codec, MonthScheduled
from tests.kafka_helpers import end_offsets, read_topic


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


async def test_published_month_reads_back(settings) -> None:
    result = run_cli(
        settings,
        "publish",
        "month-scheduled",
        "--year",
        "2021",
        "--month",
        "7",
        "--batch-size",
        "15",
    )
    assert result.returncode == 0, result.stderr
    assert "published MonthScheduled 2021-07 (contemporary-notable, batch 15)" in result.stdout
    records = await read_topic(settings, f"{settings.topics.prefix}.month-scheduled", 1)
    assert len(records) == 1 and records[0].key == b"2021-07"
    event = Codec().decode(records[0].value)
    assert isinstance(event, MonthScheduled)
    assert (event.year, event.month, event.prompt_variant, event.batch_size) == (
        2021,
        7,
        "contemporary-notable",
        15,
    )
    assert event.envelope.producer == "cli"
    assert event.envelope.correlation_id == "month:2021-07"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2019", "--month", "13"], "month 13 is outside 1..12"),
        (["--year", "1850", "--month", "1"], "year 1850 is outside"),
        (["--year", "2019", "--month", "3", "--batch-size", "500"], "batch size 500"),
        (["--year", "2019", "--month", "3", "--prompt-variant", "poetic"], "'poetic' is unknown"),
        (["--year", "twenty", "--month", "3"], "'twenty' is not a valid integer"),
        (["--month", "3"], "Missing option '--year'"),
    ],
)
async def test_invalid_month_is_refused_and_nothing_is_published(settings, args, message) -> None:
    result = run_cli(settings, "publish", "month-scheduled", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    topic = f"{settings.topics.prefix}.month-scheduled"
    assert sum((await end_offsets(settings, topic)).values()) == 0
