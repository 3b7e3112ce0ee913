"""Calls that exercise every provider client's keyed paths, shared by the secrets and tracing
tests: every client as one namespace, one call of each keyed kind, settings with wrong keys."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from shared.providers import build_book_providers, build_llm_providers
from shared.providers.errors import ProviderError
from shared.settings import Settings
from tests.providers.conftest import KEYS, Sandbox, provider_settings

PROMPT = "List 2 notable books first published in May 2001."


def all_providers(settings: Any) -> Any:
    """Every client, the book APIs' and the LLMs', as one namespace (two transports)."""
    books, llms = build_book_providers(settings), build_llm_providers(settings)

    async def aclose() -> None:
        await books.aclose()
        await llms.aclose()

    clients = {**vars(books), **{k: v for k, v in vars(llms).items() if k != "transport"}}
    return SimpleNamespace(**clients, aclose=aclose)


async def exercise(providers: Any, sandbox: Sandbox, errors: list[BaseException]) -> None:
    book = sandbox.catalogue.books[0]
    calls = [
        lambda: providers.isbndb.book(book.isbn13),
        lambda: providers.isbndb.books_batch([book.isbn13]),
        lambda: providers.google_books.search(book.title, book.authors[0]),
        lambda: providers.google_books.by_isbn(book.isbn13),
        lambda: providers.gemini.generate_books(PROMPT),
        lambda: providers.xai.generate_books(PROMPT),
        lambda: providers.openai_compat.generate_books(PROMPT),
    ]
    for call in calls:
        try:
            await call()
        except ProviderError as exc:
            errors.append(exc)


def wrong_key_settings(sandbox: Sandbox) -> Settings:
    """Reversed keys: the providers' error bodies may echo what they were sent."""
    return provider_settings(
        sandbox,
        isbndb_api_key=KEYS["isbndb"][::-1],
        google_books_api_key=KEYS["google_books"][::-1],
        xai_api_key=KEYS["xai"][::-1],
        llm_timeout_s=0.3,
    )
