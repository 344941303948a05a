ALTER TABLE users DROP COLUMN entra_groups, DROP COLUMN entra_roles;
ALTER TABLE domains DROP COLUMN allowed_roles;
