"""Ground truth for tests (never for services): which catalogue or invented book each generated
LLM book really is, and which providers know each of a month's catalogue books."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sandbox import google_books
from sandbox.catalogue import Catalogue
from sandbox.catalogue_index import DEFAULT_COVERAGE, CatalogueIndex, knows
from sandbox.llm_books import LLM_PROVIDERS, generate_month


@dataclass(frozen=True)
class TruthEntry:
    position: int  # index in the LLM's answer
    title: str  # as the LLM spells it
    authors: tuple[str, ...]  # as the LLM spells them
    isbn: str | None  # as the LLM gives it
    kind: str  # "catalogue", "neighbour" or "invented"
    source_id: str  # catalogue book id, or invented book id
    isbn_status: str  # "correct", "other_edition", "missing", "wrong" or "fabricated"
    claimed_year: int
    claimed_month: int


def ground_truth(
    catalogue: Catalogue,
    year: int,
    month: int,
    provider: str,
    seed: int,
    count: int | None = None,
) -> list[TruthEntry]:
    """What `provider` answers for the month with this seed, entry by entry, in answer order.
    `count` is the number of books the prompt asked for (None: no limit)."""
    books = generate_month(catalogue, provider, year, month, seed, count)
    return [
        TruthEntry(
            position=position,
            title=book.title,
            authors=book.authors,
            isbn=book.isbn,
            kind=book.kind,
            source_id=book.source_id,
            isbn_status=book.isbn_status,
            claimed_year=book.publication_year,
            claimed_month=book.publication_month,
        )
        for position, book in enumerate(books)
    ]


def known_by(
    index: CatalogueIndex, isbn13: str, coverage: dict[str, float] | None = None
) -> dict[str, bool]:
    """Per metadata provider: whether a lookup of this ISBN can succeed there."""
    rates = {**DEFAULT_COVERAGE, **(coverage or {})}
    edition = index.editions[isbn13]
    found = {name: knows(name, edition, rate) for name, rate in rates.items()}
    found["google_books"] = found["google_books"] and google_books.findable_by_isbn(edition)
    return found


def month_truth(
    index: CatalogueIndex,
    year: int,
    month: int,
    seeds: dict[str, int],
    count: int | None,
    coverage: dict[str, float],
    providers: tuple[str, ...] = LLM_PROVIDERS,
) -> dict[str, Any]:
    catalogue = index.catalogue
    return {
        "year": year,
        "month": month,
        "count": count,
        "catalogue_books": [
            {
                "id": book.id,
                "title": book.title,
                "authors": list(book.authors),
                "isbn13": book.isbn13,
                "known_by": known_by(index, book.isbn13, coverage),
            }
            for book in catalogue.books_in_month(year, month)
        ],
        "invented": [
            {"id": b.id, "title": b.title} for b in catalogue.invented_in_month(year, month)
        ],
        "llm": {
            provider: {
                "seed": seeds[provider],
                "books": [
                    asdict(entry)
                    for entry in ground_truth(
                        catalogue, year, month, provider, seeds[provider], count
                    )
                ],
            }
            for provider in providers
        },
    }
