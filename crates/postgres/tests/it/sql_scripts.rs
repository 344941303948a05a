//! `sql/` stays in step with `migrations/`: the Supabase schema script and the
//! upgrade script for old databases produce exactly the schema of the initial
//! migration, keep existing rows, and leave askgate's start-up migration step
//! with nothing to redo.

use std::collections::BTreeSet;

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::ScratchDatabase;

const INITIAL_MIGRATION: &str =
    include_str!("../../../../migrations/2026-11-22-000001_initial/up.sql");
const SUPABASE_LOCAL: &str = include_str!("../../../../sql/00_supabase_local.sql");
const SCHEMA: &str = include_str!("../../../../sql/10_schema.sql");
const RLS: &str = include_str!("../../../../sql/20_rls.sql");
const UPGRADE: &str = include_str!("../../../../sql/upgrade_2026_11_existing_users.sql");

/// askgate's migrations, embedded the way the application embeds them.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A users table as it looked before askgate's schema.
const LEGACY_USERS: &str = "CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text UNIQUE,
    display_name text,
    created_at timestamptz
)";

// --- a database per test ------------------------------------------------------

/// Applies askgate's pending migrations to `db` exactly as the application
/// does at start-up, and returns the versions it applied.
async fn run_askgate_migrations(db: &ScratchDatabase) -> Result<Vec<String>, String> {
    let url = db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|e| e.to_string())?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

// --- comparing schemas --------------------------------------------------------

