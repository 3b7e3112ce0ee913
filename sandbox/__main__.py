"""Command line: python -m sandbox --host 127.0.0.1 --port 18080 [--seed N] [--latency-ms N]
[--knobs JSON|@file]; prints one line when ready and exits cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from sandbox.app import create_app
from sandbox.catalogue import load_catalogue
from sandbox.knobs import ENV_VAR, KnobError, Knobs


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Serve the seven provider APIs from the bundled catalogue on one port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=18080, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=None, help="seed for LLM noise and faults")
    parser.add_argument("--latency-ms", type=float, default=None, help="latency for every provider")
    parser.add_argument(
        "--knobs",
        default=None,
        help=f'knobs as JSON ({{"isbndb": {{"daily_quota": 100}}}}) or @file; also ${ENV_VAR}',
    )
    return parser.parse_args(argv)


def _knobs(args: argparse.Namespace) -> Knobs:
    knobs = Knobs()
    for source in (os.environ.get(ENV_VAR), args.knobs):
        if not source:
            continue
        text = Path(source[1:]).read_text(encoding="utf-8") if source.startswith("@") else source
        knobs = knobs.with_json_patch(text)
    if args.seed is not None:
        knobs = knobs.with_patch({"seed": args.seed})
    if args.latency_ms is not None:
        knobs = knobs.with_patch({"*": {"latency_ms": args.latency_ms}})
    return knobs


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _serve(host: str, port: int, knobs: Knobs) -> None:
    catalogue = load_catalogue()
    app = create_app(catalogue, knobs)
    # handler_cancellation: a client that gives up on a simulated timeout frees its handler.
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(
            f"sandbox: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = runner.addresses[0] if runner.addresses else (host, port)
    print(
        f"sandbox ready on http://{host}:{bound[1]} "
        f"({len(catalogue.books)} books, seed {knobs.seed})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        knobs = _knobs(args)
    except (KnobError, OSError) as exc:
        print(f"sandbox: bad knobs: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(f"sandbox: warning: listening on non-loopback {args.host}", file=sys.stderr)
    asyncio.run(_serve(args.host, args.port, knobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
