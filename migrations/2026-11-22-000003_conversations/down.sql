DROP TABLE idempotency_keys;
DROP TABLE messages;
DROP TABLE conversations;
