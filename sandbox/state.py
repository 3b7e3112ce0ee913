"""The running sandbox's mutable state: current knobs, per-provider counters, catalogue index."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.catalogue import Catalogue
from sandbox.catalogue_index import DEFAULT_COVERAGE, CatalogueIndex
from sandbox.knobs import PROVIDERS, Knobs


@dataclass
class ProviderCounters:
    calls: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    quota_day: str = ""
    quota_used: int = 0
    # Monotonic times of the calls accepted in the last second, for the per-second limit.
    recent: deque[float] = field(default_factory=deque)
    # Per caller (key or User-Agent): the theoretical arrival time of its next call (GCRA).
    next_arrival: dict[str, float] = field(default_factory=dict)
    # Fault draws made so far: the n-th call's faults depend only on (seed, provider, n).
    draws: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "by_endpoint": dict(sorted(self.by_endpoint.items())),
            "by_status": dict(sorted(self.by_status.items())),
            "injected": dict(sorted(self.injected.items())),
            "quota_day": self.quota_day or None,
            "quota_used": self.quota_used,
        }


def _utc_day() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass
class SandboxState:
    catalogue: Catalogue
    index: CatalogueIndex
    initial_knobs: Knobs
    knobs: Knobs
    counters: dict[str, ProviderCounters] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic
    # Daily quotas reset when this changes (UTC days; the real Gemini resets at midnight Pacific).
    day: Callable[[], str] = _utc_day
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def __post_init__(self) -> None:
        if not self.counters:
            self.reset_counters()

    def reset_counters(self) -> None:
        self.counters = {name: ProviderCounters() for name in PROVIDERS}

    def reset(self, knobs: bool = True) -> None:
        self.reset_counters()
        if knobs:
            self.knobs = self.initial_knobs

    def coverage(self, provider: str) -> float:
        own = self.knobs.for_provider(provider).coverage
        return DEFAULT_COVERAGE.get(provider, 1.0) if own is None else own


STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)


def state_of(request: web.Request) -> SandboxState:
    """The shared state, reachable from the root app and from every provider sub-app."""
    return request.config_dict[STATE]
