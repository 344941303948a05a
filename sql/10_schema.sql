-- 10_schema.sql — askgate's schema for a fresh Supabase project (or any empty
-- PostgreSQL database).
--
-- The migrations in migrations/ are the source of truth; this file repeats
-- migrations/2026-11-22-000001_initial/up.sql statement for statement.
-- crates/postgres/tests/it/sql_scripts.rs applies both to fresh databases and
-- fails when their tables, columns, defaults, constraints, indexes or triggers
-- differ, so the two cannot drift apart unnoticed.
--
-- It also records that migration as applied in diesel's bookkeeping table, so
-- askgate, which applies its embedded migrations at start-up, does not try to
-- create these tables a second time and only applies the later migrations.
--
-- Run it once, as the role that should own the tables (on Supabase: postgres),
-- then sql/20_rls.sql. One transaction: it applies completely or not at all.

BEGIN;

-- askgate's core schema: users, the append-only token ledger, AskDocs domains,
-- and the Stripe events already processed.

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    azure_ad_id  text NOT NULL UNIQUE,
    email        text NOT NULL UNIQUE,
    display_name text,
    tokens       integer NOT NULL DEFAULT 0 CONSTRAINT users_tokens_not_negative CHECK (tokens >= 0),
    role         text NOT NULL DEFAULT 'user' CONSTRAINT users_role_known CHECK (role IN ('user', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    last_login   timestamptz
);

CREATE TABLE domains (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE CONSTRAINT domains_name_slug CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    display_name  text NOT NULL CONSTRAINT domains_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 100),
    description   text,
    api_endpoint  text,
    configuration jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT domains_configuration_object CHECK (jsonb_typeof(configuration) = 'object'),
    is_active     boolean NOT NULL DEFAULT true,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    id                       uuid PRIMARY KEY,
    user_id                  uuid NOT NULL REFERENCES users (id),
    transaction_type         text NOT NULL CONSTRAINT transactions_type_known
        CHECK (transaction_type IN ('purchase', 'consumption', 'refund', 'grant', 'adjustment', 'reversal')),
    amount                   integer NOT NULL CONSTRAINT transactions_amount_not_zero CHECK (amount <> 0),
    balance_after            integer NOT NULL CONSTRAINT transactions_balance_not_negative CHECK (balance_after >= 0),
    stripe_payment_intent_id text,
    idempotency_key          text UNIQUE,
    service_type             text CONSTRAINT transactions_service_known CHECK (service_type IN ('askatt', 'askdocs')),
    domain_id                uuid REFERENCES domains (id),
    -- For refunds: the consumption given back (at most one refund each).
    refunds_transaction_id   uuid UNIQUE REFERENCES transactions (id),
    metadata                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT transactions_sign_matches_type CHECK (
        (transaction_type IN ('purchase', 'refund', 'grant') AND amount > 0)
        OR (transaction_type IN ('consumption', 'reversal') AND amount < 0)
        OR transaction_type = 'adjustment'
    )
);

CREATE INDEX transactions_user_newest_first ON transactions (user_id, created_at DESC, id DESC);
CREATE INDEX transactions_payment_intent ON transactions (stripe_payment_intent_id) WHERE stripe_payment_intent_id IS NOT NULL;
CREATE INDEX transactions_domain ON transactions (domain_id) WHERE domain_id IS NOT NULL;

-- The ledger is append-only: rows are never updated or deleted, whoever asks.
CREATE FUNCTION transactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transactions is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER transactions_no_update_or_delete
    BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_append_only();

CREATE TRIGGER transactions_no_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_append_only();

-- Stripe events already handled: a redelivered event changes nothing.
CREATE TABLE stripe_events (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- askgate's start-up migration step: the initial migration is already applied.
CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
    version VARCHAR(50) PRIMARY KEY NOT NULL,
    run_on  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO __diesel_schema_migrations (version) VALUES ('20261122000001')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
