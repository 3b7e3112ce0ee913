"""Typed, frozen settings read once from ALEXANDRIA_* environment variables at each entry point.

Grouped by concern (Kafka, topics, database, one block per provider, HTTP, LLM, scheduler,
synthetic upgrades, telemetry, the local stack), so a function takes only the block it needs.
Each block reads its own variables: a block's prefix plus the field name
(`ALEXANDRIA_ISBNDB_` + `api_key`), or the field's alias where the name does not follow it.
A setting's *flat name* is its variable without `ALEXANDRIA_`, lower-cased (`isbndb_api_key`):
`load_settings(**overrides)` and `Settings.setting(name)` speak flat names.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ALEXANDRIA_"
REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=ENV_PREFIX + prefix,
        frozen=True,
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )


def _env(name: str, default: Any = ..., **constraints: Any) -> Any:
    """A field whose variable is ALEXANDRIA_<NAME>, outside its block's prefix."""
    return Field(default, validation_alias=ENV_PREFIX + name, **constraints)


class Block(BaseSettings):
    """One concern's settings."""

    model_config = _config("")

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """field name -> its environment variable."""
        prefix = str(cls.model_config.get("env_prefix", ENV_PREFIX))
        return {
            name: str(info.validation_alias or prefix + name).upper()
            for name, info in cls.model_fields.items()
        }


class KafkaSettings(Block):
    model_config = _config("KAFKA_")

    bootstrap_servers: str = "127.0.0.1:19092"
    security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    # Names this replica's Kafka transactions; a stable value (e.g. a StatefulSet pod name) lets
    # a restarted replica fence its predecessor at once. Default: hostname-pid.
    instance_id: str | None = _env("INSTANCE_ID", None, pattern=r"^[A-Za-z0-9._-]+$")

    @field_validator("bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server.strip()!r}")
        return value


class TopicSettings(Block):
    model_config = _config("TOPIC_")

    prefix: str = Field(default="alexandria", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=10)


