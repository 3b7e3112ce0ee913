"""The resolver's PostgreSQL side: the known-books query and the synthetic-upgrade claims."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from services.resolver.logic.resolution import KNOWN_TITLE_THRESHOLD, KnownRow
from services.resolver.logic.upgrades import (
    STALE_CLAIM,
    Origin,
    UpgradeCandidate,
    book_from_metadata,
    origins_for,
)
from shared import isbn as isbn_lib
from shared.events import GeneratedBook
from shared.similarity import author_lookup_keys

# One round trip for a whole BooksGenerated: each asked book is joined laterally to the few
# editions that match it by ISBN (primary key), by a related/alternate ISBN (GIN on jsonb keys
# and on the array) or by title among the works of its authors. known_book_match takes a title
# only when the authors agree, and agreeing needs the surname and first initial to agree, so
# the title branch looks authors up by those keys (B-tree, migration 0004) and computes trigram
# similarity on their editions alone, instead of a GIN `%` over every title whose common
# trigrams have posting lists as long as the catalogue. One branch per index.
KNOWN_BOOKS_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS a(idx, title, isbn)
), asked_authors AS (
    SELECT * FROM unnest($4::int[], $5::text[], $6::text[]) AS s(idx, surname, initial)
)
SELECT a.idx, e.isbn, e.title, e.work_key, e.related_isbns, e.alternate_isbns,
       similarity(lower(e.title), lower(a.title)) AS sim,
       coalesce((SELECT array_agg(au.name ORDER BY wa.author_order)
                   FROM work_authors wa JOIN enriched_authors au USING (author_key)
                  WHERE wa.work_key = e.work_key), '{}') AS authors
  FROM asked a
  CROSS JOIN LATERAL (
      SELECT isbn FROM enriched_editions WHERE isbn = a.isbn
      UNION
      SELECT isbn FROM enriched_editions WHERE alternate_isbns @> ARRAY[a.isbn]
      UNION
      SELECT isbn FROM enriched_editions WHERE related_isbns ? a.isbn
      UNION
      (SELECT ed.isbn
         FROM asked_authors s
         CROSS JOIN LATERAL (
             SELECT author_key FROM enriched_authors
              WHERE author_surname_key(normalized_name) = s.surname AND s.initial <> ''
                AND author_initial_key(normalized_name) = ANY(ARRAY[s.initial, ''])
             UNION ALL  -- an asked name without given names agrees with any given names
             SELECT author_key FROM enriched_authors
              WHERE author_surname_key(normalized_name) = s.surname AND s.initial = ''
         ) au
         JOIN work_authors wa ON wa.author_key = au.author_key
         JOIN enriched_editions ed ON ed.work_key = wa.work_key
        WHERE s.idx = a.idx AND similarity(lower(ed.title), lower(a.title)) >= $7::real
        ORDER BY similarity(lower(ed.title), lower(a.title)) DESC, ed.isbn LIMIT 5)
  ) hit
  -- LIMIT 1 (isbn is the key) keeps this a lookup per hit: flattened into a join, the planner
  -- misjudges the hits and hashes the whole table.
  CROSS JOIN LATERAL (SELECT * FROM enriched_editions WHERE isbn = hit.isbn LIMIT 1) e
"""


