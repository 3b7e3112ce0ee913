"""The process-wide pooled httpx client, and the layer that adds an API key to the wire copy of
a request only, so a key never reaches a logged URL, an exception or a span."""

from __future__ import annotations

from importlib import metadata

import httpx

from shared.providers.spec import Credential
from shared.tracing import instrument_http_client

CREDENTIAL_EXTENSION = "alexandria.credential"
"""Request extension carrying (Credential, origin) from the transport to _CredentialTransport."""


class _CredentialTransport(httpx.AsyncBaseTransport):
    """Adds the API key to a copy of the request just before the wire.

    httpx logs `request.url` and stores it on responses and exceptions; keeping the key off
    that object keeps it out of logs and tracebacks. The key is only sent to the origin it
    was configured for, so a redirect elsewhere cannot leak it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attached = request.extensions.get(CREDENTIAL_EXTENSION)
        if attached is None:
            return await self._inner.handle_async_request(request)
        credential, origin = attached
        extensions = {k: v for k, v in request.extensions.items() if k != CREDENTIAL_EXTENSION}
        url, headers = request.url, request.headers.copy()
        if (url.scheme, url.host, url.port) == origin:
            secret = credential.secret.get_secret_value()
            if credential.header:
                headers[credential.header] = credential.prefix + secret
            if credential.param:
                url = url.copy_add_param(credential.param, secret)
        wire = httpx.Request(
            request.method, url, headers=headers, stream=request.stream, extensions=extensions
        )
        return await self._inner.handle_async_request(wire)

    async def aclose(self) -> None:
        await self._inner.aclose()


def redact(text: str, credential: Credential | None) -> str:
    """Defence in depth: provider error texts may echo what we sent."""
    if credential is None:
        return text
    secret = credential.secret.get_secret_value()
    return text.replace(secret, "***") if secret else text


def user_agent(contact_email: str) -> str:
    """Descriptive UA with contact, as Open Library and the Wikimedia UA policy ask."""
    try:
        version = metadata.version("alexandria-backfill")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    return f"AlexandriaBackfill/{version} (mailto:{contact_email}) httpx/{httpx.__version__}"


def build_client(
    contact_email: str, timeout_s: float, max_connections: int = 100
) -> httpx.AsyncClient:
    """The process-wide pooled client: keep-alive, redirects followed, UA with contact."""
    inner = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 2 or 1,
            keepalive_expiry=30.0,
        ),
        retries=0,
    )
    client = httpx.AsyncClient(
        transport=_CredentialTransport(inner),
        headers={"User-Agent": user_agent(contact_email), "Accept": "application/json"},
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=True,
        max_redirects=5,
    )
    instrument_http_client(client)  # above _CredentialTransport: its spans never see a key
    return client
