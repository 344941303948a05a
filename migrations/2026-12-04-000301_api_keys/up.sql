-- Personal API keys: a user's credentials for scripts and the CLI.
--
-- Only the SHA-256 of the secret is kept; the secret itself is shown once,
-- when the key is made. Every use looks the key up here (no cache), so a key
-- revoked or expired is refused at once by every instance. A key is revoked,
-- never deleted: its id stays named by the ledger rows it paid for.

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    name          text NOT NULL CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    -- The start of the secret (`agk_` and 8 more characters), to tell keys apart.
    prefix        text NOT NULL,
    secret_sha256 text NOT NULL CONSTRAINT api_keys_secret_unique UNIQUE,
    scopes        text[] NOT NULL CONSTRAINT api_keys_scopes_known CHECK (
        cardinality(scopes) >= 1 AND scopes <@ ARRAY['chat', 'balance:read', 'history:read']::text[]),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- The key list of a user, newest first.
CREATE INDEX api_keys_user_newest_first ON api_keys (user_id, created_at DESC, id DESC);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE api_keys FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
