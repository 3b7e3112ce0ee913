"""Pure ISBN helpers: normalise, validate, convert 10<->13 and hyphenate (via python-stdnum)."""

from __future__ import annotations

import re

from stdnum import isbn as _stdnum_isbn
from stdnum.exceptions import ValidationError as _StdnumError

# Hyphens of every Unicode flavour, whitespace and dots all turn up in scraped ISBNs.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.]")
_PREFIX = re.compile(r"^\s*(?:URN:)?ISBN(?:-?1[03])?\s*:?", re.IGNORECASE)
# 979-0 is the ISMN range (printed music), never a book ISBN.
_ISMN_PREFIX = "9790"


class InvalidIsbn(ValueError):
    """The text is not a valid ISBN-10 or ISBN-13 (bad length, characters or check digit)."""


def normalise(raw: str) -> str:
    """Strip an `ISBN:`/`urn:isbn:` prefix and separators, upper-case X; does not validate."""
    return _SEPARATORS.sub("", _PREFIX.sub("", raw)).upper()


def is_valid(raw: str | None) -> bool:
    """True if `raw` is a valid ISBN-10 or ISBN-13 (any separators allowed)."""
    if not raw:
        return False
    number = normalise(raw)
    if len(number) == 13 and number.startswith(_ISMN_PREFIX):
        return False
    return bool(_stdnum_isbn.is_valid(number)) and len(number) in (10, 13)


def validate(raw: str) -> str:
    """Return the normalised ISBN or raise InvalidIsbn."""
    if not is_valid(raw):
        raise InvalidIsbn(f"not a valid ISBN: {raw!r}")
    return normalise(raw)


def to_isbn13(raw: str) -> str:
    """ISBN-13 digits for a valid ISBN-10 or ISBN-13."""
    number = validate(raw)
    return number if len(number) == 13 else str(_stdnum_isbn.to_isbn13(number))


def to_isbn10(raw: str) -> str | None:
    """ISBN-10 for a valid ISBN; None for 979-prefixed ISBN-13s, which have no ISBN-10."""
    number = validate(raw)
    if len(number) == 10:
        return number
    if not number.startswith("978"):
        return None
    try:
        return str(_stdnum_isbn.to_isbn10(number))
    except _StdnumError:  # pragma: no cover - guarded by the prefix check above
        return None


def hyphenate(raw: str) -> str:
    """Hyphenate by the ISBN range message, as Wikidata stores P212/P957 values.

    Keeps the length of the input: an ISBN-10 stays an ISBN-10.
    """
    return str(_stdnum_isbn.format(validate(raw)))


def isbn13_or_none(raw: str | None) -> str | None:
    """ISBN-13 digits, or None for anything that is not a valid ISBN; for untrusted input."""
    if raw is None or not is_valid(raw):
        return None
    return to_isbn13(raw)


def isbn10_or_none(raw: str | None) -> str | None:
    """ISBN-10 digits, or None when invalid or 979-prefixed."""
    if raw is None or not is_valid(raw):
        return None
    return to_isbn10(raw)
