"""Resolver decisions: candidate scoring, the provider cascade, outcomes, already-known books."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from shared import isbn as isbn_lib
from shared.events.generated import ResolutionAttempt
from shared.similarity import (
    AUTHORS_AGREE,
    AskedBook,
    author_agreement,
    match_score,
    title_similarity,
)
from shared.text import full_title

CASCADE = ("isbndb", "google_books", "openlibrary", "archive", "wikidata")
"""Best data first; ISBNdb is the only one with a quota, the rest are free fallbacks."""

ACCEPT_THRESHOLD = 0.8
"""Lowest match_score (geometric mean of title similarity and author agreement) accepted.

The seed took any ISBN a provider returned and stored wrong ones; a wrong ISBN is worse than
none (an unresolved book still becomes a synthetic work and can be upgraded later). 0.8 needs
title x author >= 0.64, so:
- right title, different author (agreement 0, or 0.2 for another person with the same
  surname) scores at most 0.45: rejected;
- right author, different title (similarity below 0.64, e.g. "Dune" vs "Dune Messiah" at 0.5)
  scores below 0.8: rejected ("Summary of Educated" by the same author: 0.77);
- exact title with initials vs full names (0.85) scores 0.92, with only the surname (0.7) 0.84;
  a candidate naming no author (0.5) at most 0.71, so it is never taken on the title alone.
