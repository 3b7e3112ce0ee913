"""Wikidata Query Service client: genres/subjects for a batch of ISBNs in one SPARQL query."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse, ProviderUnavailable, RequestRejected
from shared.providers.http import HttpTransport
from shared.providers.models import WikidataFacts
from shared.providers.normalise import valid_isbn13s
from shared.providers.outcomes import Outcome, classify_status
from shared.providers.spec import ProviderSpec, spec_from_block
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "wikidata"
_QID = re.compile(r"(Q\d+)$")
_QUERY_TIMEOUT = "query hit the WDQS time limit (TimeoutException)"
_BANNED_UNTIL = re.compile(r"banned until (\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?(?:\.\d+)?Z?)", re.I)
# Work classes for title search (P31): literary work, written work, book. Editions share the
# work's label and would show up as duplicates.
_BOOK_CLASSES = "wd:Q7725634 wd:Q47461344 wd:Q571"

# One query per batch. ISBNs are matched exactly, hyphenated as Wikidata stores them, in both
# P212 (ISBN-13) and P957 (ISBN-10); facts are read from the work the edition belongs to (P629),
# falling back to the item itself. Labels are English.
_FACTS_QUERY = """SELECT ?isbn ?item ?work ?workLabel ?authorLabel ?genreLabel ?subjectLabel \
?pub ?olid ?grWork WHERE {{
  VALUES ?isbn {{ {values} }}
  {{ ?item wdt:P212 ?isbn }} UNION {{ ?item wdt:P957 ?isbn }}
  OPTIONAL {{ ?item wdt:P629 ?w0 }}
  BIND(COALESCE(?w0, ?item) AS ?work)
  OPTIONAL {{ ?work wdt:P50 ?author }}
  OPTIONAL {{ ?work wdt:P136 ?genre }}
  OPTIONAL {{ ?work wdt:P921 ?subject }}
  OPTIONAL {{ ?work wdt:P577 ?pub }}
  OPTIONAL {{ ?work wdt:P648 ?olid }}
  OPTIONAL {{ ?work wdt:P8383 ?grWork }}
  SERVICE wikibase:label {{ bd:serviceParam wikibase:language "en". }}
}}"""

# Exact English label match is index-backed; fuzzy matching would scan and time out.
_SEARCH_QUERY = """SELECT ?item ?itemLabel ?authorLabel ?genreLabel ?subjectLabel ?pub ?olid \
?grWork ?isbn WHERE {{
  VALUES ?label {{ {label} }}
  ?item rdfs:label ?label .
  VALUES ?class {{ {classes} }}
  ?item wdt:P31 ?class .
  OPTIONAL {{ ?item wdt:P50 ?author }}
  OPTIONAL {{ ?item wdt:P136 ?genre }}
  OPTIONAL {{ ?item wdt:P921 ?subject }}
  OPTIONAL {{ ?item wdt:P577 ?pub }}
  OPTIONAL {{ ?item wdt:P648 ?olid }}
  OPTIONAL {{ ?item wdt:P8383 ?grWork }}
  OPTIONAL {{ ?edition wdt:P629 ?item ; wdt:P212 ?isbn }}
  SERVICE wikibase:label {{ bd:serviceParam wikibase:language "en". }}
}}
LIMIT {limit}"""


def spec_from_settings(settings: Settings) -> ProviderSpec:
    block = settings.wikidata
    return spec_from_block(PROVIDER, block, settings.http, timeout_s=block.timeout_s)


# --- queries and parsing (pure) ------------------------------------------------------------------


def sparql_string(text: str) -> str:
    """A SPARQL string literal (double-quoted, escaped)."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def isbn_values(isbns: Iterable[str]) -> list[str]:
    """Hyphenated ISBN-13 and ISBN-10 forms of each valid ISBN (exact match needs hyphens)."""
    values: dict[str, None] = {}
    for raw in isbns:
        isbn13 = isbn_lib.isbn13_or_none(raw)
        if isbn13 is None:
            continue
        values[isbn_lib.hyphenate(isbn13)] = None
        isbn10 = isbn_lib.to_isbn10(isbn13)
        if isbn10:
            values[isbn_lib.hyphenate(isbn10)] = None
    return list(values)