class DatabaseSettings(Block):
    model_config = _config("DATABASE_")

    url: SecretStr = SecretStr("postgresql://alexandria@127.0.0.1:15432/alexandria")
    schema_name: str = _env("DATABASE_SCHEMA", "public", pattern=r"^[a-z_][a-z0-9_]*$")

    @field_validator("url")
    @classmethod
    def _dsn_is_postgres(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql:// URL")
        return value

    @cached_property
    def dsn(self) -> str:
        """The PostgreSQL DSN in clear text, for drivers only: never log it."""
        return self.url.get_secret_value()

    @property
    def redacted_dsn(self) -> str:
        """The DSN with any password replaced, safe to show."""
        return redact_dsn(self.dsn)


class DevStackSettings(Block):
    model_config = _config("DEV_")

    state_dir: Path = REPO_ROOT / ".state"
    kafka_port: int = Field(default=19092, ge=1024, le=65535)
    kafka_controller_port: int = Field(default=19093, ge=1024, le=65535)
    postgres_port: int = Field(default=15432, ge=1024, le=65535)
    sandbox_port: int = Field(default=18080, ge=1024, le=65535)
    # Jaeger's default ports + 10000, like the others, so a developer's own Jaeger (4318, 16686)
    # and the local one never collide. Both loopback only.
    jaeger_otlp_port: int = Field(default=14318, ge=1024, le=65535)  # OTLP over HTTP
    jaeger_query_port: int = Field(default=26686, ge=1024, le=65535)  # query API and UI
    start_timeout_s: float = Field(default=120.0, gt=0)


class HttpSettings(Block):
    """The shared transport. Retries: full-jitter exponential backoff; a Retry-After longer than
    the cap is not waited out but raised as RateLimited, so a caller reschedules instead of
    hammering (WDQS bans)."""

    model_config = _config("HTTP_")

    timeout_s: float = Field(default=20.0, gt=0)
    max_retries: int = Field(default=6, ge=0, le=20)
    # A call's retries stop when the next attempt would start this long after the first.
    retry_deadline_s: float = Field(default=120.0, gt=0)
    # A provider failing (transiently) for longer than this counts as down: inputs stop
    # waiting for it and are decided without it, logged as an error (shared.providers.outage).
    outage_patience_s: float = Field(default=900.0, ge=0)
    max_concurrency: int = Field(default=8, ge=1, le=256)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    retry_after_max_s: float = Field(default=120.0, ge=0)
    contact_email: str = _env("CONTACT_EMAIL", "backfill@alexandria.invalid")


class ProviderSettings(Block):
    """Where one external API lives. Base URLs default to the real services; keys are secrets.
    `max_concurrency` caps this provider's calls in flight below the HTTP-wide cap where the
    provider asks for it (WDQS asks for one query at a time); request rates are not capped by
    concurrency but paced: `rate_per_s` is the provider's published
    request rate per key (per client where there is no key), honoured by all replicas together
    through PostgreSQL (shared.providers.pace); 0 leaves the provider unpaced. Defaults and
    their sources: ISBNdb 1/s (Basic plan; Premium 3, Pro 5, per ISBNdb's docs), Google Books
    100 requests/minute/user (Google Cloud console default), Open Library 3/s (its developer
    page, for a User-Agent with a contact, which we send), Internet Archive 1/s (no published
    limit; its staff ask for about that), Gemini 10/minute (gemini-2.5-flash free tier, ai.google
    .dev rate-limits page). WDQS limits processing time, not requests (60 s per minute): one
    query at a time already keeps within it, so Wikidata is unpaced; xAI's limits are per team
    in its console, and a local OpenAI-compatible server has none."""

    base_url: str
    max_concurrency: int | None = Field(default=None, ge=1, le=256)
    rate_per_s: float = Field(default=0.0, ge=0, le=10_000)


class IsbndbSettings(ProviderSettings):
    model_config = _config("ISBNDB_")

    base_url: str = "https://api2.isbndb.com"
    api_key: SecretStr | None = None
    daily_quota: int = Field(default=13_000, ge=0)
    batch_size: int = Field(default=100, ge=1, le=1000)
    rate_per_s: float = Field(default=1.0, ge=0, le=10_000)


class GoogleBooksSettings(ProviderSettings):
    model_config = _config("GOOGLE_BOOKS_")

    base_url: str = "https://www.googleapis.com/books/v1"
    api_key: SecretStr | None = None
    rate_per_s: float = Field(default=1.666, ge=0, le=10_000)  # 100/min, rounded down


class OpenLibrarySettings(ProviderSettings):
    model_config = _config("OPENLIBRARY_")

    base_url: str = "https://openlibrary.org"
    rate_per_s: float = Field(default=3.0, ge=0, le=10_000)
    batch_size: int = Field(default=25, ge=1, le=1000)


class ArchiveSettings(ProviderSettings):
    model_config = _config("ARCHIVE_")

    base_url: str = "https://archive.org"
    rate_per_s: float = Field(default=1.0, ge=0, le=10_000)


class WikidataSettings(ProviderSettings):
    model_config = _config("WIKIDATA_")

    base_url: str = "https://query.wikidata.org"
    max_concurrency: int | None = Field(default=1, ge=1, le=256)
    batch_size: int = Field(default=200, ge=1, le=1000)
    timeout_s: float = Field(default=65.0, gt=0)


class GeminiSettings(ProviderSettings):
    model_config = _config("GEMINI_")

    base_url: str = "https://generativelanguage.googleapis.com"
    api_key: SecretStr | None = None
    model: str = "gemini-2.5-flash"
    rate_per_s: float = Field(default=0.1666, ge=0, le=10_000)  # 10/min, rounded down


class XaiSettings(ProviderSettings):
    model_config = _config("XAI_")

    base_url: str = "https://api.x.ai"
    api_key: SecretStr | None = None
    model: str = "grok-4"


class OpenAICompatSettings(ProviderSettings):
    """Any OpenAI-compatible endpoint (a local Ollama or vLLM); off unless a URL and a model
    are set."""

    model_config = _config("OPENAI_COMPAT_")

    base_url: str = ""
    api_key: SecretStr | None = None
    model: str | None = None


class LLMSettings(Block):
    model_config = _config("LLM_")

    timeout_s: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=20, ge=1, le=100)  # books asked per month


