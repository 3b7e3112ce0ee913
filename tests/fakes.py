"""In-memory stand-ins for the handlers' I/O (a recording producer, the two database queries, the
LLMs, the cascade searches, the metadata source), hand-written to behave like the real ones."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from aiokafka.structs import ConsumerRecord

from services.enricher.fetch import Fetched
from services.enricher.logic.works import WORK_MATCH_THRESHOLD, ExistingWork
from services.enricher.store import Asked
from services.resolver.logic.resolution import KNOWN_TITLE_THRESHOLD, Candidate, KnownRow
from shared import isbn as isbn_lib
from shared.events import GeneratedBook, ISBNResolved
from shared.events.generated import Event
from shared.kafka.producer import EventProducer, Headers
from shared.kafka.worker import Incoming, Reject
from shared.providers.errors import ProviderError
from shared.providers.models import BookRecord, LLMBook, WikidataFacts
from shared.text import author_key_for

T = TypeVar("T")

# --- driving a handler -------------------------------------------------------------------------


class RecordingProducer:
    """What a handler calls on EventProducer: `send`, recorded in order instead of published."""

    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.headers: list[Headers] = []

    async def send(self, event: Event, headers: Headers = ()) -> None:
        self.sent.append(event)
        self.headers.append(headers)


def incoming(event: Event, offset: int = 0, topic: str = "test-topic") -> Incoming:
    """The event as the worker hands it over: decoded, with its (header-less) record."""
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=b"",
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )
    return Incoming(event, record)


Handle = Callable[[Sequence[Incoming], EventProducer], Awaitable[Sequence[Reject]]]


@dataclass
class Handled:
    rejects: list[Reject]
    sent: list[Event]

    def reasons(self) -> list[str]:
        return [r.reason for r in self.rejects]


async def drive(handle: Handle, *events: Event) -> Handled:
    """One batch of `events` through `handle`, with a recording producer."""
    producer = RecordingProducer()
    batch = [incoming(event, offset) for offset, event in enumerate(events)]
    rejects = await handle(batch, cast(EventProducer, producer))
    return Handled(list(rejects), producer.sent)


# --- pg_trgm -----------------------------------------------------------------------------------


def _trigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of the two texts' words."""
    left, right = _trigrams(a), _trigrams(b)
    if not left or not right:
        return 0.0
    common = len(left & right)
    return common / (len(left) + len(right) - common)


def _top_titles(
    rows: Sequence[T],
    title: Callable[[T], str],
    key: Callable[[T], str],
    asked: str,
    at_least: float,
) -> list[T]:
    """The `lower(title) % lower(asked)` branch: at least `threshold` alike, best 5 first."""
    alike = [(trigram_similarity(title(r), asked), r) for r in rows]
    hits = sorted((p for p in alike if p[0] >= at_least), key=lambda p: (-p[0], key(p[1])))
    return [r for _, r in hits[:5]]


# --- the resolver's known-books query ----------------------------------------------------------


@dataclass(frozen=True)
class StoredEdition:
    """An enriched_editions row with its work's authors."""

    isbn13: str
    title: str
    authors: tuple[str, ...] = ()
    work_key: str | None = None
    related_isbns: tuple[str, ...] = ()
    alternate_isbns: tuple[str, ...] = ()


def _edition_title(edition: StoredEdition) -> str:
    return edition.title


def _edition_isbn(edition: StoredEdition) -> str:
    return edition.isbn13


@dataclass
class InMemoryKnownBooks:
    """KnownBooks over a list of stored editions: the same four branches as KNOWN_BOOKS_SQL
    (ISBN, alternate ISBN, related ISBN, trigram title), with pg_trgm's similarity."""

    editions: list[StoredEdition] = field(default_factory=list)
    asked: list[list[str]] = field(default_factory=list)

    async def known_rows(self, books: Sequence[GeneratedBook]) -> dict[int, list[KnownRow]]:
        self.asked.append([b.title for b in books])
        found: dict[int, list[KnownRow]] = {}
        for idx, book in enumerate(books):
            isbn = isbn_lib.isbn13_or_none(book.isbn)
            hits = {
                e.isbn13: e
                for e in self.editions
                if isbn is not None
                and (e.isbn13 == isbn or isbn in e.alternate_isbns or isbn in e.related_isbns)
            }
            titled = _top_titles(
                self.editions, _edition_title, _edition_isbn, book.title, KNOWN_TITLE_THRESHOLD
            )
            for e in titled:
                hits.setdefault(e.isbn13, e)
            if hits:
                found[idx] = [
                    KnownRow(
                        isbn13=e.isbn13,
                        title=e.title,
                        authors=e.authors,
                        similarity=trigram_similarity(e.title, book.title),
                        related_isbns=e.related_isbns,
                        alternate_isbns=e.alternate_isbns,
                        work_key=e.work_key,
                    )
                    for e in hits.values()
                ]
        return found


