DROP TABLE purchase_reversals;
