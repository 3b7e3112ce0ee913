"""The five pipeline services as background processes of the local stack (demo, e2e tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ops.devstack import processes

SERVICES = ("projector", "enricher", "resolver", "generator", "scheduler")


def _paths(state_dir: Path, service: str) -> tuple[Path, Path]:
    folder = state_dir / "services"
    return folder / f"{service}.log", folder / f"{service}.pid"


def start(state_dir: Path, env: dict[str, str], services: tuple[str, ...] = SERVICES) -> None:
    """Start each service not already running, with `env` on top of this process's env."""
    for service in services:
        log, pid = _paths(state_dir, service)
        if processes.read_pid(pid) is None:
            processes.spawn(
                [sys.executable, "-m", f"services.{service}"], log, pid, env={**os.environ, **env}
            )


def stop(state_dir: Path, services: tuple[str, ...] = SERVICES) -> list[str]:
    return [s for s in services if processes.stop(_paths(state_dir, s)[1], timeout_s=20)]
