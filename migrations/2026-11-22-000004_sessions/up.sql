-- Sign-in sessions and their rotating refresh tokens.
--
-- A session is one family of refresh tokens: every refresh spends the presented
-- token (rotated_at) and adds its successor. Presenting a spent token again
-- means it was copied, so the whole session is revoked. Only SHA-256 hashes of
-- refresh tokens are stored; the `sid` claim of access tokens is sessions.id.
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_reason text,
    CONSTRAINT sessions_revocation_has_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token, lowercase hex.
    token_hash text PRIMARY KEY CONSTRAINT refresh_tokens_hash_is_sha256_hex CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- Set when the token was spent on a refresh.
    rotated_at timestamptz
);

CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- Server-side only: no Supabase role may read or write them (see sql/20_rls.sql).
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
