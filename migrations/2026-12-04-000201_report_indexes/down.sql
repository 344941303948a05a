DROP INDEX IF EXISTS transactions_purchases;
DROP INDEX IF EXISTS transactions_created_at;
