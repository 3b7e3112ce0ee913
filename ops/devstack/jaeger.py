"""Jaeger v2 for the local stack: the all-in-one `jaeger` binary with in-memory storage, taking
traces over OTLP/HTTP and answering the query API, both on loopback only.

The binary is `.tools/bin/jaeger`, built by `deploy/tools/install-jaeger.sh` (`make tools`); it
has no UI assets (see that script), so the UI address serves Jaeger's placeholder page while the
HTTP query API (`/api/services`, `/api/traces?service=...`, `/api/traces/<id>`) works.

Jaeger v2 is an OpenTelemetry Collector distribution: everything it runs is in its config file,
written here into the state folder. Every listener it opens is named there on 127.0.0.1; the
ones it would otherwise open on default ports (internal metrics on 8888, the query gRPC API on
16685, OTLP gRPC on 4317) are off or on an ephemeral loopback port.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ops.devstack import processes
from shared.settings import REPO_ROOT, Settings

INSTALL_SCRIPT = REPO_ROOT / "deploy" / "tools" / "install-jaeger.sh"
BINARY = REPO_ROOT / ".tools" / "bin" / "jaeger"
MAX_TRACES = 100_000  # the in-memory store keeps the newest this many traces


@dataclass(frozen=True)
class JaegerPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "jaeger.yaml"

    @property
    def log(self) -> Path:
        return self.root / "jaeger.log"

    @property
    def pid(self) -> Path:
        return self.root / "jaeger.pid"


def paths(settings: Settings) -> JaegerPaths:
    return JaegerPaths(settings.dev.state_dir / "jaeger")


def pinned_version() -> str:
    match = re.search(r"^JAEGER_VERSION=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if match is None:
        raise processes.StackError(f"no JAEGER_VERSION= line in {INSTALL_SCRIPT}")
    return match.group(1)


def installed_version(binary: Path = BINARY) -> str | None:
    """What `jaeger version` reports ({"gitVersion": ...} on stdout), None if not installed."""
    if not binary.exists():
        return None
    try:
        result = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=False
        )
        version = json.loads(result.stdout).get("gitVersion")
    except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def ensure_binary() -> Path:
    """The pinned Jaeger binary, built by the install script first if missing or another
    version (minutes, once; `make tools` normally did it already). Its progress goes to stderr."""
    if installed_version() == pinned_version():
        return BINARY
    result = subprocess.run(
        [str(INSTALL_SCRIPT)], stdout=sys.stderr, stderr=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0 or installed_version() != pinned_version():
        raise processes.StackError(
            f"building Jaeger with {INSTALL_SCRIPT.relative_to(REPO_ROOT)} failed:\n"
            f"{result.stderr[-3000:]}"
        )
    return BINARY


def config(settings: Settings) -> dict[str, Any]:
    """The collector configuration (keys as in Jaeger v1.76.0's cmd/jaeger/internal/
    all-in-one.yaml and the jaeger_query/jaeger_storage extensions' configs)."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "resource": {"service.name": "jaeger"},
                # No internal metrics endpoint (it would listen on localhost:8888).
                "metrics": {"level": "none"},
                "logs": {"level": "info"},
            },
        },
        "extensions": {
            "jaeger_storage": {
                "backends": {"memory_store": {"memory": {"max_traces": MAX_TRACES}}}
            },
            "jaeger_query": {
                "storage": {"traces": "memory_store"},
                "http": {"endpoint": f"127.0.0.1:{settings.dev.jaeger_query_port}"},
                # The gRPC query API is not used here: an ephemeral loopback port, never a clash.
                "grpc": {"endpoint": "127.0.0.1:0"},
                # Otherwise it traces its own queries to an OTLP/gRPC exporter on localhost:4317.
                "enable_tracing": False,
            },
        },
        "receivers": {
            # OTLP over HTTP only (what shared/telemetry.py sends); no gRPC listener.
            "otlp": {
                "protocols": {"http": {"endpoint": f"127.0.0.1:{settings.dev.jaeger_otlp_port}"}}
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory_store"}},
    }


def write_config(settings: Settings, jp: JaegerPaths) -> None:
    # JSON is YAML: the collector reads it as its YAML config.
    jp.root.mkdir(parents=True, exist_ok=True)
    jp.config.write_text(
        "# Written by ops/devstack/jaeger.py on every start: edit the settings, not this file.\n"
        + json.dumps(config(settings), indent=2)
        + "\n"
    )


def ui_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dev.jaeger_query_port}"


def otlp_endpoint(settings: Settings) -> str:
    """The OTLP/HTTP base URL (ALEXANDRIA_OTLP_ENDPOINT; the exporter appends /v1/traces)."""
    return f"http://127.0.0.1:{settings.dev.jaeger_otlp_port}"


def is_healthy(settings: Settings) -> bool:
    """The query API answers (it reads the same store the OTLP receiver writes)."""
    try:
        answer = httpx.get(f"{ui_url(settings)}/api/services", timeout=2)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def start(settings: Settings) -> str:
    """Start Jaeger unless it runs; wait until its query API answers."""
    jp = paths(settings)
    if processes.read_pid(jp.pid) is not None and is_healthy(settings):
        return "already running"
    binary = ensure_binary()
    write_config(settings, jp)
    pid = processes.spawn([str(binary), "--config", str(jp.config)], jp.log, jp.pid)
    deadline = time.monotonic() + settings.dev.start_timeout_s
    while time.monotonic() < deadline:
        if not processes.is_alive(pid):
            raise processes.failure("Jaeger", "exited during start-up", jp.log)
        if is_healthy(settings):
            return "started"
        time.sleep(0.2)
    raise processes.failure(
        "Jaeger", f"did not answer within {settings.dev.start_timeout_s:.0f}s", jp.log
    )


def stop(settings: Settings) -> bool:
    return processes.stop(paths(settings).pid)
