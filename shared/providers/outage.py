"""Whether an input waits for a failing provider or is decided without it: an outage never
decides what a book is, unless the provider stays down past its patience (then loudly)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.metrics import PROVIDER_OUTAGE
from shared.providers.errors import ProviderError, ProviderStillFailing, TransientProviderError
from shared.providers.spec import Clock, utc_now

log = logging.getLogger(__name__)


def must_wait(
    exc: ProviderError, failing_since: datetime, now: datetime, patience_s: float
) -> bool:
    """True when the caller must not decide on `exc`: a transient failure (5xx, timeout, 429
    per second, garbled body, after the call's own retries) of a provider failing for less than
    `patience_s`. Definitive answers (not found, daily quota spent, request rejected) and a
    provider down for longer than its patience are decided on."""
    if not isinstance(exc, TransientProviderError):
        return False
    return (now - failing_since).total_seconds() < patience_s


@dataclass
class Outages:
    """Per process: since when each provider has failed without a single answer in between.

    `failed` raises ProviderStillFailing while the input must wait (the stream worker retries
    the batch with backoff); past `patience_s` the provider counts as down, logged as an error
    once, and callers move on without it until it answers again.
    """

    patience_s: float = 900.0
    clock: Clock = utc_now
    since: dict[str, datetime] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)

    def answered(self, provider: str) -> None:
        """An answer (data, not found, a spent quota): the provider is not failing."""
        if self.since.pop(provider, None) is not None:
            PROVIDER_OUTAGE.labels(provider).set(0)
        if provider in self.down:
            self.down.discard(provider)
            log.warning("%s answers again: inputs wait for it again on failures", provider)

    def failed(self, exc: ProviderError) -> None:
        """Raise ProviderStillFailing when the input must wait for `exc`'s provider; return
        when the caller may decide without it (a definitive answer, or the provider down)."""
        if not isinstance(exc, TransientProviderError):
            self.answered(exc.provider)
            return
        now = self.clock()
        since = self.since.setdefault(exc.provider, now)
        PROVIDER_OUTAGE.labels(exc.provider).set((now - since).total_seconds())
        if must_wait(exc, since, now, self.patience_s):
            raise ProviderStillFailing(exc) from exc
        if exc.provider not in self.down:
            self.down.add(exc.provider)
            log.error(
                "%s has failed for %.0fs (patience %.0fs): treated as down, inputs are decided "
                "without it until it answers (%s)",
                exc.provider, (now - since).total_seconds(), self.patience_s, exc,
            )  # fmt: skip


async def gather_all(*calls: Awaitable[Any]) -> list[Any]:
    """asyncio.gather that lets every call finish before raising the first failure, so no
    sibling keeps running (and publishing) after its batch was abandoned."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)
