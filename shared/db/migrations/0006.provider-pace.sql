-- Per-provider, per-key request pacing shared by every replica (shared/providers/pace.py): the
-- earliest time the next call may be sent. A key appears only as a hash. Operational state like
-- provider_quota: no event produces it and a replay leaves it alone.
-- depends: 0003.synthetic-attempts

CREATE UNLOGGED TABLE provider_pace (
    provider text NOT NULL,
    key_hash text NOT NULL,
    next_at  timestamptz NOT NULL,
    PRIMARY KEY (provider, key_hash)
);
