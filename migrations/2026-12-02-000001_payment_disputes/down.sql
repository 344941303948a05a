INSERT INTO pending_reversals (payment_intent_id, reason)
SELECT payment_intent_id, 'dispute' FROM payment_disputes
 WHERE status = 'open' AND taken IS NULL
ON CONFLICT DO NOTHING;
ALTER TABLE purchase_reversals DROP COLUMN refunded_due;
DROP TABLE payment_disputes;
