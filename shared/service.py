"""Entry-point helpers for `python -m services.<name>`: settings once, telemetry, clean errors,
and a stop event set by SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from shared.settings import Settings, SettingsError, load_settings
from shared.telemetry import configure


def main(service: str, run: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure(settings, service)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


def until_signalled() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT, for a loop that finishes the batch in hand (and
    commits it) before it exits. Call from inside the running event loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
