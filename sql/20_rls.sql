-- 20_rls.sql — row-level security and grants for Supabase's anon and
-- authenticated roles (PostgREST, supabase-js, anyone holding a session JWT).
--
-- Apply after sql/10_schema.sql (or the upgrade script, or askgate's own
-- migrations), as the role that owns the tables (on Supabase: postgres).
-- Idempotent: it revokes, re-grants and re-creates its policies, so it can be
-- re-applied after every schema change. One transaction.
--
-- What a JWT holder may do (auth.uid() = the JWT's sub = users.id):
--   users          read their own row; change only display_name of it
--                  (never tokens, role, azure_ad_id, email, timestamps)
--   transactions   read their own rows; never insert, update or delete
--   domains        read active ones open to them (allowed_roles empty, or
--                  sharing an entry with their entra_roles or entra_groups);
--                  admins (users.role = 'admin') read all and insert, update,
--                  delete
--   stripe_events  nothing
--   anon           nothing at all
--
-- The askgate backend is not subject to any of this: it connects as a role
-- that bypasses RLS. Because RLS is FORCEd below, owning the tables is not
-- enough; the role needs BYPASSRLS (or superuser). On Supabase that is the
-- `postgres` role (BYPASSRLS) or `service_role`; on plain PostgreSQL a
-- superuser or a role given BYPASSRLS. public.is_admin() runs with the
-- privileges of the role that runs this script and so needs the same.
-- Even the backend cannot UPDATE, DELETE or TRUNCATE transactions: a trigger
-- refuses it whoever asks.

BEGIN;

-- Row-level security on; FORCE so that views or SECURITY DEFINER functions
-- owned by a non-BYPASSRLS owner cannot leak rows around the policies.
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users FORCE ROW LEVEL SECURITY;
ALTER TABLE public.transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.transactions FORCE ROW LEVEL SECURITY;
ALTER TABLE public.domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.domains FORCE ROW LEVEL SECURITY;
ALTER TABLE public.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.stripe_events FORCE ROW LEVEL SECURITY;

-- Supabase grants ALL on every new table in public to anon, authenticated and
-- service_role. Start from nothing (this also drops column-level grants) and
-- hand out exactly what the policies below need.
REVOKE ALL ON TABLE public.users, public.transactions, public.domains, public.stripe_events
    FROM PUBLIC, anon, authenticated, service_role;

-- Server-side tables: no JWT holder may touch them. (Whoever could write
-- diesel's bookkeeping could make askgate skip or repeat migrations.) A table
-- a later migration adds belongs either here or under its own policies below;
-- crates/postgres/tests/it/sql_scripts.rs fails until it is in one of the two.
DO $$
DECLARE
    server_only text;
BEGIN
    FOREACH server_only IN ARRAY ARRAY['__diesel_schema_migrations', 'purchase_reversals', 'pending_reversals', 'sessions', 'refresh_tokens', 'purchases', 'conversations', 'messages', 'idempotency_keys', 'charges', 'orphaned_payments', 'payment_disputes', 'trial_grants'] LOOP
        IF to_regclass('public.' || quote_ident(server_only)) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON TABLE public.%I FROM PUBLIC, anon, authenticated', server_only);
            EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', server_only);
        END IF;
    END LOOP;
END;
$$;

-- Tables created later (new migrations) by the role running this script are
-- not exposed to JWT holders until someone grants them deliberately.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated;
-- Functions created later are not callable by the anon key: PostgreSQL grants
-- EXECUTE to PUBLIC (which anon is part of) unless this global default is
-- taken away, and Supabase grants it to anon in public explicitly.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM anon;

-- Is the signed-in user an admin? SECURITY DEFINER so that policies can ask
-- without the caller being able to read other users' rows; an empty
-- search_path so that nothing the caller creates can shadow what it calls.
CREATE OR REPLACE FUNCTION public.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.users WHERE id = auth.uid() AND role = 'admin'
  )
$$;
REVOKE ALL ON FUNCTION public.is_admin() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.is_admin() TO authenticated, service_role;

-- The append-only trigger function is nobody's business but the trigger's.
REVOKE ALL ON FUNCTION public.transactions_append_only() FROM PUBLIC, anon, authenticated;

-- users ----------------------------------------------------------------------
GRANT SELECT ON TABLE public.users TO authenticated;
-- Column-level: an UPDATE naming any other column is refused outright.
GRANT UPDATE (display_name) ON TABLE public.users TO authenticated;

DROP POLICY IF EXISTS users_select_own ON public.users;
CREATE POLICY users_select_own ON public.users
    FOR SELECT TO authenticated
    USING (id = (SELECT auth.uid()));

DROP POLICY IF EXISTS users_update_own ON public.users;
CREATE POLICY users_update_own ON public.users
    FOR UPDATE TO authenticated
    USING (id = (SELECT auth.uid()))
    WITH CHECK (id = (SELECT auth.uid()));

-- transactions ---------------------------------------------------------------
GRANT SELECT ON TABLE public.transactions TO authenticated;

DROP POLICY IF EXISTS transactions_select_own ON public.transactions;
CREATE POLICY transactions_select_own ON public.transactions
    FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));

