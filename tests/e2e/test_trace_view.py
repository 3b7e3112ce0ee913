"""`alexandria trace show` on a real month: one month through the five service processes exporting
over OTLP to the real Jaeger (as in test_tracing.py), then the CLI finds that month's trace through
Jaeger's query API and draws it, in text and as an HTML page."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

from shared.months import YearMonth
from tests.conftest import Jaeger
from tests.harness import Pipeline

MONTH = YearMonth(2015, 5)  # no other test runs it: the newest trace of it is this test's
ALEXANDRIA = (sys.executable, "-m", "ops.cli")
SERVICES = ("scheduler", "generator", "resolver", "enricher", "projector")


def trace_show(jaeger: Jaeger, month: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`alexandria trace show --month MONTH --jaeger <the fixture's query URL> ARGS`."""
    return subprocess.run(
        [*ALEXANDRIA, "trace", "show", "--month", month, "--jaeger", jaeger.query_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def span_count(output: str) -> int:
    match = re.search(r"^(\d+) spans", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def services_shown(output: str) -> set[str]:
    """The service column of the span lines (after the header and the column titles)."""
    return {line[2:].split()[0] for line in output.splitlines()[4:] if line[2:].strip()} & set(
        SERVICES
    )


async def wait_for_full_trace(jaeger: Jaeger, timeout_s: float = 60.0) -> str:
    """The CLI's output once the trace shows all five services and its span count stopped
    growing between two looks (spans arrive in export batches)."""
    deadline = time.monotonic() + timeout_s
    previous = -1
    while True:
        result = await asyncio.to_thread(trace_show, jaeger, str(MONTH))
        count = span_count(result.stdout)
        if result.returncode == 0 and services_shown(result.stdout) == set(SERVICES):
            if count == previous:
                return result.stdout
            previous = count
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no complete, stable trace of {MONTH} in {timeout_s}s:\n"
                f"{result.stdout[:2000]}{result.stderr}"
            )
        await asyncio.sleep(2.0)


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_trace_show_draws_a_real_months_trace(
    pipeline: Pipeline, settings, jaeger: Jaeger, tmp_path: Path
) -> None:
    pipeline.env["ALEXANDRIA_OTLP_ENDPOINT"] = jaeger.otlp_endpoint
    pipeline.env["OTEL_BSP_SCHEDULE_DELAY"] = "500"  # export every 0.5 s, not every 5 s
    pipeline.env["ALEXANDRIA_SYNTHETIC_PER_RUN"] = "0"
    await pipeline.plan([MONTH])
    pipeline.start()
    assert await pipeline.wait_until_settled(90) == {"completed": 1}

    text = await wait_for_full_trace(jaeger)
    lines = text.splitlines()
    assert lines[0].startswith(f"month {MONTH}  trace ")
    assert re.match(r"\d+ spans.*, services: scheduler, ", lines[1]), lines[1]
    spans = [line for line in lines[4:] if line.strip() and not line.startswith("(")]
    assert len(spans) == span_count(text) > 20
    # The root first, unindented, with the month; the services' month spans under it.
    assert re.match(r"  scheduler +schedule month +\+0\.000s ", spans[0]), spans[0]
    assert f"month={MONTH}" in spans[0]
    operations = {line[2:].split(maxsplit=1)[1].split("  ")[0].strip() for line in spans}
    assert {"generate month", "resolve month", "enrich isbn", "project month"} <= operations
    assert services_shown(text) == set(SERVICES)
    resolved = next(line for line in spans if "resolve month" in line)
    assert re.search(r"resolved=\d+ unresolved=\d+ already_known=\d+", resolved), resolved

    # The HTML page of the same trace: this test's (its Kafka spans name this test's topics).
    page = tmp_path / "trace.html"
    result = await asyncio.to_thread(trace_show, jaeger, str(MONTH), "--html", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert f"{settings.topics.prefix}." in html
    parser = Collect()
    parser.feed(html)
    assert "script" not in {t for t, _ in parser.tags}
    bars = [a for t, a in parser.tags if t == "div" and a.get("class") == "bar"]
    assert len(bars) >= span_count(text)
    shown = " ".join(parser.text)
    assert str(MONTH) in shown and all(s in shown for s in SERVICES)

    # A month Jaeger has no trace of: one line, exit 1.
    missing = await asyncio.to_thread(trace_show, jaeger, "1901-01")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: no trace for 1901-01 in Jaeger")
    assert len(missing.stderr.strip().splitlines()) == 1
