"""WDQS's 60 s limit: a batch that times out server-side is halved until it fits.

The sandbox only times out past 100,000 rows, so a stub endpoint stands in for WDQS here; it
answers the documented 500 + TimeoutException when a query carries too many VALUES.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from shared.providers.errors import ProviderUnavailable
from shared.providers.http import HttpTransport
from shared.providers.wikidata import WikidataClient
from tests.providers.conftest import SleepLog, provider_settings

ISBNS = [
    "9781594633669", "9780743273565", "9780441013593", "9780140328721",
    "9781593272821", "9780684801520", "9781439132838", "9780006479888",
]  # fmt: skip


class StubWdqs:
    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self.sizes: list[int] = []

    async def sparql(self, request: web.Request) -> web.Response:
        query = parse_qs(await request.text())["query"][0]
        values = re.search(r"VALUES \?isbn \{(.*?)\}", query, re.S)
        size = len(re.findall(r'"[^"]*"', values.group(1))) if values else 0
        self.sizes.append(size)
        if size > self.max_values:
            return web.Response(
                status=500,
                text="SPARQL-QUERY: queryStr=...\njava.util.concurrent.TimeoutException\n",
            )
        return web.json_response({"head": {"vars": ["isbn"]}, "results": {"bindings": []}})


@pytest.fixture
async def stub() -> AsyncIterator[tuple[StubWdqs, str]]:
    wdqs = StubWdqs(max_values=4)
    app = web.Application()
    app.router.add_post("/sparql", wdqs.sparql)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield wdqs, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_timed_out_batches_are_halved(stub: tuple[StubWdqs, str], sandbox) -> None:  # type: ignore[no-untyped-def]
    wdqs, url = stub
    settings = provider_settings(sandbox, wikidata_base_url=url)
    async with HttpTransport.from_settings(settings, sleep=SleepLog()) as transport:
        client = WikidataClient.from_settings(transport, settings)
        assert await client.facts_for_isbns(ISBNS) == {}
        # 8 ISBNs = 16 values (ISBN-13 + ISBN-10 each), then 8, then 4 which fit: no retries.
        assert wdqs.sizes == [16, 8, 4, 4, 8, 4, 4]
        wdqs.max_values = 0
        with pytest.raises(ProviderUnavailable, match="time limit"):
            await client.facts_for_isbns(ISBNS[:1])
