"""The enricher's PostgreSQL side: the stored works an edition might belong to, in one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.enricher.logic.works import WORK_MATCH_THRESHOLD, ExistingWork


@dataclass(frozen=True)
class Asked:
    isbn13: str
    title: str
    work_key: str  # the deterministic key of (main title, primary author)


# Per edition: the work already holding its ISBN, the work under its deterministic key, and
# works with a similar title (trigram GIN on lower(title)); with their authors.
CANDIDATE_WORKS_SQL = """
WITH asked AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS a(idx, isbn, title, wkey)
)
SELECT a.idx, w.work_key, w.title, bool_or(m.by_isbn) AS by_isbn,
       coalesce((SELECT array_agg(au.name ORDER BY wa.author_order)
                   FROM work_authors wa JOIN enriched_authors au USING (author_key)
                  WHERE wa.work_key = w.work_key), '{}') AS author_names,
       coalesce((SELECT array_agg(wa.author_key ORDER BY wa.author_order)
                   FROM work_authors wa WHERE wa.work_key = w.work_key), '{}') AS author_keys
  FROM asked a
  CROSS JOIN LATERAL (
      SELECT e.work_key, true AS by_isbn FROM enriched_editions e
       WHERE e.isbn = a.isbn AND e.work_key IS NOT NULL
      UNION ALL
      SELECT w.work_key, false FROM enriched_works w WHERE w.work_key = a.wkey
      UNION ALL
      (SELECT w.work_key, false FROM enriched_works w
        WHERE lower(w.title) % lower(a.title)
        ORDER BY similarity(lower(w.title), lower(a.title)) DESC, w.work_key LIMIT 5)
  ) m
  JOIN enriched_works w ON w.work_key = m.work_key
 GROUP BY a.idx, w.work_key, w.title
"""


async def candidate_works(
    pool: asyncpg.Pool, asked: Sequence[Asked]
) -> dict[str, list[ExistingWork]]:
    """isbn13 -> the stored works `decide_work` should consider."""
    if not asked:
        return {}
    # Variant titles need only be this alike to be worth a look; decide_work is stricter.
    threshold = min(0.6, WORK_MATCH_THRESHOLD)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL pg_trgm.similarity_threshold = {threshold}")
        rows = await conn.fetch(
            CANDIDATE_WORKS_SQL,
            list(range(len(asked))),
            [a.isbn13 for a in asked],
            [a.title for a in asked],
            [a.work_key for a in asked],
        )
    found: dict[str, list[ExistingWork]] = defaultdict(list)
    for row in rows:
        found[asked[row["idx"]].isbn13].append(
            ExistingWork(
                work_key=row["work_key"],
                title=row["title"],
                author_keys=tuple(row["author_keys"]),
                matched_by_isbn=row["by_isbn"],
                author_names=tuple(row["author_names"]),
            )
        )
    return found


class PostgresCandidateWorks:
    """CandidateWorks on the projected tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def candidate_works(self, asked: Sequence[Asked]) -> dict[str, list[ExistingWork]]:
        return await candidate_works(self.pool, asked)
