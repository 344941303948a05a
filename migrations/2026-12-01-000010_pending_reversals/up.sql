-- A refund or dispute that Stripe delivers before the payment's credit. Stripe
-- does not promise any order, so the reversal is kept here and applied in the
-- same transaction as the credit when it arrives: the balance then ends where
-- the money ends. One row per payment; the reversal itself is still at most
-- once (purchase_reversals).
CREATE TABLE pending_reversals (
    payment_intent_id text PRIMARY KEY,
    reason            text NOT NULL,
    event_id          text,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE pending_reversals ENABLE ROW LEVEL SECURITY;
