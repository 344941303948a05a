-- Row-level security stays on: reopening tables to the data API is not a
-- step to take by rolling back. Privileges revoked are not granted back.
SELECT 1;
