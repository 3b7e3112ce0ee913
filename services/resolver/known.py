"""The resolver's database side: which generated books the tables already hold, in one query."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence

import asyncpg

from services.resolver.logic import KNOWN_TITLE_THRESHOLD, KnownRow
from shared import isbn as isbn_lib
from shared.events import GeneratedBook

# One round trip for a whole BooksGenerated: each asked book is joined laterally to the few
# editions that match it by ISBN (primary key), by a related/alternate ISBN (GIN on jsonb keys
# and on the array) or by trigram title similarity (GIN on lower(title)); one branch per index,
# so each is an index scan. `%` uses pg_trgm.similarity_threshold, set for this transaction.
KNOWN_BOOKS_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS a(idx, title, isbn)
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
      (SELECT isbn FROM enriched_editions WHERE lower(title) % lower(a.title)
        ORDER BY similarity(lower(title), lower(a.title)) DESC, isbn LIMIT 5)
  ) hit
  CROSS JOIN LATERAL (SELECT * FROM enriched_editions WHERE isbn = hit.isbn) e
"""


async def known_rows(
    pool: asyncpg.Pool, books: Sequence[GeneratedBook]
) -> dict[int, list[KnownRow]]:
    """Candidate stored editions for each asked book (by index), for `known_book_match`."""
    if not books:
        return {}
    isbns = [isbn_lib.isbn13_or_none(b.isbn) for b in books]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL pg_trgm.similarity_threshold = {KNOWN_TITLE_THRESHOLD}")
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than this query
        rows = await conn.fetch(
            KNOWN_BOOKS_SQL, list(range(len(books))), [b.title for b in books], isbns
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