"""
KNOWN_TITLE_THRESHOLD = 0.6
"""Trigram title similarity from which a stored edition may be the asked book (the seed's 0.6);
authors must agree as well."""
KNOWN_TITLE_CONFIRM = 0.8
"""title_similarity a title match must reach as well. Trigrams alone score another book by the
same author with one more word at 0.6 ("Hannibal" / "Hannibal Rising" is 0.56, a longer first
word passes), and a false "already known" drops a generated book; title_similarity compares
normalised words, so articles, case, punctuation and a subtitle on one side still score 1.0."""

_MATCHED, _NO_MATCH, _REJECTED = "matched", "no_match", "rejected"
_SKIPPED_QUOTA = "skipped_quota"
_CONCLUSIVE = frozenset({_MATCHED, _NO_MATCH, _REJECTED, _SKIPPED_QUOTA})


class CandidateLike(Protocol):
    """A provider's search hit (shared.providers.models.BookRecord fits)."""

    @property
    def isbn13(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def subtitle(self) -> str | None: ...
    @property
    def authors(self) -> Sequence[str]: ...


C = TypeVar("C", bound=CandidateLike)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A search hit in its plainest form, for providers whose records need adapting."""

    isbn13: str | None
    title: str | None
    subtitle: str | None = None
    authors: tuple[str, ...] = ()


def _scored(asked: AskedBook, candidates: Iterable[C]) -> list[tuple[C, float, str]]:
    """(candidate, score, its ISBN-13) for candidates with a valid ISBN, best first.

    Ties go to the LLM's own ISBN, then to the provider's ranking (input order).
    """
    suggested = isbn_lib.isbn13_or_none(asked.isbn)
    scored: list[tuple[int, C, float, str]] = []
    for position, candidate in enumerate(candidates):
        number = isbn_lib.isbn13_or_none(candidate.isbn13)
        if number is not None:
            score = match_score(asked, candidate.title, candidate.subtitle, candidate.authors)
            scored.append((position, candidate, score, number))
    scored.sort(key=lambda s: (-s[2], s[3] != suggested, s[0]))
    return [(candidate, score, number) for _, candidate, score, number in scored]


def best_candidate(
    asked: AskedBook, candidates: Iterable[C], threshold: float = ACCEPT_THRESHOLD
) -> tuple[C, float] | None:
    """The best-scoring candidate with a valid ISBN if it reaches `threshold`, else None."""
    scored = _scored(asked, candidates)
    if not scored or scored[0][1] < threshold:
        return None
    return scored[0][0], scored[0][1]


def judge_candidates(
    provider: str,
    asked: AskedBook,
    candidates: Iterable[CandidateLike],
    duration_ms: int,
    threshold: float = ACCEPT_THRESHOLD,
) -> ResolutionAttempt:
    """One provider's answer as an attempt: matched, rejected (with the best near miss, so the
    event shows why) or no_match."""
    scored = _scored(asked, candidates)
    if not scored:
        return ResolutionAttempt(provider=provider, status=_NO_MATCH, duration_ms=duration_ms)
    candidate, score, number = scored[0]
    score = round(score, 4)
    if score >= threshold:
        return ResolutionAttempt(provider=provider, status=_MATCHED, candidate_isbn=number,
                                 score=score, duration_ms=duration_ms)  # fmt: skip
    authors = ", ".join(candidate.authors) or "no author"
    return ResolutionAttempt(
        provider=provider,
        status=_REJECTED,
        candidate_isbn=number,
        score=score,
        detail=f"best score {score:.2f} < {threshold:.2f}: {candidate.title!r} by {authors}",
        duration_ms=duration_ms,
    )


def next_providers(cascade: Sequence[str], exhausted: set[str], down: set[str]) -> list[str]:
    """Providers still worth asking, in cascade order: not quota-spent today, not down."""
    return [p for p in cascade if p not in exhausted and p not in down]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The final result of a cascade.

    `conclusive` is False when no provider matched and at least one could not answer
    (unavailable / error): "unresolved" is then a fact about outages, not about the book,
    and the caller may retry before settling for a synthetic work. A provider skipped for
    its spent daily quota does not count: that is the planned degraded mode.
    """

    status: str  # resolved | unresolved
    provider: str | None
    isbn13: str | None
    confidence: float | None
    conclusive: bool


def resolution_outcome(attempts: Sequence[ResolutionAttempt]) -> Resolution:
    """The first matched attempt (cascade order) resolves the book; otherwise unresolved."""
    for attempt in attempts:
        if attempt.status == _MATCHED and attempt.candidate_isbn:
            return Resolution("resolved", attempt.provider, attempt.candidate_isbn,
                              attempt.score, conclusive=True)  # fmt: skip
    conclusive = all(a.status in _CONCLUSIVE for a in attempts)
    return Resolution("unresolved", None, None, None, conclusive=conclusive)


@dataclass(frozen=True, slots=True)
class KnownRow:
    """A stored edition the dedup query returned for the asked book.

    `similarity` is PostgreSQL's trigram similarity of its title to the asked title.
    """

    isbn13: str
    title: str
    authors: tuple[str, ...] = ()
    similarity: float = 0.0
    related_isbns: tuple[str, ...] = ()
    alternate_isbns: tuple[str, ...] = ()
    work_key: str | None = None


@dataclass(frozen=True, slots=True)
class KnownBook:
    """Why the asked book is already in the tables, and which edition it is."""

    isbn13: str
    work_key: str | None
    reason: str  # isbn | related_isbn | title_author
    confidence: float


def _isbn13s(values: Iterable[str]) -> set[str]:
    return {n for n in (isbn_lib.isbn13_or_none(v) for v in values) if n}


def _plausible_isbn_hit(asked: AskedBook, row: KnownRow) -> bool:
    """The LLM's ISBN is unverified: it can belong to another book. Its hit counts only if the
    stored title or the authors agree with the asked book."""
    title = title_similarity(full_title(asked.title, asked.subtitle), row.title)
    return title >= KNOWN_TITLE_THRESHOLD or (
        author_agreement(asked.authors, row.authors) >= AUTHORS_AGREE
    )


def _by_isbn(asked: AskedBook, rows: Sequence[KnownRow]) -> KnownBook | None:
    wanted = isbn_lib.isbn13_or_none(asked.isbn)
    if wanted is None:
        return None
    ordered = sorted(rows, key=lambda r: r.isbn13)
    for row in ordered:
        if row.isbn13 == wanted and _plausible_isbn_hit(asked, row):
            return KnownBook(row.isbn13, row.work_key, "isbn", 1.0)
    for row in ordered:
        others = _isbn13s(row.related_isbns) | _isbn13s(row.alternate_isbns)
        if wanted in others and _plausible_isbn_hit(asked, row):
            return KnownBook(row.isbn13, row.work_key, "related_isbn", 1.0)
    return None


def known_book_match(asked: AskedBook, existing_rows: Sequence[KnownRow]) -> KnownBook | None:
    """Whether the asked book is already stored: its ISBN (exact, then related or alternate),
    else a title at least KNOWN_TITLE_THRESHOLD alike whose authors agree. Title alone is
    not enough: "Becoming" by Michelle Obama must not hide another "Becoming"."""
    hit = _by_isbn(asked, existing_rows)
    if hit is not None:
        return hit
    best: KnownBook | None = None
    for row in sorted(existing_rows, key=lambda r: r.isbn13):
        agreement = author_agreement(asked.authors, row.authors)
        if row.similarity < KNOWN_TITLE_THRESHOLD or agreement < AUTHORS_AGREE:
            continue
        if (
            title_similarity(full_title(asked.title, asked.subtitle), row.title)
            < KNOWN_TITLE_CONFIRM
        ):
            continue
        confidence = round(math.sqrt(min(row.similarity, 1.0) * agreement), 4)
        if best is None or confidence > best.confidence:
            best = KnownBook(row.isbn13, row.work_key, "title_author", confidence)
    return best
