DROP TABLE stripe_events;
DROP TABLE transactions;
DROP FUNCTION transactions_append_only();
DROP TABLE domains;
DROP TABLE users;
