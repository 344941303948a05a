-- Per-domain access: a domain may be restricted to Entra app roles or groups
-- (`allowed_roles`: role names and group object ids; empty = everyone), and
-- each user keeps the app roles (`roles` claim) and groups (`groups` claim)
-- of their last sign-in to be matched against it. The server decides who is
-- admitted; the bounds here only keep a row from growing without limit.
ALTER TABLE domains
    ADD COLUMN allowed_roles text[] NOT NULL DEFAULT '{}'
        CONSTRAINT domains_allowed_roles_bounded CHECK (cardinality(allowed_roles) <= 50);

ALTER TABLE users
    ADD COLUMN entra_roles text[] NOT NULL DEFAULT '{}'
        CONSTRAINT users_entra_roles_bounded CHECK (cardinality(entra_roles) <= 500),
    ADD COLUMN entra_groups text[] NOT NULL DEFAULT '{}'
        CONSTRAINT users_entra_groups_bounded CHECK (cardinality(entra_groups) <= 500);
