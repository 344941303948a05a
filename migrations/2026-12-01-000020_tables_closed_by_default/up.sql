-- Every table in `public` is closed to Supabase's data API by default.
--
-- On a Supabase project the roles `anon` and `authenticated` are granted every
-- new table in `public` (default privileges), and PostgREST answers the public
-- anon key with them. Without row-level security a fresh deployment would let
-- anyone holding that key rewrite users, roles and the ledger until
-- sql/20_rls.sql runs. This migration enables row-level security on every
-- table (no policy means no row for those roles) and revokes their table and
-- sequence privileges, where the roles exist. sql/20_rls.sql later grants back
-- exactly what the data API may use.
--
-- askgate connects as the tables' owner: RLS is enabled, not forced, so the
-- owner is unaffected.
--
-- A migration that adds a table must enable RLS on it and revoke the same
-- privileges (see sql/README.md); the test
-- `every_table_in_public_has_row_level_security` in crates/postgres/tests/rls.rs
-- fails while any table in `public` lacks it.

DO $$
DECLARE
    t record;
    r text;
BEGIN
    FOR t IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t.relname);
    END LOOP;

    -- Functions created later are not callable by PUBLIC (anon included).
    ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', r);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', r);
            EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM %I', r);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I', r);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', r);
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
