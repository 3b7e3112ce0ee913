"""What a noisy LLM answers when asked for a month's notable books: most of the month's catalogue
books (a provider-specific subset), spelling variants, invented books, a neighbouring month's book,
wrong or missing ISBNs. Deterministic per (provider, year, month, seed), and it carries its own
ground truth (which catalogue or invented book each entry really is)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.catalogue import Catalogue, CatalogueBook, InventedBook
from sandbox.catalogue_index import parse_date
from sandbox.hashing import chance, fraction, pick, stable_int
from sandbox.isbns import corrupt, hyphenate, make_isbn13, to_isbn10
from sandbox.variants import invert_name, sentences, squash_initials

LLM_PROVIDERS = ("gemini", "xai", "openai_compat")


@dataclass(frozen=True)
class GeneratedBook:
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    publisher: str
    publication_year: int
    publication_month: int
    format: str
    description: str
    genres: tuple[str, ...]
    isbn: str | None
    # Ground truth, never sent to clients:
    kind: str  # "catalogue", "neighbour" (a book of an adjacent month) or "invented"
    source_id: str  # the catalogue book id or the invented book id
    isbn_status: str  # "correct", "other_edition", "missing", "wrong" or "fabricated"


def _adjacent(year: int, month: int, step: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + step
    return index // 12, index % 12 + 1


def _title_variant(title: str, subtitle: str | None, *key: object) -> tuple[str, str | None]:
    if not subtitle:
        return title, None
    style = pick(("keep", "keep", "drop", "merge"), "title", *key)
    if style == "drop":
        return title, None
    if style == "merge":
        return f"{title}: {subtitle}", None
    return title, subtitle


def _author_variants(authors: tuple[str, ...], *key: object) -> tuple[str, ...]:
    if len(authors) > 1 and chance(0.15, "first-author-only", *key):
        authors = authors[:1]
    out = []
    for position, name in enumerate(authors):
        roll = fraction("author", position, *key)
        if roll < 0.2:
            out.append(squash_initials(name))  # "J. K. Rowling" -> "J.K. Rowling"
        elif roll < 0.27:
            out.append(invert_name(squash_initials(name)))  # -> "Rowling, J.K."
        else:
            out.append(name)
    return tuple(out)


def _format_variant(fmt: str, *key: object) -> str:
    return fmt.lower() if chance(0.2, "format", *key) else fmt


def _genre_variant(genres: tuple[str, ...], *key: object) -> tuple[str, ...]:
    if chance(0.3, "genres-lower", *key):
        return tuple(genre.lower() for genre in genres)
    return genres


def _catalogue_isbn(
    catalogue: Catalogue, book: CatalogueBook, *key: object
) -> tuple[str | None, str]:
    roll = fraction("isbn", *key)
    if roll < 0.5:
        return book.isbn13, "correct"
    if roll < 0.58:
        return to_isbn10(book.isbn13) or book.isbn13, "correct"
    if roll < 0.63:
        return hyphenate(book.isbn13), "correct"
    if roll < 0.70 and book.other_editions:
        return pick(book.other_editions, "edition", *key).isbn13, "other_edition"
    if roll < 0.90:
        return None, "missing"
    if chance(0.5, "wrong-kind", *key) and len(catalogue.books) > 1:
        other = pick(catalogue.books, "wrong-book", *key)
        if other.id != book.id:
            return other.isbn13, "wrong"  # another real book's ISBN: the dangerous kind
    return corrupt(book.isbn13), "wrong"


def _fabricated_isbn(catalogue: Catalogue, *key: object) -> str:
    attempt = 0
    while True:
        isbn = make_isbn13(f"978{stable_int('fabricated', attempt, *key) % 10**9:09d}")
        if isbn not in catalogue.by_isbn13:
            return isbn
        attempt += 1


def _from_catalogue(
    catalogue: Catalogue,
    book: CatalogueBook,
    kind: str,
    year: int,
    month: int,
    *key: object,
) -> GeneratedBook:
    key = (*key, book.id)
    title, subtitle = _title_variant(book.title, book.subtitle, *key)
    date = parse_date(book.publication_date)
    claimed_year, claimed_month = date.year, date.month or month
    if kind == "neighbour" and chance(0.5, "claims-asked-month", *key):
        claimed_year, claimed_month = year, month  # the model misdates it into the asked month
    isbn, status = _catalogue_isbn(catalogue, book, *key)
    return GeneratedBook(
        title=title,
        subtitle=subtitle,
        authors=_author_variants(tuple(book.authors), *key),
        publisher=book.publisher,
        publication_year=claimed_year,
        publication_month=claimed_month,
        format=_format_variant(book.format, *key),
        description=sentences(book.description, 1 + stable_int("sentences", *key) % 2),
        genres=_genre_variant(tuple(book.genres), *key),
        isbn=isbn,
        kind=kind,
        source_id=book.id,
        isbn_status=status,
    )


def _from_invented(catalogue: Catalogue, book: InventedBook, *key: object) -> GeneratedBook:
    key = (*key, book.id)
    title, subtitle = _title_variant(book.title, book.subtitle, *key)
    fabricated = chance(0.4, "fabricate", *key)
    return GeneratedBook(
        title=title,
        subtitle=subtitle,
        authors=_author_variants(tuple(book.authors), *key),
        publisher=book.publisher,
        publication_year=book.publication_year,
        publication_month=book.publication_month,
        format=_format_variant(book.format, *key),
        description=book.description,
        genres=_genre_variant(tuple(book.genres), *key),
        isbn=_fabricated_isbn(catalogue, *key) if fabricated else None,
        kind="invented",
        source_id=book.id,
        isbn_status="fabricated" if fabricated else "missing",
    )


def generate_month(
    catalogue: Catalogue,
    provider: str,
    year: int,
    month: int,
    seed: int,
    count: int | None = None,
) -> list[GeneratedBook]:
    """The books `provider` answers for (year, month), in answer order, at most `count`."""
    key = (seed, provider, year, month)
    # Each provider recalls 70-85% of the month's real books, an independent subset each.
    recall = 0.70 + 0.15 * fraction("recall", *key)
    # A fixed share rather than a coin per book: months hold only a few dozen books, and coins
    # would often land far outside 70-85%. At least one book is always left out.
    ranked = sorted(
        catalogue.books_in_month(year, month), key=lambda b: stable_int("pick", *key, b.id)
    )
    keep = min(round(recall * len(ranked)), len(ranked) - 1) if len(ranked) > 1 else len(ranked)
    picked: list[tuple[str, str, CatalogueBook | InventedBook]] = [
        ("catalogue", book.id, book) for book in ranked[:keep]
    ]
    invented = sorted(catalogue.invented_in_month(year, month), key=lambda b: b.id)
    picked += [("invented", b.id, b) for b in invented if chance(0.5, "invent", *key, b.id)]
    if chance(0.35, "neighbour", *key):
        step = pick((-1, 1), "neighbour-side", *key)
        neighbours = sorted(
            catalogue.books_in_month(*_adjacent(year, month, step)), key=lambda b: b.id
        )
        if neighbours:
            neighbour = pick(neighbours, "neighbour-book", *key)
            picked.append(("neighbour", neighbour.id, neighbour))
    picked.sort(key=lambda item: stable_int("order", *key, item[1]))
    if count is not None:
        picked = picked[:count]
    answer = []
    for kind, _, book in picked:
        if isinstance(book, InventedBook):
            answer.append(_from_invented(catalogue, book, *key))
        else:
            answer.append(_from_catalogue(catalogue, book, kind, year, month, *key))
    return answer