def _pg_text(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates: one such generated title must not
    fail the query for the whole BooksGenerated (issue 12). The projector drops NULs too."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


async def known_rows(
    pool: asyncpg.Pool, books: Sequence[GeneratedBook]
) -> dict[int, list[KnownRow]]:
    """Candidate stored editions for each asked book (by index), for `known_book_match`."""
    if not books:
        return {}
    isbns = [isbn_lib.isbn13_or_none(b.isbn) for b in books]
    author_idx: list[int] = []
    surnames: list[str] = []
    initials: list[str] = []
    for idx, book in enumerate(books):
        for keys in dict.fromkeys(filter(None, map(author_lookup_keys, book.authors))):
            author_idx.append(idx)
            surnames.append(keys[0])
            initials.append(keys[1])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than this query
        rows = await conn.fetch(
            KNOWN_BOOKS_SQL,
            list(range(len(books))),
            [_pg_text(b.title) for b in books],
            isbns,
            author_idx,
            surnames,
            initials,
            KNOWN_TITLE_THRESHOLD,
        )
    found: dict[int, list[KnownRow]] = defaultdict(list)
    for row in rows:
        related = row["related_isbns"]
        related_map = json.loads(related) if isinstance(related, str) else (related or {})
        found[row["idx"]].append(
            KnownRow(
                isbn13=row["isbn"],
                title=row["title"] or "",
                authors=tuple(row["authors"]),
                similarity=float(row["sim"] or 0.0),
                related_isbns=tuple(related_map),
                alternate_isbns=tuple(row["alternate_isbns"] or ()),
                work_key=row["work_key"],
            )
        )
    return found


class PostgresKnownBooks:
    """KnownBooks on the projected tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def known_rows(self, books: Sequence[GeneratedBook]) -> dict[int, list[KnownRow]]:
        return await known_rows(self.pool, books)


# --- synthetic upgrades ----------------------------------------------------------------------

# Claims up to $1 due synthetic works, oldest first, in one statement: concurrent runs conflict
# on the primary key, and the loser re-checks the row the winner wrote, so each work is tried by
# one of them. Due: never tried, last tried before $2, inconclusive (a provider failed: an
# outage says nothing about the book), or claimed by a run that died ($3).
_CLAIM = """
WITH due AS (
    SELECT w.work_key FROM enriched_works w
    LEFT JOIN synthetic_attempts a ON a.work_key = w.work_key
    WHERE w.synthetic
      AND (a.work_key IS NULL OR a.attempted_at <= $2 OR a.outcome = 'inconclusive'
           OR (a.outcome = 'claimed' AND a.attempted_at <= $3))
    ORDER BY w.updated_at, w.created_at, w.work_key
    LIMIT $1
)
INSERT INTO synthetic_attempts AS s (work_key, attempted_at, outcome)
SELECT work_key, $4, 'claimed' FROM due
ON CONFLICT (work_key) DO UPDATE
    SET attempted_at = EXCLUDED.attempted_at, outcome = 'claimed', isbn13 = NULL,
        attempts = s.attempts + 1
    WHERE s.attempted_at <= $2 OR s.outcome = 'inconclusive'
       OR (s.outcome = 'claimed' AND s.attempted_at <= $3)
RETURNING work_key
"""

_WORKS = """
SELECT work_key, metadata FROM enriched_works
 WHERE work_key = ANY($1::text[]) AND synthetic
 ORDER BY updated_at, created_at, work_key
"""

# The months each book was generated in and left unresolved: where its resolution belongs.
_ORIGINS = """
SELECT mb.work_key, mb.year, mb.month, mb.book_id, mb.resolved_event_id,
       coalesce(b.books_generated, 0) AS books
  FROM month_books mb
  LEFT JOIN backfill_log b ON b.year = mb.year AND b.month = mb.month
 WHERE mb.work_key = ANY($1::text[]) AND mb.outcome = 'unresolved'
"""

_RECORD = "UPDATE synthetic_attempts SET outcome = $2, isbn13 = $3 WHERE work_key = $1"


async def claim(pool: asyncpg.Pool, limit: int, now: datetime, retry_after: timedelta) -> list[str]:
    rows = await pool.fetch(_CLAIM, limit, now - retry_after, now - STALE_CLAIM, now)
    return [r["work_key"] for r in rows]


async def load_candidates(pool: asyncpg.Pool, keys: Sequence[str]) -> list[UpgradeCandidate]:
    """The claimed works still synthetic with a usable book and month, oldest first."""
    works = await pool.fetch(_WORKS, list(keys))
    stored: dict[str, list[Origin]] = {}
    for r in await pool.fetch(_ORIGINS, list(keys)):
        origin = Origin(r["year"], r["month"], r["book_id"], r["books"], r["resolved_event_id"])
        stored.setdefault(r["work_key"], []).append(origin)
    out = []
    for row in works:
        metadata = row["metadata"]
        book = book_from_metadata(json.loads(metadata) if isinstance(metadata, str) else metadata)
        if book is None:
            continue
        origins = origins_for(book, stored.get(row["work_key"], []))
        if origins:
            out.append(UpgradeCandidate(row["work_key"], book, origins))
    return out


async def record_attempt(
    pool: asyncpg.Pool, work_key: str, outcome: str, isbn13: str | None
) -> None:
    await pool.execute(_RECORD, work_key, outcome, isbn13)
