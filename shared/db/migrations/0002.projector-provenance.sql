-- The projector's merge state: each projected row keeps the rank its values won with
-- (`provenance`), so folding an event into a row needs only that row and the result does not
-- depend on arrival order; and per-book month progress (`month_books`), so the month counters
-- are recomputed from facts instead of incremented (idempotent under redelivery).
-- depends: 0001.initial-schema

ALTER TABLE enriched_editions
    ADD COLUMN provenance jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(provenance) = 'object');
ALTER TABLE enriched_works
    ADD COLUMN provenance jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(provenance) = 'object');
ALTER TABLE enriched_authors
    ADD COLUMN provenance jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(provenance) = 'object');
-- A month's generation facts (latest attempts, calls per event, first/last event time).
ALTER TABLE backfill_log
    ADD COLUMN provenance jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(provenance) = 'object');

-- One row per generated book of a month: how it was resolved and when its metadata arrived.
-- A month is completed when every book is accounted for (unresolved / already known by its
-- ISBNResolved, resolved by its MetadataFetched).
CREATE TABLE month_books (
    year              integer NOT NULL CHECK (year BETWEEN 1900 AND 2100),
    month             integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    book_id           text NOT NULL,
    outcome           text CHECK (outcome IN ('resolved', 'unresolved', 'already_known')),
    isbn13            text,
    work_key          text,
    isbndb_calls      integer NOT NULL DEFAULT 0 CHECK (isbndb_calls >= 0),
    resolved_at       timestamptz,
    resolved_event_id text,
    enriched_at       timestamptz,
    enriched_event_id text,
    PRIMARY KEY (year, month, book_id),
    FOREIGN KEY (year, month) REFERENCES backfill_log (year, month)
        DEFERRABLE INITIALLY DEFERRED,
    CHECK ((outcome IS NULL) = (resolved_at IS NULL))
);
CREATE INDEX month_books_isbn13 ON month_books (isbn13) WHERE isbn13 IS NOT NULL;
