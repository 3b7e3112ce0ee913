-- The projected tables, the scheduler's state and outbox, the projector's tracking rows and the
-- shared provider quota. Timestamps of projected rows come from events (no DEFAULT now()), so a
-- replay reproduces them.
-- depends:

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE enriched_works (
    work_key                text PRIMARY KEY,
    title                   text NOT NULL,
    subtitle                text,
    description             text,
    original_language       text CHECK (original_language ~ '^[a-z]{2}$'),
    first_publication_year  integer CHECK (first_publication_year BETWEEN -3000 AND 2100),
    subject_tags            text[] NOT NULL DEFAULT '{}',
    cover_url_large         text,
    cover_url_medium        text,
    cover_url_small         text,
    cover_source            text,
    openlibrary_work_id     text,
    goodreads_work_ids      text[] NOT NULL DEFAULT '{}',
    amazon_asins            text[] NOT NULL DEFAULT '{}',
    google_books_volume_ids text[] NOT NULL DEFAULT '{}',
    primary_provider        text,
    contributors            text[] NOT NULL DEFAULT '{}',
    isbndb_quality          integer NOT NULL DEFAULT 0 CHECK (isbndb_quality BETWEEN 0 AND 100),
    completeness_score      integer NOT NULL DEFAULT 0 CHECK (completeness_score BETWEEN 0 AND 100),
    synthetic               boolean NOT NULL DEFAULT false,
    -- A real JSON object (the seed stored a JSON string here).
    metadata                jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL CHECK (updated_at >= created_at)
);
CREATE INDEX enriched_works_title_trgm ON enriched_works USING gin (lower(title) gin_trgm_ops);
CREATE INDEX enriched_works_synthetic ON enriched_works (updated_at) WHERE synthetic;

CREATE TABLE enriched_editions (
    isbn                    text PRIMARY KEY CHECK (isbn ~ '^97[89][0-9]{10}$'),
    alternate_isbns         text[] NOT NULL DEFAULT '{}',
    work_key                text REFERENCES enriched_works (work_key) DEFERRABLE INITIALLY DEFERRED,
    title                   text,
    subtitle                text,
    publisher               text,
    publication_date        text CHECK (publication_date ~ '^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$'),
    page_count              integer CHECK (page_count > 0),
    format                  text,
    binding                 text,
    language                text CHECK (language ~ '^[a-z]{2}$'),
    cover_url_large         text,
    cover_url_medium        text,
    cover_url_small         text,
    cover_url_original      text,
    cover_source            text,
    openlibrary_edition_id  text,
    amazon_asins            text[] NOT NULL DEFAULT '{}',
    google_books_volume_ids text[] NOT NULL DEFAULT '{}',
    goodreads_edition_ids   text[] NOT NULL DEFAULT '{}',
    subjects                text[] NOT NULL DEFAULT '{}',
    dewey_decimal           text[] NOT NULL DEFAULT '{}',
    -- One shape: {"<isbn13>": "<format>"}.
    related_isbns           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(related_isbns) = 'object'),
    primary_provider        text,
    contributors            text[] NOT NULL DEFAULT '{}',
    isbndb_quality          integer NOT NULL DEFAULT 0 CHECK (isbndb_quality BETWEEN 0 AND 100),
    completeness_score      integer NOT NULL DEFAULT 0 CHECK (completeness_score BETWEEN 0 AND 100),
    work_match_confidence   real CHECK (work_match_confidence BETWEEN 0 AND 1),
    work_match_source       text CHECK (work_match_source IN ('isbn', 'title_author', 'new')),
    work_match_at           timestamptz,
    metadata                jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL CHECK (updated_at >= created_at),
    last_isbndb_sync        timestamptz
);
CREATE INDEX enriched_editions_title_trgm ON enriched_editions USING gin (lower(title) gin_trgm_ops);
CREATE INDEX enriched_editions_related_isbns ON enriched_editions USING gin (related_isbns);
CREATE INDEX enriched_editions_alternate_isbns ON enriched_editions USING gin (alternate_isbns);
CREATE INDEX enriched_editions_work_key ON enriched_editions (work_key);