class SchedulerSettings(Block):
    model_config = _config("SCHEDULER_")

    interval_s: float = Field(default=10.0, gt=0)
    months_per_tick: int = Field(default=20, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    stuck_after_s: float = Field(default=7200.0, gt=0)
    # A month whose generation failed is retried after base * 2^attempt seconds, capped.
    retry_backoff_base_s: float = _env("RETRY_BACKOFF_BASE_S", 60.0, ge=0)
    retry_backoff_max_s: float = _env("RETRY_BACKOFF_MAX_S", 86_400.0, ge=0)


class SyntheticSettings(Block):
    """Synthetic upgrades (a resolver timer and `alexandria synthetic enhance`): re-resolve up to
    `per_run` synthetic works, oldest first, each at most once per `retry_after_days`.
    `per_run` 0 turns the timer off."""

    model_config = _config("SYNTHETIC_")

    interval_s: float = Field(default=3600.0, gt=0)
    per_run: int = Field(default=50, ge=0, le=10_000)
    retry_after_days: float = Field(default=7.0, ge=0)


class TelemetrySettings(Block):
    model_config = _config("")

    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318 (Jaeger's OTLP/HTTP)
    metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: no Prometheus endpoint
    metrics_host: str = "127.0.0.1"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")


class Settings(BaseModel):
    """Every knob of the system, one block per concern. Secrets are SecretStr: they never print."""

    model_config = ConfigDict(frozen=True)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    dev: DevStackSettings = Field(default_factory=DevStackSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    isbndb: IsbndbSettings = Field(default_factory=IsbndbSettings)
    google_books: GoogleBooksSettings = Field(default_factory=GoogleBooksSettings)
    openlibrary: OpenLibrarySettings = Field(default_factory=OpenLibrarySettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    wikidata: WikidataSettings = Field(default_factory=WikidataSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    xai: XaiSettings = Field(default_factory=XaiSettings)
    openai_compat: OpenAICompatSettings = Field(default_factory=OpenAICompatSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @property
    def dsn(self) -> str:
        """The PostgreSQL DSN in clear text, for drivers only: never log it."""
        return self.database.dsn

    @property
    def redacted_dsn(self) -> str:
        return self.database.redacted_dsn

    def setting(self, name: str) -> Any:
        """The value of a setting by flat name (`isbndb_api_key`)."""
        block, field = FLAT_NAMES[name]
        return getattr(getattr(self, block), field)

    def blocks(self) -> dict[str, Block]:
        return {name: getattr(self, name) for name in BLOCKS}


BLOCKS: dict[str, type[Block]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in Settings.model_fields.items()
}


def _flat_names() -> dict[str, tuple[str, str]]:
    """flat name -> (block, field), for every setting."""
    names = {}
    for block, model in BLOCKS.items():
        for field, env in model.env_names().items():
            names[env.removeprefix(ENV_PREFIX).lower()] = (block, field)
    return names


FLAT_NAMES = _flat_names()


def redact_dsn(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return dsn
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{hostpart}"


def load_settings(**overrides: object) -> Settings:
    """Read settings once; `overrides` by flat name win over the environment. Validation errors
    become one message naming each variable."""
    unknown = sorted(set(overrides) - set(FLAT_NAMES))
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(unknown)}")
    per_block: dict[str, dict[str, Any]] = {name: {} for name in BLOCKS}
    for name, value in overrides.items():
        block, field = FLAT_NAMES[name]
        per_block[block][field] = value
    blocks, problems = {}, []
    for name, model in BLOCKS.items():
        try:
            blocks[name] = model(**per_block[name])
        except ValidationError as exc:
            env_names = {**model.env_names(), **{v: v for v in model.env_names().values()}}
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "?"
                env = env_names.get(field, env_names.get(field.upper(), field.upper()))
                problems.append(f"{env}: {error['msg']}")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return Settings(**blocks)
