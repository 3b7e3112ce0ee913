"""The whole local stack (PostgreSQL, Kafka, the sandbox, Jaeger): up/down/status, its env."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ops.devstack import jaeger, kafka, postgres, sandbox_proc
from shared.settings import Settings


@dataclass(frozen=True)
class Component:
    name: str
    start: Callable[[Settings], str]
    stop: Callable[[Settings], bool]
    healthy: Callable[[Settings], bool]
    address: Callable[[Settings], str]


COMPONENTS = (
    Component("postgresql", postgres.start, postgres.stop, postgres.is_healthy, postgres.dsn),
    Component("kafka", kafka.start, kafka.stop, kafka.is_healthy, kafka.bootstrap),
    Component(
        "sandbox",
        sandbox_proc.start,
        sandbox_proc.stop,
        sandbox_proc.is_healthy,
        sandbox_proc.base_url,
    ),
    Component("jaeger", jaeger.start, jaeger.stop, jaeger.is_healthy, jaeger.ui_url),
)


def stack_env(settings: Settings) -> dict[str, str]:
    """What a shell needs to talk to the local stack (`eval "$(alexandria dev env)"`)."""
    return {
        "ALEXANDRIA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap(settings),
        "ALEXANDRIA_DATABASE_URL": postgres.dsn(settings),
        "ALEXANDRIA_OTLP_ENDPOINT": jaeger.otlp_endpoint(settings),
        **sandbox_proc.provider_env(settings),
    }
