"""`python -m sandbox` prints one ready line, serves on loopback, and exits cleanly on SIGTERM;
bad input gives a one-line message, not a stack trace."""

from __future__ import annotations

import re
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the sandbox printed nothing"
    return process.stdout.readline()


def test_serves_then_exits_cleanly_on_sigterm() -> None:
    process = _start("--host", "127.0.0.1", "--port", "0", "--seed", "5", "--latency-ms", "1")
    try:
        line = _first_line(process)
        match = re.match(r"sandbox ready on (http://127\.0\.0\.1:\d+) \(\d+ books, seed 5\)", line)
        assert match, line
        health = httpx.get(f"{match.group(1)}/_sandbox/health", timeout=5).json()
        assert health["status"] == "ok" and health["seed"] == 5
        knobs = httpx.get(f"{match.group(1)}/_sandbox/knobs", timeout=5).json()
        assert knobs["providers"]["isbndb"]["latency_ms"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_bad_knobs_and_busy_port_give_one_line_errors() -> None:
    bad = _start("--knobs", '{"isbndb": {"error_rate": 3}}')
    _, stderr = bad.communicate(timeout=15)
    assert bad.returncode == 2
    assert "between 0 and 1" in stderr and "Traceback" not in stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _start("--port", str(port))
        _, stderr = busy.communicate(timeout=30)
    assert busy.returncode != 0
    assert "cannot listen" in stderr and "Traceback" not in stderr
