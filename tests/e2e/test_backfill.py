"""A three-month backfill through every service on the real stack, judged against the sandbox's
ground truth: every generated book accounted for, no wrong ISBN, no duplicate work."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from sandbox.catalogue import load_catalogue
from shared.events import Codec, ISBNResolved
from shared.months import YearMonth, months_between
from shared.text import normalise_author, normalise_title, title_without_subtitle
from tests.harness import Pipeline
from tests.kafka_helpers import read_topic

MONTHS = months_between(YearMonth(2019, 1), YearMonth(2019, 3))


def spelling(title: str, authors: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """Loose identity of a generated book (main title, first author's surname), to map it back
    to the ground truth whatever variant the LLM used ("Rowling, J.K." / "J. K. Rowling")."""
    first = normalise_author(authors[0]).split() if authors else [""]
    return normalise_title(title_without_subtitle(title)), first[-1]


def trace_id(record) -> str | None:
    headers = dict(record.headers or ())
    parent = headers.get("traceparent", b"").decode()
    return parent.split("-")[1] if parent.count("-") == 3 else None


async def test_three_month_backfill(pipeline: Pipeline, settings) -> None:
    await pipeline.plan(MONTHS)
    pipeline.start()
    assert await pipeline.wait_until_settled(240) == {"completed": 3}

    db = await asyncpg.connect(settings.dsn)
    try:
        months = {(r["year"], r["month"]): r for r in await db.fetch("SELECT * FROM backfill_log")}
        total_books = sum(r["books_generated"] for r in months.values())
        records = await read_topic(
            settings, f"{settings.topics.prefix}.isbn-resolved", total_books, 20
        )
        resolved = [
            e for e in (Codec().decode(r.value) for r in records) if isinstance(e, ISBNResolved)
        ]
        assert len({e.envelope.event_id for e in resolved}) == total_books > 30

        # Month counters agree with the events.
        for (year, month), row in months.items():
            events = [e for e in resolved if (e.year, e.month) == (year, month)]
            found = [e for e in events if e.outcome in ("resolved", "already_known")]
            assert row["books_generated"] == len(events) > 0
            assert row["isbns_resolved"] == len(found)
            assert float(row["resolution_rate"]) == round(100 * len(found) / len(events), 2)
            assert row["completed_at"] is not None and row["gemini_calls"] >= 1

        # Ground truth: which catalogue (or invented) book each generated book is.
        catalogue = load_catalogue()
        truth: dict[tuple[str, str], tuple[str, str]] = {}
        expected_ids: set[str] = set()
        for ym in MONTHS:
            answers = pipeline.truth(ym.year, ym.month)["llm"]
            for provider in ("gemini", "xai"):
                for entry in answers[provider]["books"]:  # type: ignore[index]
                    truth[spelling(entry["title"], entry["authors"])] = (
                        entry["kind"],
                        entry["source_id"],
                    )
                    expected_ids.add(entry["source_id"])

        editions = {r["isbn"]: r for r in await db.fetch("SELECT * FROM enriched_editions")}
        works = {r["work_key"]: r for r in await db.fetch("SELECT * FROM enriched_works")}
        work_of: dict[str, set[str]] = defaultdict(set)
        seen_ids: set[str] = set()
        wrong_isbns = []
        for event in resolved:
            kind, source_id = truth[spelling(event.book.title, event.book.authors)]
            seen_ids.add(source_id)
            if kind == "invented":
                assert event.outcome == "unresolved", event.book.title
                work = works[event.work_key]
                assert work["synthetic"] and work["completeness_score"] == 30
                assert work["primary_provider"] in ("gemini", "xai")
                metadata = work["metadata"]
                assert isinstance(metadata, dict) or metadata.startswith("{")
                work_of[source_id].add(event.work_key)
                continue
            if event.outcome == "unresolved":
                work_of[source_id].add(event.work_key)
                continue
            book = catalogue.by_id[source_id]
            if event.isbn13 not in book.isbn13s:
                wrong_isbns.append((event.book.title, event.isbn13))
                continue
            work_of[source_id].add(editions[event.isbn13]["work_key"])

        assert wrong_isbns == []
        assert seen_ids == expected_ids, "every generated book is accounted for"
        duplicates = {s: keys for s, keys in work_of.items() if len(keys) > 1}
        assert duplicates == {}, "one work per catalogue book"
        owners: dict[str, set[str]] = defaultdict(set)
        for source_id, keys in work_of.items():
            for key in keys:
                owners[key].add(source_id)
        assert {k: v for k, v in owners.items() if len(v) > 1} == {}, "no work merges two books"

        # Rows of the catalogue books ISBNdb and Wikidata both know: ISBNdb's edition facts won,
        # Wikidata's genres and ISBNdb's subjects were merged in, the authors are the real ones.
        checked = 0
        for ym in MONTHS:
            for known in pipeline.truth(ym.year, ym.month)["catalogue_books"]:  # type: ignore
                edition = editions.get(known["isbn13"])
                if edition is None or not (
                    known["known_by"]["isbndb"] and known["known_by"]["wikidata"]
                ):
                    continue
                book = catalogue.by_id[known["id"]]
                assert (edition["title"], edition["publisher"]) == (book.title, book.publisher)
                assert edition["primary_provider"] == "isbndb"
                assert set(edition["subjects"]) <= {
                    s.lower() for s in (*book.subjects, *book.genres)
                }
                work = works[edition["work_key"]]
                assert {g.lower() for g in book.genres} <= set(work["subject_tags"])
                assert not work["synthetic"] and work["completeness_score"] > 30
                authors = await db.fetch(
                    "SELECT a.name FROM work_authors wa JOIN enriched_authors a USING "
                    "(author_key) WHERE wa.work_key = $1 ORDER BY wa.author_order",
                    edition["work_key"],
                )
                assert [a["name"] for a in authors] == list(book.authors)
                checked += 1
        assert checked >= 5

        # One month is one trace: every event of a month carries its MonthScheduled's trace id.
        trace_of_month = {}
        for record in await read_topic(settings, f"{settings.topics.prefix}.month-scheduled", 3):
            event = Codec().decode(record.value)
            trace_of_month[(event.year, event.month)] = trace_id(record)
        assert len(set(trace_of_month.values())) == 3 and None not in trace_of_month.values()
        for topic in ("books-generated", "isbn-resolved", "metadata-fetched"):
            for record in await read_topic(settings, f"{settings.topics.prefix}.{topic}", 3, 5):
                event = Codec().decode(record.value)
                assert trace_id(record) == trace_of_month[(event.year, event.month)], topic

        # Every edition's row, and one enrichment_log 'create' per entity.
        for row in editions.values():
            assert row["work_key"] in works
            assert 0 < row["completeness_score"] <= 100
        creates = await db.fetch(
            "SELECT entity_type, entity_key, count(*) AS n FROM enrichment_log "
            "WHERE operation = 'create' GROUP BY 1, 2"
        )
        assert all(r["n"] == 1 for r in creates)
        assert {r["entity_key"] for r in creates if r["entity_type"] == "edition"} == set(editions)
        assert {r["entity_key"] for r in creates if r["entity_type"] == "work"} == set(works)
        doubled = await db.fetchval(
            "SELECT count(*) FROM (SELECT entity_type, entity_key, event_id FROM enrichment_log "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        )
        assert doubled == 0
    finally:
        await db.close()