# --- the enricher's candidate-works query ------------------------------------------------------


@dataclass(frozen=True)
class StoredWork:
    """An enriched_works row with its authors and the ISBNs of its editions."""

    work_key: str
    title: str
    authors: tuple[str, ...] = ()
    isbns: tuple[str, ...] = ()


def _work_title(work: StoredWork) -> str:
    return work.title


def _work_key(work: StoredWork) -> str:
    return work.work_key


@dataclass
class InMemoryCandidateWorks:
    """CandidateWorks over a list of stored works: as CANDIDATE_WORKS_SQL, the work holding the
    ISBN, the work under the deterministic key and up to five similar titles, one row a work."""

    works: list[StoredWork] = field(default_factory=list)
    asked: list[list[Asked]] = field(default_factory=list)

    async def candidate_works(self, asked: Sequence[Asked]) -> dict[str, list[ExistingWork]]:
        self.asked.append(list(asked))
        found: dict[str, list[ExistingWork]] = {}
        threshold = min(0.6, WORK_MATCH_THRESHOLD)
        for a in asked:
            by_isbn = {w.work_key for w in self.works if a.isbn13 in w.isbns}
            keyed = {w.work_key for w in self.works if w.work_key == a.work_key}
            titled = _top_titles(self.works, _work_title, _work_key, a.title, threshold)
            alike = {w.work_key for w in titled}
            for work in self.works:
                if work.work_key in by_isbn | keyed | alike:
                    found.setdefault(a.isbn13, []).append(
                        ExistingWork(
                            work_key=work.work_key,
                            title=work.title,
                            author_keys=tuple(author_key_for(n) for n in work.authors),
                            matched_by_isbn=work.work_key in by_isbn,
                            author_names=work.authors,
                        )
                    )
        return found


# --- LLMs --------------------------------------------------------------------------------------


@dataclass
class AnsweringLLM:
    """A BookSuggester that suggests the same books for every prompt."""

    books: list[LLMBook]
    delay_s: float = 0.0
    prompts: list[tuple[str, str | None]] = field(default_factory=list)

    async def generate_books(self, prompt: str, *, system: str | None = None) -> list[LLMBook]:
        self.prompts.append((prompt, system))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return list(self.books)


@dataclass
class FailingLLM:
    """A BookSuggester whose provider always fails with `error`."""

    error: ProviderError
    prompts: list[str] = field(default_factory=list)

    async def generate_books(self, prompt: str, *, system: str | None = None) -> list[LLMBook]:
        self.prompts.append(prompt)
        raise self.error


# --- the resolver's cascade searches -----------------------------------------------------------


@dataclass
class InMemorySearch:
    """One provider's search over its catalogue: the records whose title is at all like the
    asked one (the resolver judges them), or `error` raised for every search."""

    catalogue: list[BookRecord | Candidate] = field(default_factory=list)
    error: ProviderError | None = None
    asked: list[str] = field(default_factory=list)

    async def __call__(self, book: GeneratedBook) -> Sequence[BookRecord | Candidate]:
        self.asked.append(book.title)
        if self.error is not None:
            raise self.error
        return [r for r in self.catalogue if trigram_similarity(r.title or "", book.title) >= 0.3]


# --- the enricher's metadata source ------------------------------------------------------------


@dataclass
class InMemoryMetadata:
    """MetadataSource over fixed provider answers, keyed by ISBN-13; a provider's time is 0."""

    records: dict[str, list[BookRecord]] = field(default_factory=dict)
    wikidata: dict[str, WikidataFacts] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    asked: list[list[str]] = field(default_factory=list)

    async def fetch(self, isbns: Sequence[str], by_isbn: Mapping[str, ISBNResolved]) -> Fetched:
        self.asked.append(list(isbns))
        records = {i: list(self.records.get(i, [])) for i in isbns}
        providers = {r.provider for rs in records.values() for r in rs}
        return Fetched(
            records=records,
            wikidata={i: self.wikidata[i] for i in isbns if i in self.wikidata},
            descriptions={i: self.descriptions[i] for i in isbns if i in self.descriptions},
            timings=dict.fromkeys(sorted(providers | {"wikidata", "archive"}), 0),
        )
