"""Enricher decisions: author identities, and which work an edition joins."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.events.generated import WorkMatch
from shared.similarity import AUTHORS_AGREE, AUTHORS_UNKNOWN, author_agreement, title_similarity
from shared.text import author_key_for, normalise_author, tidy_authors, work_key_for

__all__ = [
    "WORK_MATCH_THRESHOLD",
    "AuthorIdentity",
    "ExistingWork",
    "author_identities",
    "author_key_for",
    "decide_work",
    "work_key_for",
]

WORK_MATCH_THRESHOLD = 0.8
"""Lowest sqrt(title similarity x author agreement) for joining an existing work under a
variant title: the resolver's bar, for the same reason (a wrong merge hides a real book,
a missed one is found again by key or ISBN later)."""


@dataclass(frozen=True, slots=True)
class AuthorIdentity:
    """One author of an edition, as AuthorFacts needs it."""

    author_key: str
    name: str
    normalized_name: str
    author_order: int


def author_identities(raw: Sequence[str]) -> list[AuthorIdentity]:
    """Provider author strings -> distinct authors in order: "&"-joined co-authors split,
    "Rowling, J.K." and "J.K. Rowling" one person, display names tidied."""
    return [
        AuthorIdentity(author_key_for(name), name, normalise_author(name), order)
        for order, name in enumerate(tidy_authors(raw), start=1)
    ]


@dataclass(frozen=True, slots=True)
class ExistingWork:
    """A stored work the caller found for this edition, by ISBN or by a similar title.

    `author_names` allows initials-aware agreement; with only `author_keys`, authors agree
    when a key is shared (keys come from normalised names, so spelling variants of the
    same name already share one).
    """

    work_key: str
    title: str
    author_keys: tuple[str, ...] = ()
    matched_by_isbn: bool = False
    author_names: tuple[str, ...] = ()
    isbns: tuple[str, ...] = ()


def _author_agreement(authors: Sequence[str], work: ExistingWork) -> float:
    if work.author_names:
        return author_agreement(authors, work.author_names)
    if not authors or not work.author_keys:
        return AUTHORS_UNKNOWN
    return 1.0 if {author_key_for(a) for a in authors} & set(work.author_keys) else 0.0


def _variant_score(title: str, authors: Sequence[str], work: ExistingWork) -> float:
    agreement = _author_agreement(authors, work)
    if agreement < AUTHORS_AGREE:
        return 0.0
    return math.sqrt(title_similarity(title, work.title) * agreement)


def decide_work(
    isbn: str, title: str, authors: Sequence[str], existing: Sequence[ExistingWork]
) -> WorkMatch:
    """Which work this edition belongs to, recorded in the event so the projector need not
    decide (docs/architecture.md §6).

    1. A work that already holds this ISBN.
    2. The deterministic key of (main title, primary author), if it exists: typically the
       synthetic work of the same book, which is upgraded rather than duplicated.
    3. A work with a variant title whose authors agree (WORK_MATCH_THRESHOLD).
    4. Otherwise a new work under the deterministic key, so two enrichers deciding at the
       same time choose the same key.
    Ties go to the smallest work_key, never to the order rows came back in.
    """
    names = tidy_authors(authors)
    own_key = work_key_for(title, names[0] if names else "")
    ordered = sorted(existing, key=lambda w: w.work_key)
    for work in ordered:
        if work.matched_by_isbn or isbn in work.isbns:
            return WorkMatch(work_key=work.work_key, confidence=1.0, source="isbn")
    if any(work.work_key == own_key for work in ordered):
        return WorkMatch(work_key=own_key, confidence=1.0, source="title_author")
    scored = sorted((-_variant_score(title, names, work), work.work_key) for work in ordered)
    if scored and -scored[0][0] >= WORK_MATCH_THRESHOLD:
        confidence = round(-scored[0][0], 4)
        return WorkMatch(work_key=scored[0][1], confidence=confidence, source="title_author")
    return WorkMatch(work_key=own_key, confidence=1.0, source="new")
