"""Provider records -> the per-provider facts, and the MetadataFetched that carries them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from services.enricher.logic.works import ExistingWork, author_identities, decide_work
from shared import isbn as isbn_lib
from shared.events import (
    AuthorFacts,
    EditionFacts,
    GeneratedBook,
    ISBNResolved,
    MetadataFetched,
    WorkFacts,
    derived_envelope,
)
from shared.providers.models import BookRecord, WikidataFacts
from shared.scores import edition_quality, work_quality

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_LANGUAGE = re.compile(r"^[a-z]{2}$")

AUTHOR_SOURCES = ("isbndb", "google_books", "openlibrary")
"""Where an edition's authors come from: the best source that lists any (then the LLM's)."""


def normalise_date(text: str | None) -> str | None:
    """A publication date as YYYY, YYYY-MM or YYYY-MM-DD, from the forms providers use
    ("2019", "2019-03-05", "2019-03-05T00:00:00Z", "March 5, 2019", "Sept 2004")."""
    if not text:
        return None
    text = text.strip()
    iso = _ISO.match(text)
    if iso:
        year, month, day = iso.groups()
        if month and 1 <= int(month) <= 12:
            if day and 1 <= int(day) <= 31:
                return f"{year}-{int(month):02d}-{int(day):02d}"
            return f"{year}-{int(month):02d}"
        return year
    year_match = _YEAR.search(text)
    if year_match is None:
        return None
    month = next((n for name, n in _MONTHS.items() if name in text.lower()), None)
    return f"{year_match.group(1)}-{month:02d}" if month else year_match.group(1)


def year_of(text: str | None) -> int | None:
    normalised = normalise_date(text)
    return int(normalised[:4]) if normalised else None


def _language(code: str | None) -> str | None:
    return code if code and _LANGUAGE.match(code) else None


def _list(value: str | None) -> list[str]:
    return [value] if value else []


def _related(record: BookRecord, isbn13: str) -> dict[str, str]:
    related = {}
    for number, fmt in record.related_isbns.items():
        other = isbn_lib.isbn13_or_none(number)
        if other and other != isbn13:
            related[other] = fmt or ""
    return related


def edition_facts(record: BookRecord, isbn13: str, response_ms: int) -> EditionFacts:
    ids = record.external_ids
    facts = EditionFacts(
        provider=record.provider,
        quality=0,
        title=record.title,
        subtitle=record.subtitle,
        publisher=record.publisher,
        publication_date=normalise_date(record.publication_date),
        page_count=record.page_count if record.page_count and record.page_count > 0 else None,
        format=record.format,
        binding=record.format,
        language=_language(record.language),
        cover_url_large=record.covers.large,
        cover_url_medium=record.covers.medium,
        cover_url_small=record.covers.small,
        cover_url_original=record.covers.original,
        openlibrary_edition_id=ids.openlibrary_edition,
        amazon_asins=_list(ids.amazon_asin),
        google_books_volume_ids=_list(ids.google_volume),
        goodreads_edition_ids=_list(ids.goodreads_edition),
        subjects=list(record.subjects),
        dewey_decimal=list(record.dewey),
        related_isbns=_related(record, isbn13),
        alternate_isbns=[i for i in [isbn_lib.to_isbn10(isbn13)] if i],
        response_time_ms=response_ms,
    )
    return facts.model_copy(update={"quality": edition_quality(facts)})


def work_facts_from_record(record: BookRecord, response_ms: int) -> WorkFacts:
    ids = record.external_ids
    facts = WorkFacts(
        provider=record.provider,
        quality=0,
        title=record.title,
        subtitle=record.subtitle,
        description=record.description,
        original_language=_language(record.language),
        first_publication_year=year_of(record.publication_date),
        subject_tags=list(record.subjects),
        cover_url_large=record.covers.large,
        cover_url_medium=record.covers.medium,
        cover_url_small=record.covers.small,
        openlibrary_work_id=ids.openlibrary_work,
        goodreads_work_ids=_list(ids.goodreads_work),
        amazon_asins=_list(ids.amazon_asin),
        google_books_volume_ids=_list(ids.google_volume),
        response_time_ms=response_ms,
    )
    return facts.model_copy(update={"quality": work_quality(facts)})


def work_facts_from_wikidata(facts: WikidataFacts, response_ms: int) -> WorkFacts:
    openlibrary = facts.openlibrary_id if (facts.openlibrary_id or "").endswith("W") else None
    work = WorkFacts(
        provider="wikidata",
        quality=0,
        title=facts.title,
        first_publication_year=year_of(facts.publication_date),
        subject_tags=sorted({*facts.genres, *facts.main_subjects}),
        openlibrary_work_id=openlibrary,
        goodreads_work_ids=_list(facts.goodreads_work_id),
        response_time_ms=response_ms,
    )
    return work.model_copy(update={"quality": work_quality(work)})


def work_facts_from_description(provider: str, description: str, ms: int) -> WorkFacts:
    work = WorkFacts(provider=provider, quality=0, description=description, response_time_ms=ms)
    return work.model_copy(update={"quality": work_quality(work)})


def llm_facts(book: GeneratedBook) -> tuple[EditionFacts, WorkFacts]:
    """What the LLM said, kept at the lowest rank: nothing generated is ever lost."""
    provider = book.source_providers[0] if book.source_providers else "llm"
    year = book.publication_year
    date = None
    if year:
        date = f"{year}-{book.publication_month:02d}" if book.publication_month else str(year)
    edition = EditionFacts(
        provider=provider,
        quality=0,
        title=book.title,
        subtitle=book.subtitle,
        publisher=book.publisher,
        publication_date=date,
        format=book.format,
    )
    work = WorkFacts(
        provider=provider,
        quality=0,
        title=book.title,
        subtitle=book.subtitle,
        description=book.description,
        first_publication_year=year,
        subject_tags=list(book.genres),
    )
    return (
        edition.model_copy(update={"quality": edition_quality(edition)}),
        work.model_copy(update={"quality": work_quality(work)}),
    )


def author_facts(provider: str, names: Iterable[str]) -> list[AuthorFacts]:
    return [
        AuthorFacts(
            provider=provider,
            author_key=a.author_key,
            name=a.name,
            normalized_name=a.normalized_name,
            author_order=a.author_order,
        )
        for a in author_identities(list(names))
    ]


def metadata_fetched(
    resolved: ISBNResolved,
    records: Sequence[BookRecord],
    works: Sequence[ExistingWork],
    *,
    wikidata: WikidataFacts | None,
    description: str | None,
    timings: Mapping[str, int],
    fetch_ms: int,
    now: datetime,
) -> MetadataFetched:
    """One resolved ISBN's event: every provider's facts (the LLM's last), its authors from the
    best source that lists any, and the work it joins among the stored `works`."""
    isbn13 = resolved.isbn13 or ""
    llm_edition, llm_work = llm_facts(resolved.book)
    editions = [edition_facts(r, isbn13, timings.get(r.provider, 0)) for r in records]
    work_facts = [work_facts_from_record(r, timings.get(r.provider, 0)) for r in records]
    if wikidata is not None:
        work_facts.append(work_facts_from_wikidata(wikidata, timings.get("wikidata", 0)))
    if description is not None:
        work_facts.append(
            work_facts_from_description("archive", description, timings.get("archive", 0))
        )
    by_provider = {r.provider: r for r in records}
    source = next(
        (p for p in AUTHOR_SOURCES if by_provider.get(p) and by_provider[p].authors), None
    )
    authors = (
        author_facts(source, by_provider[source].authors)
        if source
        else author_facts(llm_edition.provider, resolved.book.authors)
    )
    book = resolved.book
    match = decide_work(isbn13, book.title, [a.name for a in authors] or book.authors, works)
    return MetadataFetched(
        envelope=derived_envelope(
            MetadataFetched, resolved.envelope, producer="enricher", item=isbn13, occurred_at=now
        ),
        year=resolved.year,
        month=resolved.month,
        book_id=book.book_id,
        isbn13=isbn13,
        editions=[*editions, llm_edition],
        works=[*work_facts, llm_work],
        authors=authors,
        work_match=match,
        fetch_ms=fetch_ms,
    )
