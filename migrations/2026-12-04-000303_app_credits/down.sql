DROP FUNCTION askgate_refund_for_app(uuid, uuid, uuid, interval);
DROP FUNCTION askgate_consume_for_app(uuid, uuid, uuid, uuid, integer, text, text, text, integer, jsonb);
DROP TABLE app_consumptions;
ALTER TABLE transactions DROP CONSTRAINT transactions_service_known;
ALTER TABLE transactions ADD CONSTRAINT transactions_service_known
    CHECK (service_type IN ('askatt', 'askdocs'));
