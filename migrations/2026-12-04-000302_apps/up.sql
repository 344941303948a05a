-- Registered apps: other teams' backends that verify askgate users, read and
-- spend their tokens and sell them more, with credentials an admin issues.
--
-- An app's secrets are kept as SHA-256 hashes only. Rotating a secret keeps
-- the previous one valid until `expires_at` (the overlap), so an app can roll
-- its deployment without a failed call; the current secret has no expiry.
-- Apps are revoked, never deleted: the ledger rows they wrote name them.

CREATE TABLE apps (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL CONSTRAINT apps_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    allowed_origins      text[] NOT NULL DEFAULT '{}',
    allowed_return_urls  text[] NOT NULL DEFAULT '{}',
    scopes               text[] NOT NULL CONSTRAINT apps_scopes_known CHECK (
        scopes <@ ARRAY['credits:consume', 'balance:read', 'checkout:create', 'token:introspect']::text[]),
    daily_limit_per_user integer CONSTRAINT apps_daily_limit_positive CHECK (daily_limit_per_user IS NULL OR daily_limit_per_user >= 1),
    created_by           uuid NOT NULL REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz
);

CREATE TABLE app_secrets (
    id            uuid PRIMARY KEY,
    app_id        uuid NOT NULL REFERENCES apps (id),
    secret_sha256 text NOT NULL CONSTRAINT app_secrets_secret_unique UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- NULL for the current secret; set when a rotation retires it.
    expires_at    timestamptz
);

CREATE INDEX app_secrets_app ON app_secrets (app_id);

-- App actions join the admin audit log.
ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_action_known;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_action_known CHECK (action IN (
    'grant', 'adjustment', 'disable', 'enable', 'role_change',
    'domain_create', 'domain_update', 'domain_delete',
    'app_create', 'app_update', 'app_revoke', 'app_rotate_secret'));
ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_target_known;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_target_known CHECK (target_type IN ('user', 'domain', 'app'));

-- Server-side bookkeeping only: no Supabase role may read or write them.
ALTER TABLE apps ENABLE ROW LEVEL SECURITY;
ALTER TABLE app_secrets ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE apps, app_secrets FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
