"""API keys reach the providers but never a log line, an exception message or a repr."""

from __future__ import annotations

import logging
import traceback

import pytest

from tests.providers.conftest import KEYS, Sandbox, provider_settings
from tests.providers.exercise import all_providers, exercise, wrong_key_settings


def _leaks(text: str) -> list[str]:
    return [name for name, key in KEYS.items() if key in text]


async def test_keys_never_logged_or_raised(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "shared.providers"):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = provider_settings(sandbox, http_retry_after_max_s=0.5, llm_timeout_s=0.3)
    providers = all_providers(settings)
    errors: list[BaseException] = []
    try:
        # Happy paths: the sandbox only answers when each key arrives where its API wants it.
        await exercise(providers, sandbox, errors)
        assert errors == [], [str(e) for e in errors]
        # Error paths: 5xx with retries, per-second 429 beyond the cap, daily quota.
        await sandbox.knobs(
            {
                "isbndb": {"error_rate": 1.0},
                "google_books": {"rate_limit_429": 1},
                "gemini": {"daily_quota": 0},
                "xai": {"malformed_rate": 1.0},
                "openai_compat": {"timeout_rate": 1.0, "timeout_s": 2.0},
            }
        )
        await exercise(providers, sandbox, errors)
        assert len(errors) >= 5
        # Wrong keys: the providers' error bodies may echo what they were sent.
        await sandbox.reset()
        wrong = wrong_key_settings(sandbox)
        bad = all_providers(wrong)
        try:
            await exercise(bad, sandbox, errors)
        finally:
            await bad.aclose()
        # Control: a key put on the URL the ordinary way IS logged, so the capture works.
        await providers.transport.client.get(
            sandbox.base("google_books") + "/volumes", params={"q": "x", "key": "CONTROL-KEY"}
        )
    finally:
        await providers.aclose()

    assert any("CONTROL-KEY" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("httpx") for r in caplog.records), "httpx logs not captured"
    assert any(r.name.startswith("httpcore") for r in caplog.records), "httpcore not captured"
    # httpx logs every URL: Google's keyed requests are there, without the key.
    google_lines = [
        r.getMessage() for r in caplog.records if "/google-books/volumes" in r.getMessage()
    ]
    assert google_lines
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert not _leaks(text), f"key in log line: {record.name}: {text[:200]}"
    for error in errors:
        rendered = "".join(traceback.format_exception(error)) + repr(error) + str(vars(error))
        assert not _leaks(rendered), f"key in {type(error).__name__}: {error}"
    everything = f"{settings!r} {providers!r}"
    assert not _leaks(everything)
