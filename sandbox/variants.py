"""How providers spell the same fact differently: names, dates, bindings, language codes."""

from __future__ import annotations

import re

from sandbox.catalogue_index import PartialDate

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# ISO 639-1 to the MARC / ISO 639-2 codes Open Library and archive.org use.
_LANG3 = {
    "en": "eng", "fr": "fre", "de": "ger", "es": "spa", "it": "ita", "pt": "por", "nl": "dut",
    "sv": "swe", "no": "nor", "nb": "nor", "da": "dan", "fi": "fin", "pl": "pol", "cs": "cze",
    "ru": "rus", "uk": "ukr", "ja": "jpn", "zh": "chi", "ko": "kor", "ar": "ara", "he": "heb",
    "hi": "hin", "tr": "tur", "el": "gre", "hu": "hun", "ro": "rum", "ca": "cat", "ga": "gle",
    "is": "ice", "fa": "per", "id": "ind", "vi": "vie", "th": "tha",
}  # fmt: skip


def lang3(code: str) -> str:
    return _LANG3.get(code.lower(), code.lower())


def squash_initials(name: str) -> str:
    """'J. K. Rowling' -> 'J.K. Rowling'."""
    return re.sub(r"\b([A-Z])\.\s+(?=[A-Z]\.)", r"\1.", name)


def spread_initials(name: str) -> str:
    """'J.K. Rowling' -> 'J. K. Rowling'."""
    return re.sub(r"\b([A-Z])\.(?=[A-Z]\.)", r"\1. ", name)


def invert_name(name: str) -> str:
    """'J. K. Rowling' -> 'Rowling, J. K.'; single names stay as they are."""
    parts = name.split()
    if len(parts) < 2 or "," in name:
        return name
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def iso_date(date: PartialDate) -> str:
    if date.month is None:
        return f"{date.year:04d}"
    if date.day is None:
        return f"{date.year:04d}-{date.month:02d}"
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def long_date(date: PartialDate) -> str:
    """Open Library's usual free text: 'March 5, 2019', 'March 2019' or '2019'."""
    if date.month is None:
        return str(date.year)
    if date.day is None:
        return f"{MONTHS[date.month - 1]} {date.year}"
    return f"{MONTHS[date.month - 1]} {date.day}, {date.year}"


def short_date(date: PartialDate) -> str:
    """Another common Open Library form: 'Mar 05, 2019'."""
    if date.month is None:
        return str(date.year)
    day = f"{date.day:02d}, " if date.day else ""
    return f"{MONTHS[date.month - 1][:3]} {day}{date.year}"


# Catalogue format -> (ISBNdb binding, Open Library physical_format, Google printType-ish).
_FORMATS = {
    "hardcover": ("Hardcover", "Hardcover"),
    "hardback": ("Hardcover", "Hardcover"),
    "paperback": ("Paperback", "Paperback"),
    "trade paperback": ("Paperback", "Trade Paperback"),
    "mass market paperback": ("Mass Market Paperback", "Mass Market Paperback"),
    "ebook": ("Kindle Edition", "E-book"),
    "e-book": ("Kindle Edition", "E-book"),
    "audiobook": ("Audio CD", "Audio CD"),
    "audio cd": ("Audio CD", "Audio CD"),
}


def binding(fmt: str) -> str:
    return _FORMATS.get(fmt.strip().lower(), (fmt, fmt))[0]


def physical_format(fmt: str) -> str:
    return _FORMATS.get(fmt.strip().lower(), (fmt, fmt))[1]


def sentences(text: str, count: int) -> str:
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:count])


def full_title(title: str, subtitle: str | None) -> str:
    return f"{title}: {subtitle}" if subtitle else title
