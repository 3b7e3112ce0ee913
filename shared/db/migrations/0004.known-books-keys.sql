-- The resolver's known-books title branch (services/resolver/store.py) reaches stored editions
-- through their authors instead of a trigram scan of every title: by surname and first initial
-- of normalized_name (shared.text.normalise_author, which the enricher always supplies), the
-- parts author_agreement needs to agree anyway (shared.similarity.author_lookup_keys is the
-- Python twin). Functions of the row itself, so the database keeps the index true on every
-- projector write and every replay.
-- depends: 0003.synthetic-attempts

CREATE FUNCTION author_surname_key(normalized text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN substring(normalized FROM '(\S+)(?: (?:jr|sr|ii|iii|iv))?$');

CREATE FUNCTION author_initial_key(normalized text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE WHEN normalized ~ '^\S+ (?!(?:jr|sr|ii|iii|iv)$)\S' THEN left(normalized, 1)
                ELSE '' END;

CREATE INDEX enriched_authors_surname_initial ON enriched_authors
    (author_surname_key(normalized_name), author_initial_key(normalized_name));
