-- upgrade_2026_11_existing_users.sql — bring an existing database whose
-- `users` table predates askgate's schema up to the schema of
-- migrations/2026-11-22-000001_initial, keeping every row.
--
-- Typical starting point: users(id uuid PRIMARY KEY, email text UNIQUE,
-- display_name text, created_at timestamptz) and no transactions, domains or
-- stripe_events tables. What it does:
--   * first drops the users policies other than SELECT (an old "update own
--     row" policy would otherwise cover tokens and role) and revokes anon's
--     and authenticated's privileges on users;
--   * adds the missing users columns: azure_ad_id, tokens (0 for everyone,
--     never negative), role ('user' for everyone), updated_at, last_login;
--   * gives existing rows placeholders where askgate needs a value:
--       azure_ad_id = 'legacy:' || id        (no Azure AD object id is known;
--                                              the ':' never occurs in a real one)
--       email       = id || '@legacy.invalid' (only rows whose email was NULL;
--                                              .invalid can never be delivered)
--       created_at  = now()                   (only where it was NULL)
--     Sign-in must link a legacy row to its Azure AD identity (match by email
--     while azure_ad_id starts with 'legacy:'); until then such a user is
--     unknown to Azure AD sign-in and email matching is the only way back;
--   * converts users columns of another type (e.g. varchar, timestamp) to the
--     migration's types, sets the defaults and NOT NULLs and adds the
--     constraints (unique azure_ad_id and email, tokens >= 0, known role);
--   * creates domains, transactions (with its indexes and the append-only
--     triggers) and stripe_events where they do not exist yet, and stops,
--     changing nothing, when an existing one lacks a column askgate needs;
--   * records the initial migration as applied, so askgate's start-up
--     migration step applies only the later ones.
-- Columns askgate does not know are kept as they are; so is a default on id.
-- It stops, changing nothing, when data cannot meet the new rules (duplicate
-- emails, a role other than 'user'/'admin', negative tokens): fix those rows
-- and run it again.
--
-- Idempotent (a second run changes nothing) and one transaction: it applies
-- completely or not at all. Needs PostgreSQL 14 or later. Run sql/20_rls.sql
-- afterwards on Supabase.

BEGIN;

SET LOCAL search_path = public;

-- Two operators running it at once wait for each other.
SELECT pg_advisory_xact_lock(hashtext('askgate upgrade_2026_11_existing_users'));

-- users ----------------------------------------------------------------------

-- A database without any users table gets the current one directly.
CREATE TABLE IF NOT EXISTS users (
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

-- Before tokens and role exist: policies an old setup may have on users
-- ("update own row", FOR ALL, FOR INSERT) would cover them the moment they are
-- added, letting a user set their own balance and role through the data API.
-- Every users policy other than SELECT is dropped and the table is closed to
-- the Supabase roles; sql/20_rls.sql then enables row-level security and
-- grants back exactly display_name.
DO $$
DECLARE
    old_policy record;
    r text;
BEGIN
    FOR old_policy IN
        SELECT polname FROM pg_policy
        WHERE polrelid = 'public.users'::regclass AND polcmd <> 'r'
    LOOP
        EXECUTE format('DROP POLICY %I ON public.users', old_policy.polname);
    END LOOP;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE public.users FROM %I', r);
        END IF;
    END LOOP;
END;
$$;

ALTER TABLE users
    ADD COLUMN IF NOT EXISTS azure_ad_id  text,
    ADD COLUMN IF NOT EXISTS email        text,
    ADD COLUMN IF NOT EXISTS display_name text,
    ADD COLUMN IF NOT EXISTS tokens       integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS role         text NOT NULL DEFAULT 'user',
    ADD COLUMN IF NOT EXISTS created_at   timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS updated_at   timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS last_login   timestamptz;

-- Columns that exist with another type take the migration's type.
DO $$
DECLARE
    col record;
    actual text;
BEGIN
    SELECT format_type(atttypid, atttypmod) INTO actual
    FROM pg_attribute
    WHERE attrelid = 'public.users'::regclass AND attname = 'id' AND NOT attisdropped;
    IF actual IS DISTINCT FROM 'uuid' THEN
        RAISE EXCEPTION 'users.id is %, askgate needs uuid: convert it (and what references it) first', actual;
    END IF;

    FOR col IN
        SELECT * FROM (VALUES
            ('azure_ad_id', 'text'),
            ('email', 'text'),
            ('display_name', 'text'),
            ('tokens', 'integer'),
            ('role', 'text'),
            ('created_at', 'timestamp with time zone'),
            ('updated_at', 'timestamp with time zone'),
            ('last_login', 'timestamp with time zone')
        ) AS c (name, type)
    LOOP
        SELECT format_type(atttypid, atttypmod) INTO actual
        FROM pg_attribute
        WHERE attrelid = 'public.users'::regclass AND attname = col.name AND NOT attisdropped;
        IF actual IS DISTINCT FROM col.type THEN
            EXECUTE format('ALTER TABLE public.users ALTER COLUMN %I TYPE %s USING %I::%s',
                           col.name, col.type, col.name, col.type);
        END IF;
    END LOOP;
END;
$$;

UPDATE users SET azure_ad_id = 'legacy:' || id WHERE azure_ad_id IS NULL;
UPDATE users SET email = id || '@legacy.invalid' WHERE email IS NULL;
UPDATE users SET tokens = 0 WHERE tokens IS NULL;
UPDATE users SET role = 'user' WHERE role IS NULL;
UPDATE users SET created_at = now() WHERE created_at IS NULL;
UPDATE users SET updated_at = created_at WHERE updated_at IS NULL;

ALTER TABLE users
    ALTER COLUMN azure_ad_id SET NOT NULL,
    ALTER COLUMN email SET NOT NULL,
    ALTER COLUMN tokens SET DEFAULT 0,
    ALTER COLUMN tokens SET NOT NULL,
    ALTER COLUMN role SET DEFAULT 'user',
    ALTER COLUMN role SET NOT NULL,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET NOT NULL;

DO $$
DECLARE
    wanted record;
BEGIN
    -- Unique constraints, named as CREATE TABLE ... UNIQUE names them, unless
    -- the column already has a unique constraint (or is the primary key).
    FOR wanted IN
        SELECT * FROM (VALUES
            ('azure_ad_id', 'users_azure_ad_id_key'),
            ('email', 'users_email_key')
        ) AS u (col, name)
    LOOP
        IF NOT EXISTS (
            SELECT 1
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attname = wanted.col
            WHERE c.conrelid = 'public.users'::regclass
              AND c.contype IN ('u', 'p')
              AND c.conkey = ARRAY[a.attnum]
        ) THEN
            EXECUTE format('ALTER TABLE public.users ADD CONSTRAINT %I UNIQUE (%I)', wanted.name, wanted.col);
        END IF;
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.users'::regclass AND conname = 'users_tokens_not_negative') THEN
        ALTER TABLE public.users ADD CONSTRAINT users_tokens_not_negative CHECK (tokens >= 0);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.users'::regclass AND conname = 'users_role_known') THEN
        ALTER TABLE public.users ADD CONSTRAINT users_role_known CHECK (role IN ('user', 'admin'));
    END IF;
END;
$$;

-- domains, transactions, stripe_events: as in the migration -------------------

CREATE TABLE IF NOT EXISTS domains (
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

CREATE TABLE IF NOT EXISTS transactions (
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

CREATE TABLE IF NOT EXISTS stripe_events (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Tables that already existed must have what askgate reads and writes.
DO $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(format('%s.%s', e.tbl, e.col), ', ' ORDER BY e.tbl, e.col) INTO missing
    FROM (VALUES
        ('domains', 'id'), ('domains', 'name'), ('domains', 'display_name'),
        ('domains', 'description'), ('domains', 'api_endpoint'), ('domains', 'configuration'),
        ('domains', 'is_active'), ('domains', 'created_by'), ('domains', 'created_at'),
        ('domains', 'updated_at'),
        ('transactions', 'id'), ('transactions', 'user_id'), ('transactions', 'transaction_type'),
        ('transactions', 'amount'), ('transactions', 'balance_after'),
        ('transactions', 'stripe_payment_intent_id'), ('transactions', 'idempotency_key'),
        ('transactions', 'service_type'), ('transactions', 'domain_id'),
        ('transactions', 'refunds_transaction_id'), ('transactions', 'metadata'),
        ('transactions', 'created_at'),
        ('stripe_events', 'event_id'), ('stripe_events', 'event_type'),
        ('stripe_events', 'received_at')
    ) AS e (tbl, col)
    WHERE NOT EXISTS (
        SELECT 1 FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.table_name = e.tbl AND c.column_name = e.col
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'upgrade stopped, nothing changed: existing tables lack columns askgate needs: %', missing;
    END IF;
END;
$$;

CREATE INDEX IF NOT EXISTS transactions_user_newest_first ON transactions (user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS transactions_payment_intent ON transactions (stripe_payment_intent_id) WHERE stripe_payment_intent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS transactions_domain ON transactions (domain_id) WHERE domain_id IS NOT NULL;

-- The ledger is append-only: rows are never updated or deleted, whoever asks.
CREATE OR REPLACE FUNCTION transactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transactions is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE TRIGGER transactions_no_update_or_delete
    BEFORE UPDATE OR DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_append_only();

CREATE OR REPLACE TRIGGER transactions_no_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_append_only();

-- askgate's start-up migration step: the initial migration is now applied.
CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
    version VARCHAR(50) PRIMARY KEY NOT NULL,
    run_on  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO __diesel_schema_migrations (version) VALUES ('20261122000001')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
