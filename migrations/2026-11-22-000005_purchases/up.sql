-- Purchases started through askgate's hosted checkout, tracked from "pending"
-- to "credited" (or "failed") so the success page can show when the tokens
-- arrived. The ledger (transactions, stripe_events) stays the record of money;
-- this table only follows a checkout.
CREATE TABLE purchases (
    checkout_session_id text PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    package             text NOT NULL CONSTRAINT purchases_package_known CHECK (package IN ('100', '250', '600')),
    -- Known once Stripe reports the payment.
    payment_intent_id   text,
    status              text NOT NULL DEFAULT 'pending'
                        CONSTRAINT purchases_status_known CHECK (status IN ('pending', 'credited', 'failed')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX purchases_user_id_idx ON purchases (user_id);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE purchases ENABLE ROW LEVEL SECURITY;
