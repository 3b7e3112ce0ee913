"""aiokafka connection options from settings (bootstrap servers, optional SASL/TLS)."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from shared.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka.bootstrap_servers,
        "security_protocol": settings.kafka.security_protocol,
    }
    if settings.kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka.ssl_cafile) if settings.kafka.ssl_cafile else None
        )
    if settings.kafka.sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka.sasl_mechanism
        options["sasl_plain_username"] = settings.kafka.sasl_username
        if settings.kafka.sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka.sasl_password.get_secret_value()
    return options
