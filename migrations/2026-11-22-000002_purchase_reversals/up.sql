-- Each Stripe payment is reversed (refund or dispute) at most once. The ledger's
-- `reversal` row cannot record a reversal that took nothing (a user who already
-- spent every token: amount must be < 0), so the fact itself lives here. Without
-- it, a second refund or dispute event for the same payment would take tokens the
-- user bought later.
CREATE TABLE purchase_reversals (
    payment_intent_id text PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id),
    purchased         integer NOT NULL CONSTRAINT purchase_reversals_purchased_positive CHECK (purchased > 0),
    reversed          integer NOT NULL CONSTRAINT purchase_reversals_reversed_in_range CHECK (reversed BETWEEN 0 AND purchased),
    shortfall         integer NOT NULL CONSTRAINT purchase_reversals_adds_up CHECK (shortfall = purchased - reversed),
    reason            text NOT NULL,
    -- The `reversal` ledger row; NULL when nothing could be taken.
    transaction_id    uuid UNIQUE REFERENCES transactions (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE purchase_reversals ENABLE ROW LEVEL SECURITY;
