DROP TABLE orphaned_payments;
