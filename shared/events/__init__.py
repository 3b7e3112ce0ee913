"""Event contracts: models generated from schemas/, their topics and keys, and the Avro codec."""

from shared.events.catalog import DEAD_LETTER, EVENT_TYPES, EventType, all_topics, event_type_of
from shared.events.codec import Codec, CodecError
from shared.events.envelope import derived_envelope, make_envelope, month_correlation_id
from shared.events.generated import (
    AuthorFacts,
    BooksGenerated,
    DeadLetter,
    EditionFacts,
    Envelope,
    Event,
    GeneratedBook,
    ISBNResolved,
    LLMCall,
    MetadataFetched,
    MonthGenerationFailed,
    MonthScheduled,
    ResolutionAttempt,
    WorkFacts,
    WorkMatch,
)

__all__ = [
    "DEAD_LETTER",
    "EVENT_TYPES",
    "AuthorFacts",
    "BooksGenerated",
    "Codec",
    "CodecError",
    "DeadLetter",
    "EditionFacts",
    "Envelope",
    "Event",
    "EventType",
    "GeneratedBook",
    "ISBNResolved",
    "LLMCall",
    "MetadataFetched",
    "MonthGenerationFailed",
    "MonthScheduled",
    "ResolutionAttempt",
    "WorkFacts",
    "WorkMatch",
    "all_topics",
    "derived_envelope",
    "event_type_of",
    "make_envelope",
    "month_correlation_id",
]
