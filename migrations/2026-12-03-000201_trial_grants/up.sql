-- The trial tokens (`TRIAL_TOKENS`) people got at their first sign-in: one row
-- per trial, written in the transaction that creates the user and credits the
-- trial's `grant` row. The two unique keys make a trial happen at most once per
-- Entra identity and once per e-mail address, ever: a person whose address
-- moves to a new identity, or whose identity gets a new address, gets none
-- again, and first sign-ins racing each other give exactly one.
CREATE TABLE trial_grants (
    azure_ad_id    text PRIMARY KEY,
    email          text NOT NULL CONSTRAINT trial_grants_email_key UNIQUE,
    user_id        uuid NOT NULL REFERENCES users (id),
    transaction_id uuid NOT NULL UNIQUE REFERENCES transactions (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Closed to Supabase's data API, like every table (see
-- 2026-12-01-000020_tables_closed_by_default).
ALTER TABLE trial_grants ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE trial_grants FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
