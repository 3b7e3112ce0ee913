"""Unit tests for shared.isbn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import isbn


def _with_check_digit(first9: str) -> str:
    """ISBN-10 check digit computed here (weights 10..2, mod 11), not by stdnum."""
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    check = (11 - total % 11) % 11
    return first9 + ("X" if check == 10 else str(check))


isbn10s = st.text(alphabet="0123456789", min_size=9, max_size=9).map(_with_check_digit)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("978-0-7432-7356-5", "9780743273565"),
        (" 0 7432 7356 7 ", "0743273567"),
        ("0-8044-2957-x", "080442957X"),
        ("978\u20110\u20117432\u20117356\u20115", "9780743273565"),
        ("ISBN-13: 978-0-7432-7356-5", "9780743273565"),
        ("urn:isbn:0743273567", "0743273567"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert isbn.normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ("9780743273565", True),
        ("0743273567", True),
        ("080442957X", True),
        ("080442957x", True),
        ("9780743273566", False),  # bad check digit
        ("074327356", False),  # too short
        ("97807432735650", False),
        ("", False),
        (None, False),
        ("abcdefghij", False),
        ("9790000000001", False),  # ISMN range, not a book
        ("9791032300824", True),
    ],
)
def test_is_valid(raw: str | None, valid: bool) -> None:
    assert isbn.is_valid(raw) is valid


def test_validate_raises_with_clear_message() -> None:
    with pytest.raises(isbn.InvalidIsbn, match="not a valid ISBN"):
        isbn.validate("12345")


def test_conversions() -> None:
    assert isbn.to_isbn13("0-7432-7356-7") == "9780743273565"
    assert isbn.to_isbn13("9780743273565") == "9780743273565"
    assert isbn.to_isbn10("9780743273565") == "0743273567"
    assert isbn.to_isbn10("0743273567") == "0743273567"
    assert isbn.to_isbn10("9791032300824") is None


def test_hyphenate_like_wikidata() -> None:
    assert isbn.hyphenate("9780743273565") == "978-0-7432-7356-5"
    assert isbn.hyphenate("0743273567") == "0-7432-7356-7"
    assert isbn.hyphenate("9782709622868") == "978-2-7096-2286-8"


def test_or_none_helpers() -> None:
    assert isbn.isbn13_or_none("0743273567") == "9780743273565"
    assert isbn.isbn13_or_none("nonsense") is None
    assert isbn.isbn13_or_none(None) is None
    assert isbn.isbn10_or_none("9791032300824") is None
    assert isbn.isbn10_or_none("9780743273565") == "0743273567"


@given(isbn10s)
def test_round_trip_10_13_10(isbn10: str) -> None:
    isbn13 = isbn.to_isbn13(isbn10)
    assert isbn13.startswith("978")
    assert isbn.is_valid(isbn13)
    assert isbn.to_isbn10(isbn13) == isbn10


@given(isbn10s)
def test_hyphenate_preserves_digits(isbn10: str) -> None:
    isbn13 = isbn.to_isbn13(isbn10)
    assert isbn.normalise(isbn.hyphenate(isbn13)) == isbn13
