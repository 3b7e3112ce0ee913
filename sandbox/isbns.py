"""ISBN helpers: normalise, validate, convert between 10 and 13 digits, hyphenate like Wikidata."""

from __future__ import annotations

import re

from stdnum import isbn as stdnum_isbn

# Hyphen-minus, Unicode hyphen, non-breaking hyphen and en dash all appear in pasted ISBNs.
_SEPARATORS = re.compile("[\\s\\-\u2010\u2011\u2013]")


def compact(value: str) -> str:
    """Digits plus a final X, without hyphens or spaces, ISBN: prefixes, or case."""
    text = value.strip()
    if text.upper().startswith("ISBN"):
        text = text[4:].lstrip(":").strip()
    return _SEPARATORS.sub("", text).upper()


def is_valid(value: str) -> bool:
    return bool(stdnum_isbn.is_valid(compact(value)))


def to_isbn13(value: str) -> str | None:
    """The ISBN-13 for a valid ISBN-10 or ISBN-13; None when the input is not a valid ISBN."""
    code = compact(value)
    if not stdnum_isbn.is_valid(code):
        return None
    return str(stdnum_isbn.to_isbn13(code))


def to_isbn10(value: str) -> str | None:
    """The ISBN-10 form; None for 979-prefixed ISBN-13s, which have none."""
    code = compact(value)
    if not stdnum_isbn.is_valid(code):
        return None
    if len(code) == 10:
        return code
    if not code.startswith("978"):
        return None
    return str(stdnum_isbn.to_isbn10(code))


def hyphenate(value: str) -> str:
    """Hyphenated as Wikidata stores P212/P957 values (ISBN range message via python-stdnum)."""
    code = compact(value)
    try:
        return str(stdnum_isbn.format(code))
    except Exception:  # an unknown range keeps the compact form rather than failing
        return code


def check_digit_13(first12: str) -> str:
    total = sum(int(digit) * (1 if index % 2 == 0 else 3) for index, digit in enumerate(first12))
    return str((10 - total % 10) % 10)


def make_isbn13(first12: str) -> str:
    """A checksum-valid ISBN-13 from its first twelve digits."""
    return first12 + check_digit_13(first12)


def corrupt(isbn13: str) -> str:
    """The same ISBN with a wrong check digit: what a model that half-remembers one produces."""
    wrong = (int(check_digit_13(isbn13[:12])) + 3) % 10
    return isbn13[:12] + str(wrong)
