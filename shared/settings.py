"""Typed, frozen settings read once from ALEXANDRIA_* environment variables at each entry point."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ALEXANDRIA_"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    """Every knob of the system. Secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", case_sensitive=False
    )

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    topic_prefix: str = Field(default="alexandria", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(default=6, ge=1, le=1000)
    topic_replication_factor: int = Field(default=1, ge=1, le=10)

    # --- PostgreSQL ----------------------------------------------------------------------------
    database_url: SecretStr = SecretStr("postgresql://alexandria@127.0.0.1:15432/alexandria")
    database_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]*$")

    # --- Local dev stack ---------------------------------------------------------------------
    dev_state_dir: Path = REPO_ROOT / ".state"
    dev_kafka_port: int = Field(default=19092, ge=1024, le=65535)
    dev_kafka_controller_port: int = Field(default=19093, ge=1024, le=65535)
    dev_postgres_port: int = Field(default=15432, ge=1024, le=65535)
    dev_sandbox_port: int = Field(default=18080, ge=1024, le=65535)
    dev_start_timeout_s: float = Field(default=120.0, gt=0)

    # --- External APIs (base URLs default to the real services; keys are secrets) --------------
    isbndb_base_url: str = "https://api2.isbndb.com"
    isbndb_api_key: SecretStr | None = None
    isbndb_daily_quota: int = Field(default=13_000, ge=0)
    isbndb_batch_size: int = Field(default=100, ge=1, le=1000)
    google_books_base_url: str = "https://www.googleapis.com/books/v1"
    google_books_api_key: SecretStr | None = None
    openlibrary_base_url: str = "https://openlibrary.org"
    archive_base_url: str = "https://archive.org"
    wikidata_base_url: str = "https://query.wikidata.org"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    xai_base_url: str = "https://api.x.ai"
    xai_api_key: SecretStr | None = None
    xai_model: str = "grok-4"
    openai_compat_base_url: str | None = None
    openai_compat_api_key: SecretStr | None = None
    openai_compat_model: str | None = None
    http_timeout_s: float = Field(default=20.0, gt=0)
    llm_timeout_s: float = Field(default=60.0, gt=0)
    http_max_retries: int = Field(default=3, ge=0, le=10)
    http_max_concurrency: int = Field(default=8, ge=1, le=256)
    contact_email: str = "backfill@alexandria.invalid"
    # Retries: full-jitter exponential backoff; a Retry-After longer than the cap is not waited
    # out but raised as RateLimited, so a caller reschedules instead of hammering (WDQS bans).
    http_backoff_base_s: float = Field(default=0.5, ge=0)
    http_backoff_max_s: float = Field(default=30.0, ge=0)
    http_retry_after_max_s: float = Field(default=120.0, ge=0)
    # Per-provider concurrency caps below the global one where the provider asks for it:
    # ISBNdb counts requests per second per plan, Open Library allows ~3 req/s to identified
    # clients, WDQS asks for one query at a time.
    isbndb_max_concurrency: int = Field(default=2, ge=1, le=256)
    openlibrary_max_concurrency: int = Field(default=3, ge=1, le=256)
    wikidata_max_concurrency: int = Field(default=1, ge=1, le=256)
    wikidata_batch_size: int = Field(default=200, ge=1, le=1000)
    wikidata_timeout_s: float = Field(default=65.0, gt=0)
    openlibrary_batch_size: int = Field(default=25, ge=1, le=1000)

    # --- Pipeline ----------------------------------------------------------------------------
    scheduler_interval_s: float = Field(default=10.0, gt=0)
    scheduler_months_per_tick: int = Field(default=20, ge=1, le=1000)
    scheduler_max_attempts: int = Field(default=5, ge=1, le=100)
    scheduler_stuck_after_s: float = Field(default=7200.0, gt=0)
    # A month whose generation failed is retried after base * 2^attempt seconds, capped.
    retry_backoff_base_s: float = Field(default=60.0, ge=0)
    retry_backoff_max_s: float = Field(default=86_400.0, ge=0)
    llm_batch_size: int = Field(default=20, ge=1, le=100)
    # Synthetic upgrades (a scheduler timer and `alexandria synthetic enhance`): re-resolve up
    # to PER_RUN synthetic works, oldest first, each at most once per RETRY_AFTER_DAYS.
    # PER_RUN 0 turns the timer off.
    synthetic_interval_s: float = Field(default=3600.0, gt=0)
    synthetic_per_run: int = Field(default=50, ge=0, le=10_000)
    synthetic_retry_after_days: float = Field(default=7.0, ge=0)
    # Names this replica's Kafka transactions; a stable value (e.g. a StatefulSet pod name) lets
    # a restarted replica fence its predecessor at once. Default: hostname-pid.
    instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")

    # --- Telemetry -----------------------------------------------------------------------------
    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318 (Jaeger's OTLP/HTTP)
    metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: no Prometheus endpoint
    metrics_host: str = "127.0.0.1"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _dsn_is_postgres(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql:// URL")
        return value

    @cached_property
    def dsn(self) -> str:
        """The PostgreSQL DSN in clear text, for drivers only: never log it."""
        return self.database_url.get_secret_value()

    @property
    def redacted_dsn(self) -> str:
        """The DSN with any password replaced, safe to show."""
        return redact_dsn(self.dsn)


def redact_dsn(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return dsn
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{hostpart}"


def load_settings(**overrides: object) -> Settings:
    """Read settings once; turn validation errors into one message naming each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