/// Everything about the `public` schema that the migration defines, one line
/// per fact: tables, columns (type, nullability, default), constraints,
/// indexes, triggers and functions. diesel's bookkeeping table is left out.
async fn schema_of(client: &Client) -> BTreeSet<String> {
    const FACTS: &str = "
        SELECT format('table %s (rls %s)', c.relname, c.relrowsecurity)
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relname <> '__diesel_schema_migrations'
        UNION ALL
        SELECT format('column %s.%s %s%s default %s',
                      c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                      CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END,
                      coalesce(pg_get_expr(d.adbin, d.adrelid), 'none'))
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND c.relname <> '__diesel_schema_migrations'
          AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.connamespace = 'public'::regnamespace AND c.relname <> '__diesel_schema_migrations'
        UNION ALL
        SELECT format('index %s', indexdef)
        FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'
        UNION ALL
        SELECT format('trigger %s', pg_get_triggerdef(t.oid))
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
        UNION ALL
        SELECT format('function %s', pg_get_functiondef(p.oid))
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace";
    client
        .query(FACTS, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Asserts both schemas are the same, naming every fact found on one side only.
fn assert_same_schema(expected: &BTreeSet<String>, actual: &BTreeSet<String>, actual_is: &str) {
    let missing: Vec<_> = expected.difference(actual).collect();
    let extra: Vec<_> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{actual_is} differs from migrations/2026-11-22-000001_initial/up.sql\n\
         only in the migration:\n  {}\nonly in {actual_is}:\n  {}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        extra
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
    );
}

async fn migration_schema() -> BTreeSet<String> {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(INITIAL_MIGRATION).await.unwrap();
    let schema = schema_of(&db.client).await;
    assert!(
        schema
            .iter()
            .any(|fact| fact.starts_with("column users.tokens ")),
        "{schema:#?}"
    );
    schema
}

async fn applied_versions(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT version FROM __diesel_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Every migration version under `migrations/` (folder name up to the first
/// `_`, without dashes: diesel's rule).
fn all_migration_versions() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .map(|name| name.split('_').next().unwrap().replace('-', ""))
        .collect();
    versions.sort();
    versions
}

// --- the schema script --------------------------------------------------------

#[tokio::test]
async fn schema_script_defines_exactly_the_initial_migration() {
    let expected = migration_schema().await;
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(SCHEMA).await.unwrap();
    assert_same_schema(&expected, &schema_of(&db.client).await, "sql/10_schema.sql");
}

#[tokio::test]
async fn askgate_applies_only_later_migrations_on_a_database_set_up_by_the_scripts() {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    db.client.batch_execute(SCHEMA).await.unwrap();
    db.client.batch_execute(RLS).await.unwrap();
    assert_eq!(
        applied_versions(&db.client).await,
        vec!["20261122000001".to_owned()]
    );

    let applied = run_askgate_migrations(&db)
        .await
        .expect("askgate's migrations apply on top of sql/");
    assert!(
        !applied.contains(&"20261122000001".to_owned()),
        "the initial migration ran again: {applied:?}"
    );
    assert_eq!(applied_versions(&db.client).await, all_migration_versions());
}

// --- the upgrade script -------------------------------------------------------

/// A database with only the legacy users table and three users, one of them
/// without an email. Returns the database and `(id, email)` of the users.
async fn legacy_database() -> (ScratchDatabase, Vec<(String, Option<String>)>) {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(LEGACY_USERS).await.unwrap();
    let users = vec![
        (
            Uuid::new_v4().to_string(),
            Some("ann@example.com".to_owned()),
        ),
        (
            Uuid::new_v4().to_string(),
            Some("ben@example.com".to_owned()),
        ),
        (Uuid::new_v4().to_string(), None),
    ];
    for (id, email) in &users {
        db.client
            .execute(
                "INSERT INTO users (id, email, display_name, created_at) \
                 VALUES ($1::text::uuid, $2, 'Legacy', '2024-01-02T03:04:05Z')",
                &[id, email],
            )
            .await
            .unwrap();
    }
    (db, users)
}

#[tokio::test]
async fn upgrade_keeps_every_existing_user_and_starts_them_at_zero_tokens() {
    let (db, users) = legacy_database().await;
    db.client.batch_execute(UPGRADE).await.unwrap();
    db.client
        .batch_execute(UPGRADE)
        .await
        .expect("the upgrade can run twice");

    let rows = db
        .client
        .query(
            "SELECT id::text, email, azure_ad_id, tokens, role, display_name, created_at::text, \
                    updated_at IS NOT NULL, last_login IS NULL \
             FROM users ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(rows.len(), expected.len());
    for (row, (id, email)) in rows.iter().zip(&expected) {
        assert_eq!(row.get::<_, String>(0), *id);
        let placeholder = format!("{id}@legacy.invalid");
        assert_eq!(
            row.get::<_, String>(1),
            email.clone().unwrap_or(placeholder),
            "email of {id}"
        );
        assert_eq!(
            row.get::<_, String>(2),
            format!("legacy:{id}"),
            "azure_ad_id of {id}"
        );
        assert_eq!(row.get::<_, i32>(3), 0, "tokens of {id}");
        assert_eq!(row.get::<_, String>(4), "user");
        assert_eq!(row.get::<_, String>(5), "Legacy");
        assert_eq!(row.get::<_, String>(6), "2024-01-02 03:04:05+00");
        assert!(row.get::<_, bool>(7), "updated_at set");
        assert!(row.get::<_, bool>(8), "never logged in");
    }

    // The new rules hold for the upgraded table.
    let negative = db
        .client
        .batch_execute("UPDATE users SET tokens = -1")
        .await
        .unwrap_err();
    assert!(
        format!("{negative:?}").contains("users_tokens_not_negative"),
        "{negative:?}"
    );
}

#[tokio::test]
async fn upgraded_legacy_database_has_exactly_the_initial_migration_schema() {
    let expected = migration_schema().await;
    let (db, _) = legacy_database().await;
    db.client.batch_execute(UPGRADE).await.unwrap();
    db.client.batch_execute(UPGRADE).await.unwrap();
    assert_same_schema(
        &expected,
        &schema_of(&db.client).await,
        "a legacy database after the upgrade",
    );
}

#[tokio::test]
async fn upgrade_of_an_empty_database_creates_the_initial_migration_schema() {
    let expected = migration_schema().await;
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(UPGRADE).await.unwrap();
    assert_same_schema(
        &expected,
        &schema_of(&db.client).await,
        "an empty database after the upgrade",
    );
}

#[tokio::test]
async fn upgrade_changes_nothing_when_existing_rows_break_the_new_rules() {
    let db = ScratchDatabase::create().await;
    // No unique constraint on email, and two users share one.
    db.client
        .batch_execute(&format!(
            "CREATE TABLE users (id uuid PRIMARY KEY, email text, display_name text, created_at timestamptz);
             INSERT INTO users (id, email) VALUES ('{}', 'twin@example.com'), ('{}', 'twin@example.com');",
            Uuid::new_v4(),
            Uuid::new_v4()
        ))
        .await
        .unwrap();

    let error = db.client.batch_execute(UPGRADE).await.unwrap_err();
    assert!(
        format!("{error:?}").contains("users_email_key"),
        "{error:?}"
    );
    // The script's transaction is left aborted, as psql would leave it.
    db.client.batch_execute("ROLLBACK").await.unwrap();

    let columns: Vec<String> = db
        .client
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(columns, ["id", "email", "display_name", "created_at"]);
    let tables: i64 = db
        .client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "no table was created");
}

#[tokio::test]
async fn upgrade_stops_when_an_existing_ledger_table_lacks_columns() {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(LEGACY_USERS).await.unwrap();
    db.client
        .batch_execute(
            "CREATE TABLE transactions (id uuid PRIMARY KEY, user_id uuid, amount integer)",
        )
        .await
        .unwrap();

    let error = db.client.batch_execute(UPGRADE).await.unwrap_err();
    db.client.batch_execute("ROLLBACK").await.unwrap();
    let message = error
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("transactions.balance_after"), "{message}");
    assert!(message.contains("nothing changed"), "{message}");
    let has_tokens: bool = db
        .client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_name = 'users' AND column_name = 'tokens')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!has_tokens, "users was left as it was");
}