CREATE TABLE enriched_authors (
    author_key              text PRIMARY KEY,
    name                    text NOT NULL,
    normalized_name         text NOT NULL,
    gender                  text,
    nationality             text,
    birth_year              integer CHECK (birth_year BETWEEN -3000 AND 2100),
    death_year              integer CHECK (death_year BETWEEN -3000 AND 2100),
    bio                     text,
    bio_source              text,
    author_photo_url        text,
    openlibrary_author_id   text,
    goodreads_author_ids    text[] NOT NULL DEFAULT '{}',
    wikidata_id             text CHECK (wikidata_id ~ '^Q[0-9]+$'),
    primary_provider        text,
    contributors            text[] NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL CHECK (updated_at >= created_at),
    CHECK (death_year IS NULL OR birth_year IS NULL OR death_year >= birth_year)
);
CREATE INDEX enriched_authors_name_trgm ON enriched_authors USING gin (normalized_name gin_trgm_ops);

CREATE TABLE work_authors (
    work_key     text NOT NULL REFERENCES enriched_works (work_key) DEFERRABLE INITIALLY DEFERRED,
    author_key   text NOT NULL REFERENCES enriched_authors (author_key) DEFERRABLE INITIALLY DEFERRED,
    author_order integer NOT NULL CHECK (author_order >= 0),
    PRIMARY KEY (work_key, author_key)
);
CREATE INDEX work_authors_author_key ON work_authors (author_key);

CREATE TABLE backfill_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year             integer NOT NULL CHECK (year BETWEEN 1900 AND 2100),
    month            integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'retry')),
    books_generated  integer NOT NULL DEFAULT 0 CHECK (books_generated >= 0),
    isbns_resolved   integer NOT NULL DEFAULT 0 CHECK (isbns_resolved >= 0),
    resolution_rate  numeric(5, 2) CHECK (resolution_rate BETWEEN 0 AND 100),
    isbns_queued     integer NOT NULL DEFAULT 0 CHECK (isbns_queued >= 0),
    gemini_calls     integer NOT NULL DEFAULT 0 CHECK (gemini_calls >= 0),
    xai_calls        integer NOT NULL DEFAULT 0 CHECK (xai_calls >= 0),
    isbndb_calls     integer NOT NULL DEFAULT 0 CHECK (isbndb_calls >= 0),
    retry_count      integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    error_message    text,
    last_retry_at    timestamptz,
    next_attempt_at  timestamptz,
    prompt_variant   text CHECK (prompt_variant IN ('baseline', 'contemporary-notable')),
    batch_size       integer CHECK (batch_size BETWEEN 1 AND 100),
    started_at       timestamptz,
    completed_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (year, month),
    CHECK (isbns_resolved <= books_generated),
    CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at)
);
-- The scheduler's selection: claimable months, newest first.
CREATE INDEX backfill_log_claimable ON backfill_log (year DESC, month DESC)
    WHERE status IN ('pending', 'retry');

-- Audit trail: one row per entity created or changed by an event. Partitioned by entity type;
-- (entity_type, event_id, entity_key) is unique so a redelivered event logs nothing twice.
CREATE TABLE enrichment_log (
    id               bigserial,
    entity_type      text NOT NULL CHECK (entity_type IN ('edition', 'work', 'author')),
    entity_key       text NOT NULL,
    provider         text NOT NULL,
    operation        text NOT NULL CHECK (operation IN ('create', 'update')),
    success          boolean NOT NULL DEFAULT true,
    fields_updated   text[] NOT NULL DEFAULT '{}',
    error_message    text,
    response_time_ms integer CHECK (response_time_ms >= 0),
    event_id         uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (entity_type, id),
    UNIQUE (entity_type, event_id, entity_key)
) PARTITION BY LIST (entity_type);
CREATE TABLE enrichment_log_edition PARTITION OF enrichment_log FOR VALUES IN ('edition');
CREATE TABLE enrichment_log_work PARTITION OF enrichment_log FOR VALUES IN ('work');
CREATE TABLE enrichment_log_author PARTITION OF enrichment_log FOR VALUES IN ('author');
CREATE INDEX enrichment_log_entity ON enrichment_log (entity_type, entity_key);

-- The projector's position: written in the same transaction as the rows it applied.
CREATE TABLE projector_offsets (
    consumer    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Daily API quotas shared by every replica, reserved atomically before each call.
CREATE TABLE provider_quota (
    provider     text NOT NULL,
    day          date NOT NULL,
    used         integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    exhausted_at timestamptz,
    PRIMARY KEY (provider, day)
);

-- Transactional outbox: an event is written with the state change that caused it, then relayed.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    key          bytea,
    value        bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
