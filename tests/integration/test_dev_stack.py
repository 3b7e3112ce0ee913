"""`alexandria dev up | status | env | down` on a second, isolated stack (own ports and folder)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared.db.migrate import MIGRATIONS_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def isolated_env(tmp_path: Path):
    env = {
        **os.environ,
        "ALEXANDRIA_DEV_STATE_DIR": str(tmp_path / "state"),
        "ALEXANDRIA_DEV_KAFKA_PORT": str(free_port()),
        "ALEXANDRIA_DEV_KAFKA_CONTROLLER_PORT": str(free_port()),
        "ALEXANDRIA_DEV_POSTGRES_PORT": str(free_port()),
        "ALEXANDRIA_DEV_SANDBOX_PORT": str(free_port()),
        "ALEXANDRIA_DEV_JAEGER_OTLP_PORT": str(free_port()),
        "ALEXANDRIA_DEV_JAEGER_QUERY_PORT": str(free_port()),
    }
    yield env
    alexandria(env, "dev", "down")


def alexandria(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_up_twice_status_env_down(isolated_env: dict[str, str]) -> None:
    kafka_port = isolated_env["ALEXANDRIA_DEV_KAFKA_PORT"]
    pg_port = isolated_env["ALEXANDRIA_DEV_POSTGRES_PORT"]
    otlp_port = isolated_env["ALEXANDRIA_DEV_JAEGER_OTLP_PORT"]
    query_port = isolated_env["ALEXANDRIA_DEV_JAEGER_QUERY_PORT"]

    first = alexandria(isolated_env, "dev", "up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count(" started ") == 4
    migrations = len(list(MIGRATIONS_DIR.glob("*.sql")))
    assert f"{migrations} applied" in first.stdout and "6 created" in first.stdout

    second = alexandria(isolated_env, "dev", "up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("already running") == 4
    assert "0 applied" in second.stdout and "0 created, 6 already there" in second.stdout

    status = alexandria(isolated_env, "dev", "status")
    assert status.returncode == 0, status.stdout
    assert f"kafka       healthy  127.0.0.1:{kafka_port}" in status.stdout
    assert f"postgresql  healthy  postgresql://alexandria@127.0.0.1:{pg_port}/alexandria" in (
        status.stdout
    )
    assert f"jaeger      healthy  http://127.0.0.1:{query_port}" in status.stdout

    env_lines = alexandria(isolated_env, "dev", "env").stdout
    assert f"export ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kafka_port}" in env_lines
    assert "export ALEXANDRIA_ISBNDB_BASE_URL=http://127.0.0.1:" in env_lines
    assert "export ALEXANDRIA_ISBNDB_RATE_PER_S=200" in env_lines  # the sandbox, not ISBNdb's 1/s
    assert f"export ALEXANDRIA_OTLP_ENDPOINT=http://127.0.0.1:{otlp_port}" in env_lines

    down = alexandria(isolated_env, "dev", "down")
    assert down.returncode == 0 and down.stdout.count("stopped") == 4
    after = alexandria(isolated_env, "dev", "status")
    assert after.returncode == 1
    assert after.stdout.count(" down ") == 4


def test_down_reports_a_postgresql_that_would_not_stop(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """A postmaster that ignores pg_ctl's stop: `dev down` says so and exits 1, never
    "stopped" (the stand-in ignores SIGINT, as a server busy shutting down would seem to)."""
    data = tmp_path / "state" / "postgres" / "data"
    data.mkdir(parents=True)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(2, 1); time.sleep(120)"]
    )
    try:
        (data / "postmaster.pid").write_text(f"{stubborn.pid}\n{data}\n")
        (data / "PG_VERSION").write_text("15\n")
        down = alexandria({**isolated_env, "ALEXANDRIA_DEV_START_TIMEOUT_S": "1"}, "dev", "down")
        assert down.returncode == 1, down.stdout + down.stderr
        assert "postgresql  FAILED to stop" in down.stderr
        assert "postgresql  stopped" not in down.stdout
        assert "kafka       was not running" in down.stdout
        assert stubborn.poll() is None  # it really was left running, as reported
    finally:
        stubborn.kill()
        stubborn.wait()
        (data / "postmaster.pid").unlink(missing_ok=True)
