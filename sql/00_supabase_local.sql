-- 00_supabase_local.sql — ONLY for plain PostgreSQL (local runs and tests).
--
-- Never run this on Supabase: a Supabase project already has everything below.
-- It emulates just what askgate's RLS policies rely on, using Supabase's own
-- definitions:
--   * the roles PostgREST switches to: anon, authenticated (NOLOGIN NOINHERIT)
--     and service_role (NOLOGIN NOINHERIT BYPASSRLS);
--   * the auth schema with auth.uid(), auth.role() and auth.jwt(), which read
--     the JWT claims PostgREST puts into request.jwt.claims (or, in older
--     PostgREST versions, request.jwt.claim.<name>);
--   * the privileges Supabase hands out by default: USAGE on public and auth,
--     and default privileges that grant every new table, sequence and function
--     in public to anon, authenticated and service_role. sql/20_rls.sql has to
--     take those away again, so emulating them keeps the tests honest.
--
-- A request as a signed-in user then looks like this (what PostgREST does):
--   BEGIN;
--   SET LOCAL ROLE authenticated;
--   SELECT set_config('request.jwt.claims', '{"sub":"<users.id>","role":"authenticated"}', true);
--   ... queries ...
--   COMMIT;
--
-- Idempotent: safe to run twice, and in several databases of one cluster at
-- the same time (roles are cluster-wide, so a concurrent creator is tolerated).

DO $$
DECLARE
    wanted record;
BEGIN
    FOR wanted IN
        SELECT * FROM (VALUES
            ('anon', false),
            ('authenticated', false),
            ('service_role', true)
        ) AS r (name, bypass_rls)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', wanted.name);
            EXCEPTION
                -- Another session created it between our check and our CREATE.
                WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        IF wanted.bypass_rls
           AND NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = wanted.name) THEN
            EXECUTE format('ALTER ROLE %I BYPASSRLS', wanted.name);
        END IF;
    END LOOP;
END;
$$;

CREATE SCHEMA IF NOT EXISTS auth;

-- The signed-in user's id: the JWT's `sub`, or NULL when there is none.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $$
  SELECT
    coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

-- The JWT's `role` claim ('anon', 'authenticated', 'service_role').
CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT
    coalesce(
      nullif(current_setting('request.jwt.claim.role', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;

-- All the JWT's claims.
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT
    coalesce(
      nullif(current_setting('request.jwt.claim', true), ''),
      nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO anon, authenticated, service_role;

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- Supabase's defaults for objects the current role creates in public.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
