DROP TABLE pending_reversals;
