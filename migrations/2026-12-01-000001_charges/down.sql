DROP FUNCTION askgate_recover_charges(interval, integer);
DROP FUNCTION askgate_refund_charge(uuid, uuid, jsonb);
DROP FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, jsonb);
DROP FUNCTION askgate_reserve_charge(uuid, uuid, uuid, text, uuid, jsonb, text, text);
ALTER TABLE idempotency_keys DROP COLUMN charge_id;
DROP TABLE charges;
