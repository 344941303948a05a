ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_target_known;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_target_known CHECK (target_type IN ('user', 'domain'));
ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_action_known;
ALTER TABLE admin_audit ADD CONSTRAINT admin_audit_action_known CHECK (action IN (
    'grant', 'adjustment', 'disable', 'enable', 'role_change',
    'domain_create', 'domain_update', 'domain_delete'));
DROP TABLE app_secrets;
DROP TABLE apps;
