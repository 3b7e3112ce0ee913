"""Settings: bad values fail at start naming the variable; secrets never print."""

from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings, redact_dsn


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_TOPIC_PARTITIONS", "zero")
    monkeypatch.setenv("ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS", "localhost")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "ALEXANDRIA_TOPIC_PARTITIONS" in message
    assert "ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS" in message


def test_secrets_are_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_ISBNDB_API_KEY", "isbndb-secret-123")
    monkeypatch.setenv("ALEXANDRIA_DATABASE_URL", "postgresql://u:pg-secret-456@db:5432/x")
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.redacted_dsn
    assert "isbndb-secret-123" not in shown and "pg-secret-456" not in shown
    assert settings.isbndb.api_key is not None
    assert settings.isbndb.api_key.get_secret_value() == "isbndb-secret-123"


def test_a_bad_dsn_does_not_echo_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALEXANDRIA_DATABASE_URL", "mysql://u:pg-secret-456@db/x")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "ALEXANDRIA_DATABASE_URL" in str(info.value)
    assert "pg-secret-456" not in str(info.value)


def test_redact_dsn() -> None:
    assert redact_dsn("postgresql://u:p@h:1/d") == "postgresql://u:***@h:1/d"
    assert redact_dsn("postgresql://u@h/d") == "postgresql://u@h/d"


def test_rate_limits_default_to_the_published_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.isbndb.rate_per_s == 1.0  # Basic plan
    assert 0.99 * 100 / 60 < settings.google_books.rate_per_s <= 100 / 60  # 100/min per user
    assert settings.openlibrary.rate_per_s == 3.0  # identified User-Agent
    assert settings.wikidata.rate_per_s == 0.0  # WDQS limits processing time, not requests
    monkeypatch.setenv("ALEXANDRIA_ISBNDB_RATE_PER_S", "3")  # Premium
    assert load_settings().isbndb.rate_per_s == 3.0
    assert load_settings(openlibrary_rate_per_s=0).setting("openlibrary_rate_per_s") == 0.0
    monkeypatch.setenv("ALEXANDRIA_GOOGLE_BOOKS_RATE_PER_S", "-1")
    with pytest.raises(SettingsError, match="ALEXANDRIA_GOOGLE_BOOKS_RATE_PER_S"):
        load_settings()
