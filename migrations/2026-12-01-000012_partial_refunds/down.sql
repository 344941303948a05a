ALTER TABLE pending_reversals
    DROP CONSTRAINT pending_reversals_share_in_range,
    DROP COLUMN paid_cents,
    DROP COLUMN refunded_cents;
ALTER TABLE purchase_reversals
    DROP CONSTRAINT purchase_reversals_adds_up,
    DROP CONSTRAINT purchase_reversals_due_in_range;
ALTER TABLE purchase_reversals ADD CONSTRAINT purchase_reversals_adds_up CHECK (shortfall = purchased - reversed);
ALTER TABLE purchase_reversals DROP COLUMN due;
