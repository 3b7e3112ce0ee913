"""The API sandbox as a local-stack process: `python -m sandbox` on a loopback port."""

from __future__ import annotations

import sys
import time

import httpx

from ops.devstack import processes
from shared.settings import Settings

PROVIDER_PATHS = {
    "ISBNDB": "isbndb",
    "GOOGLE_BOOKS": "google-books",
    "OPENLIBRARY": "openlibrary",
    "ARCHIVE": "archive",
    "WIKIDATA": "wikidata",
    "GEMINI": "gemini",
    "XAI": "xai",
}


def base_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dev.sandbox_port}"


def provider_env(settings: Settings) -> dict[str, str]:
    """Each provider's base URL pointing at the sandbox, plus placeholder keys it accepts.
    The sandbox enforces no rate limit unless told to (its rate_per_s knob), so the services
    are paced at 200 calls/s per provider here rather than at the real APIs' published limits
    (ISBNdb's 1/s would make the demo wait minutes for nothing)."""
    env = {
        f"ALEXANDRIA_{name}_BASE_URL": f"{base_url(settings)}/{path}"
        for name, path in PROVIDER_PATHS.items()
    }
    env.update({f"ALEXANDRIA_{name}_RATE_PER_S": "200" for name in PROVIDER_PATHS})
    env.update(
        {
            f"ALEXANDRIA_{name}_API_KEY": "sandbox-key"
            for name in ("ISBNDB", "GOOGLE_BOOKS", "GEMINI", "XAI")
        }
    )
    return env


def is_healthy(settings: Settings) -> bool:
    try:
        return httpx.get(f"{base_url(settings)}/_sandbox/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start(settings: Settings) -> str:
    log, pid_file = settings.dev.state_dir / "sandbox.log", settings.dev.state_dir / "sandbox.pid"
    if is_healthy(settings):
        return "already running"
    settings.dev.state_dir.mkdir(parents=True, exist_ok=True)
    pid = processes.spawn(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.dev.sandbox_port),
        ],
        log,
        pid_file,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not processes.is_alive(pid):
            raise processes.failure("The sandbox", "exited during start-up", log)
        if is_healthy(settings):
            return "started"
        time.sleep(0.2)
    raise processes.failure("The sandbox", "did not answer within 30s", log)


def stop(settings: Settings) -> bool:
    return processes.stop(settings.dev.state_dir / "sandbox.pid")
