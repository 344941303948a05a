-- A paid purchase whose user no longer exists (deleted between checkout and
-- payment). No token can be credited, and answering Stripe with an error would
-- only make it retry the same event for days, so the payment is recorded here
-- once as the final outcome: the operator refunds it in the Stripe dashboard.
-- No foreign key on user_id: the user is exactly what is missing.
CREATE TABLE orphaned_payments (
    payment_intent_id text PRIMARY KEY,
    user_id           uuid NOT NULL,
    tokens            integer NOT NULL CONSTRAINT orphaned_payments_tokens_positive CHECK (tokens > 0),
    event_id          text,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE orphaned_payments ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE orphaned_payments FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
