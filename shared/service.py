"""Entry-point helper for `python -m services.<name>`: settings once, telemetry, clean errors."""

from __future__ import annotations

import asyncio
import contextlib
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
