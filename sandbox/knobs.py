"""Fault and behaviour knobs per provider, validated from JSON (CLI, env or the admin API)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PROVIDERS: tuple[str, ...] = (
    "isbndb",
    "google_books",
    "openlibrary",
    "archive",
    "wikidata",
    "gemini",
    "xai",
    "openai_compat",
)
ALL_PROVIDERS_KEY = "*"
ENV_VAR = "SANDBOX_KNOBS"


class KnobError(ValueError):
    """A knob patch names an unknown provider or knob, or carries a value out of range."""


@dataclass(frozen=True)
class ProviderKnobs:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    # How long a simulated timeout hangs before the server gives up; set it above the client's
    # timeout so the client sees a timeout rather than the late answer.
    timeout_s: float = 90.0
    # Calls accepted per rolling second; further calls get the provider's 429 with Retry-After.
    rate_limit_429: int = 0
    # Calls accepted per second per key (the API key, else the User-Agent), as the real APIs
    # limit each key: a steady rate with `rate_burst` calls of slack (GCRA); a call early for
    # its slot gets the provider's 429 and counts as injected "rate_per_key". 0: off.
    rate_per_s: float = 0.0
    rate_burst: float = 1.0
    # Calls accepted per (UTC) day; further calls get the provider's per-day quota error.
    daily_quota: int | None = None
    malformed_rate: float = 0.0
    # Share of the catalogue this provider knows; None keeps the provider's default.
    coverage: float | None = None
    # When set, only this key is accepted; otherwise any well-formed key is.
    api_key: str | None = None
    # Overrides the global seed for this provider's LLM noise and fault draws.
    seed: int | None = None


_RATES = {"error_rate", "timeout_rate", "malformed_rate", "coverage"}
_NON_NEGATIVE = {"latency_ms", "latency_jitter_ms", "timeout_s", "rate_per_s"}
_INTS = {"rate_limit_429", "daily_quota", "seed"}
_OPTIONAL = {"daily_quota", "coverage", "api_key", "seed"}
_KNOB_NAMES = tuple(f.name for f in fields(ProviderKnobs))


def _default_providers() -> dict[str, ProviderKnobs]:
    return {name: ProviderKnobs() for name in PROVIDERS}


def normalise_provider(name: str) -> str:
    """Accept the URL spelling too ('google-books' for 'google_books')."""
    return name.strip().lower().replace("-", "_")


def _check_value(provider: str, knob: str, value: Any) -> Any:
    where = f"{provider}.{knob}"
    if value is None:
        if knob in _OPTIONAL:
            return None
        raise KnobError(f"{where} cannot be null")
    if knob == "api_key":
        if not isinstance(value, str) or not value:
            raise KnobError(f"{where} must be a non-empty string or null")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KnobError(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise KnobError(f"{where} must be finite")
    if knob in _INTS:
        if int(value) != value:
            raise KnobError(f"{where} must be a whole number, got {value!r}")
        value = int(value)
        if knob != "seed" and value < 0:
            raise KnobError(f"{where} must be >= 0, got {value}")
        return value
    if knob in _RATES and not 0.0 <= value <= 1.0:
        raise KnobError(f"{where} must be between 0 and 1, got {value}")
    if knob in _NON_NEGATIVE and value < 0:
        raise KnobError(f"{where} must be >= 0, got {value}")
    if knob == "rate_burst" and value < 1:
        raise KnobError(f"{where} must be >= 1, got {value}")
    return float(value)


@dataclass(frozen=True)
class Knobs:
    seed: int = 0
    providers: Mapping[str, ProviderKnobs] = field(default_factory=_default_providers)

    def for_provider(self, provider: str) -> ProviderKnobs:
        return self.providers[provider]

    def seed_for(self, provider: str) -> int:
        own = self.providers[provider].seed
        return self.seed if own is None else own

    def with_patch(self, patch: Mapping[str, Any]) -> Knobs:
        """A copy with the patch applied: {"seed": N, "<provider>"|"*": {knob: value}}."""
        if not isinstance(patch, Mapping):
            raise KnobError("knobs must be a JSON object of {provider: {knob: value}}")
        seed = self.seed
        providers = dict(self.providers)
        for raw_key, settings in patch.items():
            if raw_key == "seed":
                seed = _check_value("global", "seed", settings)
                continue
            key = normalise_provider(str(raw_key))
            if key == ALL_PROVIDERS_KEY:
                targets = list(PROVIDERS)
            elif key in PROVIDERS:
                targets = [key]
            else:
                known = ", ".join((*PROVIDERS, ALL_PROVIDERS_KEY, "seed"))
                raise KnobError(f"unknown provider {raw_key!r}; known: {known}")
            if not isinstance(settings, Mapping):
                raise KnobError(f"{raw_key} must map knob names to values")
            for target in targets:
                changes: dict[str, Any] = {}
                for knob, value in settings.items():
                    if knob not in _KNOB_NAMES:
                        raise KnobError(
                            f"unknown knob {knob!r} for {raw_key}; known: {', '.join(_KNOB_NAMES)}"
                        )
                    changes[knob] = _check_value(target, knob, value)
                providers[target] = dataclasses.replace(providers[target], **changes)
        return Knobs(seed=seed, providers=providers)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "providers": {name: dataclasses.asdict(k) for name, k in self.providers.items()},
        }

    def with_json_patch(self, text: str) -> Knobs:
        """with_patch for a JSON text (env, CLI flag or file), so sources can be layered."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KnobError(f"knobs are not valid JSON: {exc.msg} at column {exc.colno}") from None
        return self.with_patch(data)
