"""A whole pipeline for tests: the sandbox and the five services as real processes, pointed at a
test's own topics and database. Reused by the end-to-end and fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from ops.devstack import processes
from ops.devstack.sandbox_proc import PROVIDER_PATHS
from ops.devstack.services_proc import SERVICES
from services.scheduler.store import plan_months
from shared.months import YearMonth
from shared.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pipeline:
    def __init__(
        self, settings: Settings, folder: Path, seed: int = 7, metrics: bool = False
    ) -> None:
        self.settings = settings
        self.folder = folder
        self.seed = seed
        # With metrics, each service serves /metrics on a port of its own (see `metrics()`).
        self.metrics_ports = {s: free_port() for s in SERVICES} if metrics else {}
        self.sandbox_port = free_port()
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.env = {
            **os.environ,
            "ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "ALEXANDRIA_DATABASE_URL": settings.dsn,
            "ALEXANDRIA_TOPIC_PREFIX": settings.topics.prefix,
            "ALEXANDRIA_SCHEDULER_INTERVAL_S": "0.5",
            "ALEXANDRIA_HTTP_BACKOFF_BASE_S": "0.05",
            "ALEXANDRIA_HTTP_BACKOFF_MAX_S": "0.5",
            # A provider answering nothing for 5 s counts as down (tests of an LLM or a
            # provider down for good); a storm's failures are answered in between, so wait.
            "ALEXANDRIA_HTTP_OUTAGE_PATIENCE_S": os.environ.get(
                "ALEXANDRIA_HTTP_OUTAGE_PATIENCE_S", "5"
            ),
            "ALEXANDRIA_LOG_LEVEL": "INFO",
            "ALEXANDRIA_RETRY_BACKOFF_BASE_S": "0.05",
            **{
                f"ALEXANDRIA_{name}_BASE_URL": f"{self.sandbox}/{path}"
                for name, path in PROVIDER_PATHS.items()
            },
            # The real APIs' rates (ISBNdb 1/s) would make every test wait; a test that wants
            # pacing to bind sets its own.
            **{f"ALEXANDRIA_{name}_RATE_PER_S": "200" for name in PROVIDER_PATHS},
            **{
                f"ALEXANDRIA_{name}_API_KEY": "sandbox-key"
                for name in ("ISBNDB", "GOOGLE_BOOKS", "GEMINI", "XAI")
            },
        }

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.log", self.folder / f"{name}.pid"

    def start_sandbox(self) -> None:
        log, pid = self._paths("sandbox")
        processes.spawn(
            [
                sys.executable,
                "-m",
                "sandbox",
                "--port",
                str(self.sandbox_port),
                "--seed",
                str(self.seed),
            ],
            log,
            pid,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.sandbox}/_sandbox/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"sandbox did not start:\n{processes.tail(log)}")

    def start(self, *services: str) -> None:
        for service in services or SERVICES:
            log, pid = self._paths(service)
            env = dict(self.env)
            if service in self.metrics_ports:
                env["ALEXANDRIA_METRICS_PORT"] = str(self.metrics_ports[service])
            processes.spawn([sys.executable, "-m", f"services.{service}"], log, pid, env=env)

    def metrics(self, service: str) -> str:
        """The service's /metrics page (the pipeline must be built with metrics=True)."""
        url = f"http://127.0.0.1:{self.metrics_ports[service]}/metrics"
        response = httpx.get(url, timeout=5)
        response.raise_for_status()
        return response.text

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        pid = processes.read_pid(self._paths(service)[1])
        if pid is not None:
            os.kill(pid, sig)
            while processes.is_alive(pid):
                time.sleep(0.05)

    def stop(self) -> None:
        for name in (*SERVICES, "sandbox"):
            processes.stop(self._paths(name)[1], timeout_s=15)

    def logs(self, service: str, lines: int = 30) -> str:
        return processes.tail(self._paths(service)[0], lines)

    def knobs(self, knobs: dict[str, object]) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/knobs", json=knobs, timeout=5).raise_for_status()

    def truth(self, year: int, month: int) -> dict[str, object]:
        response = httpx.get(
            f"{self.sandbox}/_sandbox/truth", params={"year": year, "month": month}, timeout=5
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def plan(self, months: list[YearMonth]) -> None:
        conn = await asyncpg.connect(self.settings.dsn)
        try:
            await plan_months(conn, months)
        finally:
            await conn.close()

    async def wait_until_settled(self, timeout_s: float = 120.0) -> dict[str, int]:
        """Until no month is pending/processing/retry; returns months by status."""
        conn = await asyncpg.connect(self.settings.dsn)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                rows = await conn.fetch(
                    "SELECT status, count(*) AS n FROM backfill_log GROUP BY status"
                )
                status = {r["status"]: r["n"] for r in rows}
                if status and not {"pending", "processing", "retry"} & set(status):
                    return status
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"months not settled after {timeout_s}s: {status}\n"
                        + "\n".join(f"--- {s}\n{self.logs(s, 8)}" for s in SERVICES)
                    )
                await asyncio.sleep(0.5)
        finally:
            await conn.close()


# Columns that say what the tables know, without the times and ids a run happens to have.
CONTENT = {
    "enriched_editions": "isbn, work_key, title, subtitle, publisher, publication_date, "
    "page_count, format, language, subjects, alternate_isbns, related_isbns, primary_provider, "
    "contributors, completeness_score, work_match_source",
    "enriched_works": "work_key, title, subtitle, description, subject_tags, synthetic, "
    "primary_provider, contributors, completeness_score, first_publication_year",
    "enriched_authors": "author_key, name, normalized_name",
    "work_authors": "work_key, author_key, author_order",
    "backfill_log": "year, month, status, books_generated, isbns_resolved, resolution_rate, "
    "isbns_queued",
    "enrichment_log": "entity_type, entity_key, operation, fields_updated",
}


async def table_contents(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every projected table's content, sorted, for comparing two runs."""
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: sorted(tuple(r) for r in await conn.fetch(f"SELECT {cols} FROM {table}"))
            for table, cols in CONTENT.items()
        }
    finally:
        await conn.close()
