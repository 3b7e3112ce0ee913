-- Synthetic upgrades: when each synthetic work was last re-resolved, so a work is tried at most
-- once a week and concurrent schedulers claim disjoint works. Operational state like
-- provider_quota and outbox, not a projection: no event produces it and a replay leaves it alone.
-- depends: 0002.projector-provenance

CREATE TABLE synthetic_attempts (
    work_key     text PRIMARY KEY,
    attempted_at timestamptz NOT NULL,
    -- claimed: being tried now; inconclusive: a provider failed, so tried again on the next run.
    outcome      text NOT NULL
                 CHECK (outcome IN ('claimed', 'resolved', 'unresolved', 'inconclusive')),
    isbn13       text CHECK (isbn13 ~ '^97[89][0-9]{10}$'),
    attempts     integer NOT NULL DEFAULT 1 CHECK (attempts >= 1)
);

-- The months an unresolved book was generated in, looked up by its synthetic work.
CREATE INDEX month_books_unresolved_work ON month_books (work_key) WHERE outcome = 'unresolved';