-- domains --------------------------------------------------------------------
-- Column-level SELECT: a domain's upstream endpoint and configuration are for
-- the server only, never readable through the data API.
REVOKE SELECT ON TABLE public.domains FROM authenticated;
GRANT SELECT (id, name, display_name, description, is_active, created_by, created_at, updated_at)
    ON TABLE public.domains TO authenticated;
GRANT INSERT, UPDATE, DELETE ON TABLE public.domains TO authenticated;

-- May the signed-in user see a domain open to `allowed`? Empty: everyone;
-- otherwise one of their Entra app roles or groups (of their last sign-in,
-- kept by askgate) must be in it. PL/pgSQL, so that the script also applies
-- to a schema that predates those columns (the policy below then does not
-- call it). SECURITY DEFINER with an empty search_path, like is_admin().
CREATE OR REPLACE FUNCTION public.may_see_domain(allowed text[]) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  RETURN cardinality(allowed) = 0 OR EXISTS (
    SELECT 1 FROM public.users u
    WHERE u.id = auth.uid() AND (u.entra_roles && allowed OR u.entra_groups && allowed)
  );
END;
$$;
REVOKE ALL ON FUNCTION public.may_see_domain(text[]) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.may_see_domain(text[]) TO authenticated, service_role;

-- A domain restricted to app roles or groups is read only by their holders
-- (and admins), as askgate's own API decides; a schema without
-- `allowed_roles` (before askgate's later migrations) gets the plain policy.
DROP POLICY IF EXISTS domains_select_active_or_admin ON public.domains;
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'domains' AND column_name = 'allowed_roles'
    ) THEN
        CREATE POLICY domains_select_active_or_admin ON public.domains
            FOR SELECT TO authenticated
            USING ((is_active AND public.may_see_domain(allowed_roles)) OR (SELECT public.is_admin()));
    ELSE
        CREATE POLICY domains_select_active_or_admin ON public.domains
            FOR SELECT TO authenticated
            USING (is_active OR (SELECT public.is_admin()));
    END IF;
END;
$$;

DROP POLICY IF EXISTS domains_insert_admin ON public.domains;
CREATE POLICY domains_insert_admin ON public.domains
    FOR INSERT TO authenticated
    WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS domains_update_admin ON public.domains;
CREATE POLICY domains_update_admin ON public.domains
    FOR UPDATE TO authenticated
    USING ((SELECT public.is_admin()))
    WITH CHECK ((SELECT public.is_admin()));

DROP POLICY IF EXISTS domains_delete_admin ON public.domains;
CREATE POLICY domains_delete_admin ON public.domains
    FOR DELETE TO authenticated
    USING ((SELECT public.is_admin()));

-- stripe_events: RLS on, no policy, no grant: nothing for anon/authenticated.

-- service_role (server-side keys; BYPASSRLS) ---------------------------------
-- What the backend needs, should it use service_role: transactions only grow.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.users, public.domains, public.stripe_events
    TO service_role;
GRANT SELECT, INSERT ON TABLE public.transactions TO service_role;

COMMIT;
