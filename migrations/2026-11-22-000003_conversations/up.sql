-- Conversations a user keeps with AskAT&T or AskDocs, their messages, and the
-- durable Idempotency-Key records of the chat endpoints.

CREATE TABLE conversations (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service_type text NOT NULL CONSTRAINT conversations_service_known CHECK (service_type IN ('askatt', 'askdocs')),
    -- No cascade: a domain that conversations refer to is deactivated, not deleted.
    domain_id    uuid REFERENCES domains (id),
    title        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A user's conversations, most recently updated first (the list's cursor order).
CREATE INDEX conversations_user_recent ON conversations (user_id, updated_at DESC, id DESC);
CREATE INDEX conversations_domain ON conversations (domain_id) WHERE domain_id IS NOT NULL;

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author          text NOT NULL CONSTRAINT messages_author_known CHECK (author IN ('user', 'assistant')),
    content         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX messages_conversation_order ON messages (conversation_id, created_at, id);

-- One row per (user, Idempotency-Key). The request's fingerprint is kept as a
-- SHA-256 (hex), never the message itself. Rows older than 24 hours are
-- treated as absent and swept.
CREATE TABLE idempotency_keys (
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key                text NOT NULL,
    fingerprint_sha256 text NOT NULL CONSTRAINT idempotency_keys_fingerprint_hex CHECK (fingerprint_sha256 ~ '^[0-9a-f]{64}$'),
    state              text NOT NULL DEFAULT 'in_progress' CONSTRAINT idempotency_keys_state_known CHECK (state IN ('in_progress', 'completed')),
    response_status    smallint,
    response_body      jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_completed_has_response CHECK (
        (state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL AND completed_at IS NOT NULL)
    )
);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (created_at);

-- Server-side only until sql/20_rls.sql grants otherwise.
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
