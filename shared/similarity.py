"""How alike two books are: title similarity, author agreement and their combined match score.

Used wherever a book named by an LLM is compared with a stored or provider record: the
generator's dedup, the resolver's cascade and known-books check, the enricher's work choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from rapidfuzz import fuzz

from shared.text import (
    ARTICLES,
    NAME_SUFFIXES,
    full_title,
    has_subtitle,
    main_title_key,
    normalise_author,
    normalise_title,
)

AUTHORS_AGREE = 0.6
"""author_agreement at or above this means "same author": the surname agrees and no given name
contradicts it (initials and missing middle names are fine, "Stephen" vs "Tabitha" is not)."""
AUTHORS_UNKNOWN = 0.5
"""author_agreement when one side lists no author: no evidence either way, below AUTHORS_AGREE."""
_SAME_NAME = 1.0
_COMPATIBLE_NAME = 0.85  # "j k rowling" ~ "joanne rowling": initials or an extra middle name
_SURNAME_ONLY = 0.7  # one side gives just the surname
_CONFLICTING_NAME = 0.2  # same surname, different given name or generation: another person
_SURNAME_TYPO = 90.0  # rapidfuzz ratio for "Rowling"/"Rowlings": a spelling slip, same person


_TITLE_STOPWORDS = ARTICLES | {"and", "of", "in", "on", "to", "for", "with", "de", "del", "des",
                                 "du", "en", "et", "y", "und", "von", "vom", "zu"}  # fmt: skip
_SAME_WORD = 80.0  # rapidfuzz ratio at which two words are one word misspelt ("sing"/"sings")


def _content_words(normalised: str) -> list[str]:
    words = normalised.split()
    return [w for w in words if w not in _TITLE_STOPWORDS] or words


def _word_f1(a: list[str], b: list[str]) -> float:
    """F1 of words matched one to one, allowing misspellings."""
    unused = list(b)
    matched = 0
    for word in a:
        best = max(unused, key=lambda other: fuzz.ratio(word, other), default=None)
        if best is not None and fuzz.ratio(word, best) >= _SAME_WORD:
            unused.remove(best)
            matched += 1
    return 2 * matched / (len(a) + len(b)) if a and b else 0.0


def _pair_similarity(a: str, b: str) -> float:
    """The smaller of a character score and a word score of two normalised titles.

    Characters (token_sort_ratio) forgive typos and word order ("Overstory, The") and keep
    "Dune" vs "Dune Messiah" at 0.5; unlike token_set_ratio / partial_ratio they do not score
    a title contained in another as 1.0. Words catch the long shared series prefix: "Harry
    Potter and the Cursed Child" vs "... the Deathly Hallows" agree on 72 % of the characters
    but on half of the words that matter. Different numbers ("Book 1" / "Book 2") are
    different volumes, so the score is halved.
    """
    if not a or not b:
        return 0.0
    words_a, words_b = _content_words(a), _content_words(b)
    score = min(fuzz.token_sort_ratio(a, b) / 100.0, _word_f1(words_a, words_b))
    numbers_a = {w for w in words_a if w.isdigit()}
    numbers_b = {w for w in words_b if w.isdigit()}
    return score / 2 if numbers_a and numbers_b and numbers_a != numbers_b else score


def title_similarity(a: str, b: str) -> float:
    """0..1 agreement of two titles on normalised text (see _pair_similarity).

    When at most one side has a subtitle, the main titles are compared too ("Educated" vs
    "Educated: A Memoir" is 1.0); when both have different subtitles they must agree as a whole,
    because "Thrawn: Alliances" and "Thrawn: Treason" are different books.
    """
    score = _pair_similarity(normalise_title(a), normalise_title(b))
    if has_subtitle(a) and has_subtitle(b):
        return score
    return max(score, _pair_similarity(main_title_key(a), main_title_key(b)))


def _split_name_key(key: str) -> tuple[list[str], str, str | None]:
    """(given names, surname, suffix) of a normalise_author key."""
    words = key.split()
    suffix = words.pop() if len(words) > 1 and words[-1] in NAME_SUFFIXES.values() else None
    return words[:-1], words[-1], suffix


def author_lookup_keys(name: str) -> tuple[str, str] | None:
    """(surname, first initial or "" without given names) of a name, or None if it has none.

    name_agreement needs both to agree (or one side to give no given name), so stored authors
    found by these keys are all the ones that can agree; migration 0004 derives the same keys
    in SQL (author_surname_key, author_initial_key) for the known-books query.
    """
    key = normalise_author(name)
    if not key:
        return None
    given, surname, _ = _split_name_key(key)
    return surname, given[0][0] if given else ""


def _given_compatible(short: Sequence[str], long: Sequence[str]) -> bool:
    """Every name of `short` matches, in order, a name of `long` (equal, or initial vs name),
    starting with the first names: "j k" ~ "joanne", "stephen" ~ "stephen edwin"."""

    def same(x: str, y: str) -> bool:
        return x == y or (min(len(x), len(y)) == 1 and x[0] == y[0])

    if not same(short[0], long[0]):
        return False
    remaining = iter(long[1:])
    return all(any(same(name, other) for other in remaining) for name in short[1:])


def name_agreement(a: str, b: str) -> float:
    """0..1: is this the same person? The surname must agree; given names may be initials."""
    key_a, key_b = normalise_author(a), normalise_author(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return _SAME_NAME
    given_a, surname_a, suffix_a = _split_name_key(key_a)
    given_b, surname_b, suffix_b = _split_name_key(key_b)
    factor = 1.0
    if surname_a != surname_b:
        if fuzz.ratio(surname_a, surname_b) < _SURNAME_TYPO:
            return 0.0
        factor = 0.9
    if suffix_a and suffix_b and suffix_a != suffix_b:
        return _CONFLICTING_NAME * factor
    if not given_a or not given_b:
        return _SURNAME_ONLY * factor
    short, long = sorted((given_a, given_b), key=len)
    if not _given_compatible(short, long):
        return _CONFLICTING_NAME * factor
    return (_SAME_NAME if given_a == given_b else _COMPATIBLE_NAME) * factor


def author_agreement(authors_a: Sequence[str], authors_b: Sequence[str]) -> float:
    """0..1: best name_agreement over all pairs, so co-authors and listed editors don't hurt.

    AUTHORS_UNKNOWN when either side names nobody: absence is not disagreement, but it is
    no evidence of agreement either.
    """
    names_a = [n for n in authors_a if normalise_author(n)]
    names_b = [n for n in authors_b if normalise_author(n)]
    if not names_a or not names_b:
        return AUTHORS_UNKNOWN
    return max(name_agreement(x, y) for x in names_a for y in names_b)


class AskedBook(Protocol):
    """What is known of a book an LLM named (GeneratedBook and LLMBook both fit)."""

    @property
    def title(self) -> str: ...
    @property
    def subtitle(self) -> str | None: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def isbn(self) -> str | None: ...


def match_score(
    asked: AskedBook,
    candidate_title: str | None,
    candidate_subtitle: str | None,
    candidate_authors: Sequence[str],
) -> float:
    """0..1: geometric mean of title similarity and author agreement.

    A geometric mean, not a weighted sum, so neither side can make up for the other: a perfect
    title by the wrong author must fail. Titles are compared whole, and main title against
    main title when one side has no subtitle (see title_similarity).
    """
    if not candidate_title:
        return 0.0
    title = title_similarity(
        full_title(asked.title, asked.subtitle), full_title(candidate_title, candidate_subtitle)
    )
    return math.sqrt(title * author_agreement(asked.authors, candidate_authors))
