"""A running pipeline (sandbox + five services) per test, on the test's topics and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Pipeline


@pytest.fixture
def pipeline(settings, tmp_path: Path) -> Iterator[Pipeline]:
    running = Pipeline(settings, tmp_path)
    running.start_sandbox()
    try:
        yield running
    finally:
        running.stop()
