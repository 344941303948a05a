-- Device-code sign-ins (RFC 8628) askgate started and not yet finished: how
-- often the device may poll and until when. Kept here, not in a process, so
-- that every instance paces a device alike (a poll sooner than `interval`
-- answers slow_down and adds 5 seconds) and a device code askgate never
-- handed out is refused without asking the identity provider. Only the
-- SHA-256 of the device code is stored: the code is a credential.
CREATE TABLE device_codes (
    code_hash        bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    interval_seconds integer NOT NULL CHECK (interval_seconds BETWEEN 0 AND 3600),
    expires_at       timestamptz NOT NULL,
    last_poll_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);

-- Closed to Supabase's data API, like every table (see
-- 2026-12-01-000020_tables_closed_by_default).
ALTER TABLE device_codes ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE device_codes FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
