"""The sandbox application: one aiohttp server on loopback speaking all seven provider APIs.

Each provider is mounted under its own prefix, so a client's base URL is the server plus the
prefix, and the client appends the real API's paths unchanged (PORT is e.g. 18080):

    ALEXANDRIA_ISBNDB_BASE_URL         http://127.0.0.1:PORT/isbndb       + /book/{isbn} ...
    ALEXANDRIA_GOOGLE_BOOKS_BASE_URL   http://127.0.0.1:PORT/google-books + /volumes?q=...
    ALEXANDRIA_OPENLIBRARY_BASE_URL    http://127.0.0.1:PORT/openlibrary  + /search.json ...
    ALEXANDRIA_ARCHIVE_BASE_URL        http://127.0.0.1:PORT/archive      + /advancedsearch.php
    ALEXANDRIA_WIKIDATA_BASE_URL       http://127.0.0.1:PORT/wikidata     + /sparql
    ALEXANDRIA_GEMINI_BASE_URL         http://127.0.0.1:PORT/gemini       + /v1beta/models/...
    ALEXANDRIA_XAI_BASE_URL            http://127.0.0.1:PORT/xai          + /v1/chat/completions
    ALEXANDRIA_OPENAI_COMPAT_BASE_URL  http://127.0.0.1:PORT/openai-compat/v1 + /chat/completions

The OpenAI-compatible base may also point at http://127.0.0.1:PORT/xai/v1 (same wire format,
but then it shares xAI's knobs and answers). The admin API lives under /_sandbox (admin.py).
"""

from __future__ import annotations

from aiohttp import web

from sandbox import admin, archive, gemini, google_books, isbndb, openai_chat, openlibrary, wikidata
from sandbox.catalogue import Catalogue
from sandbox.catalogue_index import CatalogueIndex
from sandbox.knobs import Knobs
from sandbox.state import STATE, SandboxState


def create_app(catalogue: Catalogue, knobs: Knobs | None = None) -> web.Application:
    start_knobs = knobs or Knobs()
    index = CatalogueIndex.build(catalogue)
    app = web.Application()
    app[STATE] = SandboxState(catalogue, index, start_knobs, start_knobs)
    admin.add_routes(app)
    app.add_subapp("/isbndb", isbndb.create_app())
    app.add_subapp("/google-books", google_books.create_app(index))
    app.add_subapp("/openlibrary", openlibrary.create_app(index))
    app.add_subapp("/archive", archive.create_app(index))
    app.add_subapp("/wikidata", wikidata.create_app(index))
    app.add_subapp("/gemini", gemini.create_app())
    app.add_subapp("/xai", openai_chat.create_app("xai"))
    app.add_subapp("/openai-compat", openai_chat.create_app("openai_compat"))
    return app
