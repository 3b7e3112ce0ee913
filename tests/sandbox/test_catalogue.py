"""The bundled sandbox catalogue: size, coverage, ISBN validity and the typed loader."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter

import pytest
from stdnum import isbn

from sandbox.catalogue import Catalogue, load_catalogue, parse_catalogue

YEARS = range(2015, 2026)
DENSE_YEARS = (2019, 2023)
FORMATS = {"hardcover", "paperback", "ebook", "audiobook"}
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _norm(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).casefold()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _check_date(value: str) -> dt.date:
    assert DATE.match(value), value
    year, month, *day = (int(part) for part in value.split("-"))
    return dt.date(year, month, day[0] if day else 1)


def test_loader_is_cached(catalogue: Catalogue) -> None:
    assert load_catalogue() is catalogue


def test_size(catalogue: Catalogue) -> None:
    assert len(catalogue.books) >= 300
    assert len(catalogue.invented) == 60


def test_ids_are_sequential(catalogue: Catalogue) -> None:
    assert [b.id for b in catalogue.books] == [
        f"cat-{n:04d}" for n in range(1, len(catalogue.books) + 1)
    ]
    assert [b.id for b in catalogue.invented] == [
        f"inv-{n:03d}" for n in range(1, len(catalogue.invented) + 1)
    ]
    assert set(catalogue.by_id) == {b.id for b in catalogue.books}


def test_every_isbn_is_a_valid_unique_isbn13(catalogue: Catalogue) -> None:
    all_isbns = [code for book in catalogue.books for code in book.isbn13s]
    for code in all_isbns:
        assert len(code) == 13 and code.isdigit(), code
        assert isbn.is_valid(code), code
        assert code.startswith(("978", "979")), code
    duplicates = [code for code, n in Counter(all_isbns).items() if n > 1]
    assert not duplicates
    assert set(catalogue.by_isbn13) == set(all_isbns)
    for book in catalogue.books:
        for code in book.isbn13s:
            assert catalogue.by_isbn13[code] is book


def test_dates_are_within_range(catalogue: Catalogue) -> None:
    for book in catalogue.books:
        date = _check_date(book.publication_date)
        assert date.year in YEARS, book.id
        assert book.publication_year == date.year
        assert book.publication_month == date.month
        for edition in book.other_editions:
            assert _check_date(edition.publication_date) >= date.replace(day=1), book.id
    for inv in catalogue.invented:
        assert inv.publication_year in YEARS, inv.id
        assert 1 <= inv.publication_month <= 12, inv.id


def test_every_year_is_present(catalogue: Catalogue) -> None:
    years = Counter(b.publication_year for b in catalogue.books)
    assert all(years[year] > 0 for year in YEARS), years


@pytest.mark.parametrize("year", DENSE_YEARS)
def test_dense_years_have_six_books_every_month(catalogue: Catalogue, year: int) -> None:
    for month in range(1, 13):
        in_month = catalogue.books_in_month(year, month)
        assert len(in_month) >= 6, (year, month, len(in_month))
        assert all(b.publication_date.startswith(f"{year}-{month:02d}") for b in in_month)
        assert len(catalogue.invented_in_month(year, month)) >= 1, (year, month)


def test_books_in_month_partitions_the_catalogue(catalogue: Catalogue) -> None:
    total = sum(len(catalogue.books_in_month(y, m)) for y in YEARS for m in range(1, 13))
    assert total == len(catalogue.books)
    assert catalogue.books_in_month(1999, 1) == ()
    assert catalogue.invented_in_month(1999, 1) == ()


def test_required_fields(catalogue: Catalogue) -> None:
    for book in catalogue.books:
        assert book.title.strip() and book.description.strip(), book.id
        assert book.authors and all(a.strip() for a in book.authors), book.id
        assert book.publisher.strip(), book.id
        assert re.fullmatch(r"[a-z]{2}", book.language), book.id
        assert book.format in FORMATS, book.id
        assert book.subjects and book.genres, book.id
        assert book.pages is None or 16 <= book.pages <= 2000, book.id
        assert [d.name for d in book.author_details] == list(book.authors), book.id
        for detail in book.author_details:
            assert detail.gender in {"female", "male", "non-binary", None}, book.id
            if detail.wikidata_id is not None:
                assert re.fullmatch(r"Q\d+", detail.wikidata_id), book.id
        for edition in book.other_editions:
            assert edition.format in FORMATS and edition.publisher.strip(), book.id


def test_other_editions_share(catalogue: Catalogue) -> None:
    with_editions = sum(1 for b in catalogue.books if b.other_editions)
    assert 0.30 <= with_editions / len(catalogue.books) <= 0.55
    assert all(len(b.other_editions) <= 2 for b in catalogue.books)


def test_real_titles_are_unique(catalogue: Catalogue) -> None:
    titles = Counter(_norm(b.title) for b in catalogue.books)
    assert not [t for t, n in titles.items() if n > 1]


def test_invented_books_do_not_collide_with_real_ones(catalogue: Catalogue) -> None:
    real_titles = {_norm(b.title) for b in catalogue.books}
    real_authors = {_norm(a) for b in catalogue.books for a in b.authors}
    invented_titles = [_norm(inv.title) for inv in catalogue.invented]
    assert len(set(invented_titles)) == len(invented_titles)
    assert not real_titles & set(invented_titles)
    for inv in catalogue.invented:
        assert inv.title.strip() and inv.description.strip() and inv.publisher.strip(), inv.id
        assert inv.authors and inv.genres and inv.format in FORMATS, inv.id
        assert not {_norm(a) for a in inv.authors} & real_authors, inv.id


def test_parse_rejects_duplicate_isbns() -> None:
    book = (
        '{"id": "%s", "title": "T%s", "subtitle": null, "authors": ["A"], "publisher": "P",'
        ' "publication_date": "2019-01-01", "pages": 100, "language": "en",'
        ' "isbn13": "9780571334650", "format": "hardcover", "other_editions": [],'
        ' "subjects": ["s"], "genres": ["g"], "description": "d.", "author_details": []}'
    )
    with pytest.raises(ValueError, match="appears twice"):
        parse_catalogue(f"[{book % ('a', 1)}, {book % ('b', 2)}]", "[]")
    with pytest.raises(ValueError, match="bad catalogue book"):
        parse_catalogue('[{"id": "x"}]', "[]")