def facts_query(isbns: Iterable[str]) -> str:
    values = " ".join(sparql_string(value) for value in isbn_values(isbns))
    return _FACTS_QUERY.format(values=values)


def search_query(title: str, limit: int = 50) -> str:
    return _SEARCH_QUERY.format(
        label=sparql_string(title.strip()) + "@en", classes=_BOOK_CLASSES, limit=limit
    )


def _value(binding: Mapping[str, Any], name: str) -> str | None:
    cell = binding.get(name)
    if isinstance(cell, Mapping) and isinstance(cell.get("value"), str):
        text: str = cell["value"].strip()
        return text or None
    return None


def _qid(binding: Mapping[str, Any], name: str) -> str | None:
    value = _value(binding, name)
    match = _QID.search(value) if value else None
    return match.group(1) if match else None


def _label(binding: Mapping[str, Any], name: str) -> str | None:
    """A label, unless the label service fell back to the bare Q-id (no English label)."""
    value = _value(binding, name)
    return None if value is None or _QID.fullmatch(value) else value


def bindings(body: Any) -> list[Mapping[str, Any]]:
    """`results.bindings` of a SPARQL JSON result, or MalformedResponse."""
    results = body.get("results") if isinstance(body, Mapping) else None
    rows = results.get("bindings") if isinstance(results, Mapping) else None
    if not isinstance(rows, list):
        raise MalformedResponse(PROVIDER, "expected SPARQL JSON results.bindings")
    return [row for row in rows if isinstance(row, Mapping)]


@dataclass
class _Facts:
    """Accumulates the cartesian rows (author x genre x subject) of one item."""

    item: str
    work: str
    title: str | None = None
    authors: dict[str, None] = field(default_factory=dict)
    genres: dict[str, None] = field(default_factory=dict)
    subjects: dict[str, None] = field(default_factory=dict)
    isbns: dict[str, None] = field(default_factory=dict)
    pub: str | None = None
    olid: str | None = None
    gr_work: str | None = None

    def add(self, row: Mapping[str, Any], title_var: str) -> None:
        self.title = self.title or _label(row, title_var)
        for target, var in (
            (self.authors, "authorLabel"),
            (self.genres, "genreLabel"),
            (self.subjects, "subjectLabel"),
        ):
            label = _label(row, var)
            if label:
                target[label] = None
        isbn13 = isbn_lib.isbn13_or_none(_value(row, "isbn"))
        if isbn13:
            self.isbns[isbn13] = None
        self.pub = self.pub or _value(row, "pub")
        self.olid = self.olid or _value(row, "olid")
        self.gr_work = self.gr_work or _value(row, "grWork")

    def facts(self, isbn13: str | None) -> WikidataFacts:
        return WikidataFacts(
            isbn13=isbn13,
            item=self.item,
            work=self.work,
            title=self.title,
            authors=tuple(self.authors),
            publication_date=self.pub,
            genres=tuple(self.genres),
            main_subjects=tuple(self.subjects),
            openlibrary_id=self.olid,
            goodreads_work_id=self.gr_work,
            isbns=tuple(self.isbns),
        )


def parse_facts(body: Any) -> dict[str, WikidataFacts]:
    """Rows of the facts query -> facts per ISBN-13 (either ISBN form maps to the ISBN-13).

    When several items carry one ISBN, the first one in the answer wins.
    """
    found: dict[str, _Facts] = {}
    for row in bindings(body):
        isbn13 = isbn_lib.isbn13_or_none(_value(row, "isbn"))
        item = _qid(row, "item")
        if isbn13 is None or item is None:
            log.warning("wikidata: dropped a row without a usable isbn/item")
            continue
        facts = found.get(isbn13)
        if facts is None:
            facts = found[isbn13] = _Facts(item, _qid(row, "work") or item)
        elif facts.item != item:
            continue
        facts.add(row, "workLabel")
    return {isbn13: facts.facts(isbn13) for isbn13, facts in found.items()}


