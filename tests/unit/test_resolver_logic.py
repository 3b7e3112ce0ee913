"""Resolver decisions: match scoring, candidate choice, cascade order, outcomes, known books."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.resolver.logic.resolution import (
    ACCEPT_THRESHOLD,
    CASCADE,
    Candidate,
    KnownRow,
    best_candidate,
    judge_candidates,
    known_book_match,
    next_providers,
    resolution_outcome,
)
from shared.events.generated import GeneratedBook, ResolutionAttempt
from shared.providers.models import BookRecord
from shared.similarity import match_score

EDUCATED = GeneratedBook(book_id="bk-1", title="Educated", subtitle="A Memoir",
                         authors=["Tara Westover"])  # fmt: skip
BECOMING = GeneratedBook(book_id="bk-2", title="Becoming", authors=["Michelle Obama"])
CURSED = GeneratedBook(book_id="bk-3", title="Harry Potter and the Cursed Child",
                       authors=["J. K. Rowling", "Jack Thorne"], isbn="9781338099133")  # fmt: skip


@pytest.mark.parametrize(
    ("asked", "title", "subtitle", "authors"),
    [
        (EDUCATED, "Educated", None, ["Tara Westover"]),
        (EDUCATED, "Educated: A Memoir", None, ["Westover, Tara"]),
        (BECOMING, "Becoming", None, ["Michelle LaVaughn Robinson Obama"]),
        (CURSED, "Harry Potter & the Cursed Child - Parts One and Two", None, ["Rowling, J.K."]),
        (CURSED, "Harry Potter and the Cursed Child", "Parts One and Two", ["Joanne Rowling"]),
        (CURSED, "Harry Potter and the Cursed Child", None, ["Rowling"]),
    ],
)
def test_right_book_is_accepted(
    asked: GeneratedBook, title: str, subtitle: str | None, authors: list[str]
) -> None:
    assert match_score(asked, title, subtitle, authors) >= ACCEPT_THRESHOLD


@pytest.mark.parametrize(
    ("asked", "title", "subtitle", "authors"),
    [
        (BECOMING, "Becoming", None, ["Cady Heron"]),  # right title, another author
        (BECOMING, "Becoming", None, []),  # title alone is not evidence enough
        (EDUCATED, "Educated", None, ["Tabitha Westover"]),  # same surname, another person
        (EDUCATED, "The Glass Castle", None, ["Tara Westover"]),  # right author, another title
        (EDUCATED, "Summary of Educated: A Memoir by Tara Westover", None, ["Tara Westover"]),
        (CURSED, "Harry Potter and the Deathly Hallows", None, ["J.K. Rowling"]),
        (CURSED, None, None, ["J.K. Rowling"]),
    ],
)
def test_wrong_book_is_rejected(
    asked: GeneratedBook, title: str | None, subtitle: str | None, authors: list[str]
) -> None:
    assert match_score(asked, title, subtitle, authors) < ACCEPT_THRESHOLD


def test_best_candidate_skips_invalid_isbns_and_weak_matches() -> None:
    candidates = [
        Candidate("9780000000000", "Becoming", authors=("Michelle Obama",)),  # bad checksum
        Candidate("9780141980010", "Becoming", authors=("Cady Heron",)),
        Candidate("978-1-5247-6313-8", "Becoming", authors=("Michelle Obama",)),
    ]
    chosen = best_candidate(BECOMING, candidates)
    assert chosen is not None and chosen[0] is candidates[2] and chosen[1] == 1.0
    assert best_candidate(BECOMING, candidates[:2]) is None
    assert best_candidate(BECOMING, []) is None


def test_ties_prefer_the_suggested_isbn_then_provider_rank() -> None:
    records = [
        BookRecord(provider="isbndb", isbn13="9781338216660",
                   title="Harry Potter and the Cursed Child", authors=("J.K. Rowling",)),
        BookRecord(provider="isbndb", isbn13="9781338099133",
                   title="Harry Potter and the Cursed Child", authors=("J.K. Rowling",)),
    ]  # fmt: skip
    chosen = best_candidate(CURSED, records)
    assert chosen is not None and chosen[0].isbn13 == "9781338099133"
    plain = CURSED.model_copy(update={"isbn": None})
    chosen = best_candidate(plain, records)
    assert chosen is not None and chosen[0].isbn13 == "9781338216660"


def test_judge_candidates_records_matches_near_misses_and_empties() -> None:
    good = Candidate("9781524763138", "Becoming", authors=("Michelle Obama",))
    wrong = Candidate("9780141980010", "Becoming", authors=("Cady Heron",))
    matched = judge_candidates("isbndb", BECOMING, [wrong, good], 12)
    assert (matched.status, matched.candidate_isbn, matched.score) == (
        "matched", "9781524763138", 1.0)  # fmt: skip
    rejected = judge_candidates("google_books", BECOMING, [wrong], 5)
    assert rejected.status == "rejected" and rejected.candidate_isbn == "9780141980010"
    assert rejected.detail is not None and "Cady Heron" in rejected.detail
    assert judge_candidates("archive", BECOMING, [], 3).status == "no_match"


def test_cascade_order_and_skipping() -> None:
    assert CASCADE == ("isbndb", "google_books", "openlibrary", "archive", "wikidata")
    assert next_providers(CASCADE, set(), set()) == list(CASCADE)
    assert next_providers(CASCADE, {"isbndb"}, {"archive"}) == [
        "google_books", "openlibrary", "wikidata"]  # fmt: skip
    assert next_providers(CASCADE, set(CASCADE), set()) == []


@given(st.sets(st.sampled_from(CASCADE)), st.sets(st.sampled_from(CASCADE)))
def test_next_providers_keeps_order_and_skips_exactly(exhausted: set[str], down: set[str]) -> None:
    remaining = next_providers(CASCADE, exhausted, down)
    assert remaining == [p for p in CASCADE if p in set(remaining)]
    assert set(remaining) == set(CASCADE) - exhausted - down


def attempt(provider: str, status: str, isbn: str | None = None, score: float | None = None):
    return ResolutionAttempt(provider=provider, status=status, candidate_isbn=isbn, score=score,
                             duration_ms=1)  # fmt: skip


def test_outcome_takes_the_first_match() -> None:
    result = resolution_outcome([
        attempt("isbndb", "skipped_quota"),
        attempt("google_books", "rejected", "9780141980010", 0.4),
        attempt("openlibrary", "matched", "9781524763138", 0.93),
        attempt("archive", "matched", "9780000000001", 1.0),
    ])  # fmt: skip
    assert (result.status, result.provider, result.isbn13, result.confidence) == (
        "resolved", "openlibrary", "9781524763138", 0.93)  # fmt: skip
    assert result.conclusive


def test_outcome_unresolved_says_whether_outages_were_involved() -> None:
    clean = resolution_outcome([attempt(p, "no_match") for p in CASCADE])
    assert (clean.status, clean.isbn13, clean.conclusive) == ("unresolved", None, True)
    quota = resolution_outcome(
        [attempt("isbndb", "skipped_quota"), attempt("wikidata", "no_match")]
    )
    assert quota.conclusive
    outage = resolution_outcome([attempt("isbndb", "unavailable"), attempt("wikidata", "no_match")])
    assert outage.status == "unresolved" and not outage.conclusive
    assert resolution_outcome([]).status == "unresolved"


def test_known_by_exact_isbn_when_the_stored_book_is_plausible() -> None:
    rows = [KnownRow("9781338099133", "Harry Potter and the Cursed Child - Parts One and Two",
                     ("J.K. Rowling",), 0.7, work_key="wk-1")]  # fmt: skip
    known = known_book_match(CURSED, rows)
    assert known is not None and (known.isbn13, known.reason, known.work_key) == (
        "9781338099133", "isbn", "wk-1")  # fmt: skip


def test_an_llm_isbn_of_another_book_is_not_a_hit() -> None:
    rows = [KnownRow("9781338099133", "Where the Crawdads Sing", ("Delia Owens",), 0.0)]
    assert known_book_match(CURSED, rows) is None


def test_known_by_related_or_alternate_isbn() -> None:
    related = KnownRow("9781338216660", "Harry Potter and the Cursed Child", ("J.K. Rowling",),
                       0.9, related_isbns=("9781338099133",))  # fmt: skip
    alternate = KnownRow("9781338216660", "Harry Potter and the Cursed Child", ("J.K. Rowling",),
                         0.9, alternate_isbns=("1338099132",))  # fmt: skip
    for row in (related, alternate):
        known = known_book_match(CURSED, [row])
        assert known is not None and (known.isbn13, known.reason) == (
            "9781338216660", "related_isbn")  # fmt: skip


def test_known_by_similar_title_only_with_agreeing_authors() -> None:
    obama = KnownRow("9781524763138", "Becoming", ("Michelle Obama",), 1.0, work_key="wk-o")
    other = KnownRow("9780141980010", "Becoming", ("Cady Heron",), 1.0)
    weak = KnownRow("9780000000002", "Becoming Human", ("Michelle Obama",), 0.5)
    known = known_book_match(BECOMING, [other, weak, obama])
    assert known is not None and (known.isbn13, known.reason, known.work_key) == (
        "9781524763138", "title_author", "wk-o")  # fmt: skip
    assert known_book_match(BECOMING, [other, weak]) is None
    assert known_book_match(BECOMING, []) is None