#[tokio::test]
async fn askgate_and_the_rls_script_run_on_an_upgraded_database_keeping_its_users() {
    let (db, users) = legacy_database().await;
    db.client.batch_execute(UPGRADE).await.unwrap();
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    db.client.batch_execute(RLS).await.unwrap();

    let applied = run_askgate_migrations(&db)
        .await
        .expect("askgate's migrations apply after the upgrade");
    assert!(
        !applied.contains(&"20261122000001".to_owned()),
        "the initial migration ran again: {applied:?}"
    );
    assert_eq!(applied_versions(&db.client).await, all_migration_versions());

    let count: i64 = db
        .client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, i64::try_from(users.len()).unwrap());
    let forced: bool = db
        .client
        .query_one(
            "SELECT relforcerowsecurity FROM pg_class WHERE oid = 'public.users'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(forced, "RLS is on for the upgraded users table");
}

/// What `anon` and `authenticated` may do on tables of `public`, one line per
/// grant ("authenticated users SELECT", "authenticated users.display_name
/// UPDATE" for a column-only grant).
async fn jwt_role_grants(client: &Client) -> BTreeSet<String> {
    const GRANTS: &str = "
        WITH roles (name) AS (VALUES ('anon'), ('authenticated')),
             privileges (name) AS (
                 VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'),
                        ('REFERENCES'), ('TRIGGER')),
             tables AS (
                 SELECT oid, relname FROM pg_class
                 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm'))
        SELECT format('%s %s %s', r.name, t.relname, p.name)
        FROM roles r, privileges p, tables t
        WHERE has_table_privilege(r.name, t.oid, p.name)
        UNION ALL
        SELECT format('%s %s.%s %s', r.name, t.relname, a.attname, p.name)
        FROM roles r, privileges p, tables t
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE p.name IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
          AND has_column_privilege(r.name, t.oid, a.attnum, p.name)
          AND NOT has_table_privilege(r.name, t.oid, p.name)";
    client
        .query(GRANTS, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn rls_script_after_askgate_migrations_leaves_jwt_roles_only_what_the_policies_need() {
    let db = ScratchDatabase::create().await;
    // Supabase's default grants first, so every table askgate creates starts
    // out granted to anon and authenticated, as on a real project.
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    run_askgate_migrations(&db).await.unwrap();
    db.client.batch_execute(RLS).await.unwrap();

    let expected: BTreeSet<String> = [
        "authenticated users SELECT",
        "authenticated users.display_name UPDATE",
        "authenticated transactions SELECT",
        // Not api_endpoint or configuration: those are for the server only.
        "authenticated domains.id SELECT",
        "authenticated domains.name SELECT",
        "authenticated domains.display_name SELECT",
        "authenticated domains.description SELECT",
        "authenticated domains.is_active SELECT",
        "authenticated domains.created_by SELECT",
        "authenticated domains.created_at SELECT",
        "authenticated domains.updated_at SELECT",
        "authenticated domains INSERT",
        "authenticated domains UPDATE",
        "authenticated domains DELETE",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let actual = jwt_role_grants(&db.client).await;
    assert_eq!(
        actual, expected,
        "a table added by a migration must be listed as server-only in sql/20_rls.sql \
         or get policies there"
    );

    let without_rls: Vec<String> = db
        .client
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             AND relkind IN ('r', 'p') AND NOT relrowsecurity ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        without_rls.is_empty(),
        "tables without RLS: {without_rls:?}"
    );
}

#[tokio::test]
async fn upgrade_drops_old_update_own_row_policies_before_adding_tokens_and_role() {
    let (mut db, users) = legacy_database().await;
    // A Supabase project's usual starter policies on its profiles table.
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    db.client
        .batch_execute(
            "GRANT ALL ON TABLE users TO anon, authenticated; \
             ALTER TABLE users ENABLE ROW LEVEL SECURITY; \
             CREATE POLICY \"Users can update own profile\" ON users FOR UPDATE \
                 TO authenticated USING (id = auth.uid()) WITH CHECK (id = auth.uid()); \
             CREATE POLICY users_own_all ON users FOR ALL \
                 TO authenticated USING (id = auth.uid()); \
             CREATE POLICY users_read_own ON users FOR SELECT \
                 TO authenticated USING (id = auth.uid());",
        )
        .await
        .unwrap();
    db.client.batch_execute(UPGRADE).await.unwrap();

    let user = &users[0].0;
    let tx = db.client.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL ROLE authenticated")
        .await
        .unwrap();
    tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&serde_json::json!({ "sub": user, "role": "authenticated" }).to_string()],
    )
    .await
    .unwrap();
    let error = tx
        .batch_execute("UPDATE users SET tokens = 1000000, role = 'admin'")
        .await
        .expect_err("a user cannot set their own tokens and role after the upgrade");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{error:?}"
    );
    drop(tx);

    let left: Vec<String> = db
        .client
        .query(
            "SELECT polname::text FROM pg_policy WHERE polrelid = 'users'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, vec!["users_read_own".to_owned()]);
}
