-- Reads of every user's ledger by time: the admin overview's period figures
-- and the admin ledger export (newest first, by created_at then id).
CREATE INDEX transactions_created_at ON transactions (created_at, id);

-- The payments before an instant, whose prices value the outstanding tokens
-- (the overview's liability): about one row in a hundred.
CREATE INDEX transactions_purchases ON transactions (created_at) WHERE transaction_type = 'purchase';
