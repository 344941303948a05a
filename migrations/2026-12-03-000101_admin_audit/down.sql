DROP INDEX users_last_seen;
ALTER TABLE users DROP COLUMN role_from_sign_in;
ALTER TABLE users DROP COLUMN disabled_at;
DROP TABLE admin_audit;
DROP FUNCTION admin_audit_append_only();
