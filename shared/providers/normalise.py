"""Pure coercions for the parsers: loose JSON values -> clean strings, ints, languages, text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any

from shared import isbn as isbn_lib

JsonObject = Mapping[str, Any]

# ISO 639-2 (bibliographic and terminologic), a few English names and odd codes -> ISO 639-1.
# Small on purpose: it covers what the book APIs actually return; anything else maps to None.
_LANGUAGES: dict[str, str] = {
    "eng": "en", "english": "en", "fre": "fr", "fra": "fr", "french": "fr",
    "ger": "de", "deu": "de", "german": "de", "spa": "es", "spanish": "es",
    "ita": "it", "italian": "it", "por": "pt", "portuguese": "pt", "dut": "nl", "nld": "nl",
    "dutch": "nl", "rus": "ru", "russian": "ru", "jpn": "ja", "japanese": "ja",
    "chi": "zh", "zho": "zh", "chinese": "zh", "kor": "ko", "korean": "ko", "ara": "ar",
    "arabic": "ar", "swe": "sv", "swedish": "sv", "nor": "no", "nob": "nb", "nno": "nn",
    "norwegian": "no", "dan": "da", "danish": "da", "fin": "fi", "finnish": "fi",
    "pol": "pl", "polish": "pl", "cze": "cs", "ces": "cs", "czech": "cs", "gre": "el",
    "ell": "el", "greek": "el", "heb": "he", "hebrew": "he", "hin": "hi", "hindi": "hi",
    "tur": "tr", "turkish": "tr", "hun": "hu", "hungarian": "hu", "rum": "ro", "ron": "ro",
    "romanian": "ro", "ukr": "uk", "ukrainian": "uk", "lat": "la", "latin": "la",
    "wel": "cy", "cym": "cy", "welsh": "cy", "gle": "ga", "irish": "ga", "ice": "is",
    "isl": "is", "icelandic": "is", "cat": "ca", "catalan": "ca", "per": "fa", "fas": "fa",
    "persian": "fa", "ind": "id", "indonesian": "id", "vie": "vi", "vietnamese": "vi",
    "tha": "th", "thai": "th", "ben": "bn", "bengali": "bn", "urd": "ur", "urdu": "ur",
    "afr": "af", "bul": "bg", "bulgarian": "bg", "hrv": "hr", "croatian": "hr",
    "srp": "sr", "serbian": "sr", "slo": "sk", "slk": "sk", "slovak": "sk", "slv": "sl",
    "slovenian": "sl", "est": "et", "estonian": "et", "lav": "lv", "latvian": "lv",
    "lit": "lt", "lithuanian": "lt", "may": "ms", "msa": "ms", "malay": "ms", "tam": "ta",
    "tel": "te", "mar": "mr", "epo": "eo", "esperanto": "eo", "baq": "eu", "eus": "eu",
    "basque": "eu", "glg": "gl", "arm": "hy", "hye": "hy", "geo": "ka", "kat": "ka",
    "alb": "sq", "sqi": "sq", "mac": "mk", "mkd": "mk", "swa": "sw", "tgl": "tl",
    "yid": "yi", "gla": "gd", "bos": "bs", "ltz": "lb", "mlt": "mt",
}  # fmt: skip
_NOT_A_LANGUAGE = {"und", "mul", "zxx", "mis", "unknown", "n/a"}

_WHITESPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}


def as_str(value: Any) -> str | None:
    """A stripped non-empty string; numbers become text; anything else (dicts, lists) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def first_str(value: Any) -> str | None:
    """The first usable string of a value that may be a string or an array of them (IA)."""
    if isinstance(value, list | tuple):
        for item in value:
            text = as_str(item)
            if text:
                return text
        return None
    return as_str(value)


def as_str_list(value: Any, *, key: str = "name") -> tuple[str, ...]:
    """Strings from a string, an array of strings, or an array of `{name: ...}` objects; dedups."""
    items: Iterable[Any]
    if isinstance(value, list | tuple):
        items = value
    elif value is None:
        items = ()
    else:
        items = (value,)
    seen: dict[str, None] = {}
    for item in items:
        text = as_str(item.get(key)) if isinstance(item, Mapping) else as_str(item)
        if text and text not in seen:
            seen[text] = None
    return tuple(seen)


def as_int(value: Any) -> int | None:
    """A positive int from an int, a float, or text starting with digits ("180", "180 p.")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float):
        return int(value) if value >= 1 else None
    if isinstance(value, str):
        match = re.match(r"\s*(\d+)", value)
        if match:
            number = int(match.group(1))
            return number if number > 0 else None
    return None


def language_code(value: Any) -> str | None:
    """ISO 639-1 from "en", "en_US", "en-GB", "eng", "/languages/eng", "English"; else None."""
    text = first_str(value)
    if text is None:
        return None
    code = text.rsplit("/", 1)[-1].strip().lower()
    code = re.split(r"[_\-]", code, maxsplit=1)[0] if len(code) > 3 else code
    if code in _NOT_A_LANGUAGE:
        return None
    if len(code) == 2 and code.isalpha():
        return code
    return _LANGUAGES.get(code)


def unwrap_text(value: Any) -> str | None:
    """Text from a string, `{type: /type/text, value}` or `{value}` (Open Library)."""
    if isinstance(value, Mapping):
        return as_str(value.get("value"))
    return as_str(value)


def description_text(value: Any, *, strip_markup: bool = False) -> str | None:
    """One description: arrays joined by a blank line, `{value}` unwrapped, HTML optionally gone."""
    parts = value if isinstance(value, list) else [value]
    texts = [text for part in parts if (text := unwrap_text(part))]
    if not texts:
        return None
    joined = "\n\n".join(texts)
    return (strip_html(joined) or None) if strip_markup else joined


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def strip_html(text: str) -> str:
    """Plain text from HTML: tags dropped, entities decoded, paragraphs kept as blank lines."""
    if "<" not in text and "&" not in text:
        return text.strip()
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    plain = html.unescape("".join(parser.chunks))
    lines = [_WHITESPACE.sub(" ", line).strip() for line in plain.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def isbn_pair(candidates: Iterable[Any]) -> tuple[str | None, str | None]:
    """(ISBN-13, ISBN-10) from a mix of ISBN texts; the first valid one decides the book."""
    for candidate in candidates:
        text = as_str(candidate)
        isbn13 = isbn_lib.isbn13_or_none(text)
        if isbn13:
            return isbn13, isbn_lib.to_isbn10(isbn13)
    return None, None


def valid_isbn13s(candidates: Iterable[Any]) -> list[str]:
    """Every valid ISBN among the candidates as ISBN-13, order kept, duplicates dropped.

    Batches take untrusted ISBNs: an invalid one is skipped rather than failing the batch.
    """
    seen: dict[str, None] = {}
    for candidate in candidates:
        isbn13 = isbn_lib.isbn13_or_none(as_str(candidate))
        if isbn13:
            seen[isbn13] = None
    return list(seen)


def olid(value: Any) -> str | None:
    """A bare Open Library ID from "/works/OL45883W", "OL45883W" or a URL."""
    text = as_str(value)
    if not text:
        return None
    match = re.search(r"(OL\d+[AMW])", text)
    return match.group(1) if match else None
