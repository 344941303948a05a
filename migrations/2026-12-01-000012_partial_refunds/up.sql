-- A payment can be given back in steps: a partial refund takes its pro-rata
-- share of the purchased tokens, a later refund or a dispute what is due on top.
-- `due` is how many tokens the reversals of this payment owe back so far (at most
-- `purchased`); each one is either taken (`reversed`) or was already spent
-- (`shortfall`). `transaction_id` is the latest `reversal` ledger row.
ALTER TABLE purchase_reversals ADD COLUMN due integer;
UPDATE purchase_reversals SET due = purchased;
ALTER TABLE purchase_reversals ALTER COLUMN due SET NOT NULL;
ALTER TABLE purchase_reversals DROP CONSTRAINT purchase_reversals_adds_up;
ALTER TABLE purchase_reversals
    ADD CONSTRAINT purchase_reversals_due_in_range CHECK (due BETWEEN 0 AND purchased),
    ADD CONSTRAINT purchase_reversals_adds_up CHECK (reversed + shortfall = due);

-- A refund remembered before the credit keeps the largest share seen (Stripe's
-- refunded amount only grows); NULL amounts mean the whole payment.
ALTER TABLE pending_reversals
    ADD COLUMN refunded_cents bigint,
    ADD COLUMN paid_cents bigint,
    ADD CONSTRAINT pending_reversals_share_in_range CHECK (
        (refunded_cents IS NULL AND paid_cents IS NULL)
        OR (paid_cents > 0 AND refunded_cents BETWEEN 0 AND paid_cents)
    );
