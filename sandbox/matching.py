"""Tolerant text matching shared by the search endpoints (accent- and case-insensitive words)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+")
# Words the providers' search engines ignore; without this "the" would match every title.
STOPWORDS = frozenset(
    {"a", "an", "and", "of", "the", "in", "on", "to", "for", "by", "at", "le", "la"}
)


def fold(text: str) -> str:
    """Lowercase ASCII-folded text."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@functools.lru_cache(maxsize=100_000)
def word_set(text: str) -> frozenset[str]:
    """The words of a text, cached: search endpoints compare against the same texts often."""
    return frozenset(words(text))


def content_words(text: str) -> list[str]:
    found = words(text)
    kept = [word for word in found if word not in STOPWORDS]
    return kept or found


def score(query_words: Iterable[str], haystack: str, match_all: bool) -> int:
    """How many query words occur in the haystack; 0 when match_all and one is missing."""
    have = word_set(haystack)
    wanted = list(dict.fromkeys(query_words))
    hits = sum(1 for word in wanted if word in have)
    if match_all and hits < len(wanted):
        return 0
    return hits


def phrase_in(phrase: str, haystack: str) -> bool:
    """Every word of the phrase occurs in the haystack (word order is not checked)."""
    have = word_set(haystack)
    return all(word in have for word in content_words(phrase))