def parse_search(body: Any) -> list[WikidataFacts]:
    """Rows of the title search -> one WikidataFacts per item (isbn13 None, `isbns` listed)."""
    found: dict[str, _Facts] = {}
    for row in bindings(body):
        item = _qid(row, "item")
        if item is None:
            continue
        facts = found.setdefault(item, _Facts(item, item))
        facts.add(row, "itemLabel")
    return [facts.facts(None) for facts in found.values()]


def matches_author(facts: WikidataFacts, author: str | None) -> bool:
    if not author or not author.split():
        return True
    surname = author.split()[-1].casefold()
    return any(surname in name.casefold() for name in facts.authors)


def classify(response: httpx.Response, now: datetime) -> Outcome:
    """WDQS specifics: a query over its 60 s limit answers 500 with a TimeoutException and will
    time out again, so it is not retried as is; a client that ignored 429s is banned for 24 h
    ("banned until ..."): stop until then."""
    outcome = classify_status(response, now)
    if response.status_code == 500 and "TimeoutException" in response.text:
        return Outcome("rejected", _QUERY_TIMEOUT)
    if response.status_code == 403:
        match = _BANNED_UNTIL.search(response.text)
        if match:
            when = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
            return Outcome("daily_quota", "client banned by WDQS", reset_at=when)
    return outcome


# --- client --------------------------------------------------------------------------------------


@dataclass
class WikidataClient:
    transport: HttpTransport
    spec: ProviderSpec
    batch_size: int = 200

    @classmethod
    def from_settings(cls, transport: HttpTransport, settings: Settings) -> WikidataClient:
        return cls(transport, spec_from_settings(settings), settings.wikidata.batch_size)

    async def _query(self, query: str) -> Any:
        """POST the query as a form: VALUES lists make GET URLs too long."""
        return await self.transport.request_json(
            self.spec,
            "POST",
            "/sparql",
            content=urlencode({"query": query, "format": "json"}),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/sparql-results+json",
            },
            classify=classify,
        )

    async def facts_for_isbns(self, isbns: Sequence[str]) -> dict[str, WikidataFacts]:
        """Facts keyed by ISBN-13; ISBNs Wikidata does not know are absent (coverage is sparse).

        One query per `batch_size` ISBNs (each sends two values: ISBN-13 and ISBN-10).
        """
        wanted = valid_isbn13s(isbns)
        found: dict[str, WikidataFacts] = {}
        for start in range(0, len(wanted), self.batch_size):
            found.update(await self._facts(wanted[start : start + self.batch_size]))
        return found

    async def _facts(self, chunk: list[str]) -> dict[str, WikidataFacts]:
        """One query; a batch that times out server-side is halved until it fits."""
        try:
            return parse_facts(await self._query(facts_query(chunk)))
        except RequestRejected as exc:
            if exc.status != 500:
                raise
            if len(chunk) == 1:
                raise ProviderUnavailable(PROVIDER, f"{_QUERY_TIMEOUT} for one ISBN") from exc
            log.info("wikidata: batch of %d timed out; halving", len(chunk))
            half = len(chunk) // 2
            return {**await self._facts(chunk[:half]), **await self._facts(chunk[half:])}

    async def search(
        self, title: str, author: str | None = None, *, limit: int = 50
    ) -> list[WikidataFacts]:
        """Works whose English label is exactly the title; with an author, matching ones only."""
        body = await self._query(search_query(title, limit))
        return [facts for facts in parse_search(body) if matches_author(facts, author)]
