DROP TRIGGER transactions_ledger_balanced ON transactions;
DROP TRIGGER users_ledger_balanced ON users;
DROP TRIGGER transactions_ledger_track ON transactions;
DROP TRIGGER users_ledger_track ON users;
DROP FUNCTION askgate_ledger_check();
DROP FUNCTION askgate_ledger_track();
