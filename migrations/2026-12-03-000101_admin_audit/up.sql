-- Administration: who did what to whom, and accounts an admin switched off.
--
-- `admin_audit` is append-only like the ledger: a trigger refuses UPDATE,
-- DELETE and TRUNCATE whoever asks, so an admin action once recorded stays
-- as it was. Each row is written in the same transaction as the change it
-- records.

CREATE TABLE admin_audit (
    id          uuid PRIMARY KEY,
    actor_id    uuid NOT NULL REFERENCES users (id),
    action      text NOT NULL CONSTRAINT admin_audit_action_known CHECK (action IN (
        'grant', 'adjustment', 'disable', 'enable', 'role_change',
        'domain_create', 'domain_update', 'domain_delete')),
    target_type text NOT NULL CONSTRAINT admin_audit_target_known CHECK (target_type IN ('user', 'domain')),
    target_id   uuid NOT NULL,
    before      jsonb,
    after       jsonb,
    reason      text CONSTRAINT admin_audit_reason_length CHECK (reason IS NULL OR char_length(reason) BETWEEN 1 AND 500),
    request_id  text,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The audit page's order (newest first) and its filters.
CREATE INDEX admin_audit_newest_first ON admin_audit (created_at DESC, id DESC);
CREATE INDEX admin_audit_target ON admin_audit (target_id, created_at DESC);
CREATE INDEX admin_audit_actor ON admin_audit (actor_id, created_at DESC);

CREATE FUNCTION admin_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER admin_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();

CREATE TRIGGER admin_audit_no_truncate
    BEFORE TRUNCATE ON admin_audit
    FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();

-- Set while an admin has switched the account off; its tokens and history stay.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
-- True when the role came from the sign-in (ADMIN_EMAILS, ADMIN_OBJECT_IDS,
-- the Entra app role): the next sign-in decides it again, and admins cannot
-- change it. False: the role an admin gave stays across sign-ins.
ALTER TABLE users ADD COLUMN role_from_sign_in boolean NOT NULL DEFAULT true;

-- The admin list: most recent sign-in first (creation for who never signed in).
CREATE INDEX users_last_seen ON users ((COALESCE(last_login, created_at)) DESC, id DESC);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE admin_audit ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE admin_audit FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
