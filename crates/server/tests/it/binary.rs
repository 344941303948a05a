//! The built binary as an operator runs it: exit codes, one-line failures, `grant`.

use std::process::{Command, Output};
use std::sync::Arc;

use askgate_domain::Email;
use askgate_postgres::testing::TestDatabase;
use askgate_server::settings::Settings;
use askgate_server::startup;

const SECRET: &str = "binary-test-secret-binary-test-secret";

/// Runs `askgate-server args…` with only `env` in its environment (plus PATH).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_askgate-server"));
    cmd.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unreachable_database_fails_with_one_line_and_no_panic() {
    let out = run(
        &[],
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/x"),
            ("JWT_SECRET", SECRET),
            ("BIND_ADDR", "127.0.0.1:0"),
        ],
    );
    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "stderr: {lines:?}");
    assert!(
        lines[0].contains("DATABASE_URL") && lines[0].contains("cannot connect"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("panicked"));
    assert!(!stdout(&out).contains("panicked"));
}

#[test]
fn production_with_dev_login_is_refused_at_start_naming_auth_dev_login() {
    let out = run(
        &[],
        &[
            ("APP_ENV", "production"),
            ("AUTH_DEV_LOGIN", "true"),
            ("JWT_SECRET", SECRET),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        [
            "askgate: configuration error: AUTH_DEV_LOGIN must not be enabled when APP_ENV=production"
        ]
    );
}

#[test]
fn a_short_jwt_secret_is_refused_at_start_naming_jwt_secret() {
    let out = run(&[], &[("JWT_SECRET", "short")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        ["askgate: configuration error: JWT_SECRET must be at least 32 bytes"]
    );
}

#[test]
fn production_refuses_plain_text_to_a_remote_database_at_start_naming_database_url() {
    let out = run(
        &[],
        &[
            ("APP_ENV", "production"),
            ("JWT_SECRET", SECRET),
            (
                "DATABASE_URL",
                "postgres://askgate:hunter2@db.example.com:5432/askgate?sslmode=disable",
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_lines(&out),
        [
            "askgate: configuration error: DATABASE_URL must not use sslmode=disable when APP_ENV=production unless PostgreSQL is on this machine (127.0.0.1, ::1, localhost); use sslmode=require or verify-full"
        ]
    );
}

/// A CA that signed nothing the test server shows.
const UNRELATED_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBmzCCAUGgAwIBAgIUDFqRfpeqUc/JyySUzMn5x58YszMwCgYIKoZIzj0EAwIw\nIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5ncyB0ZXN0IENBMB4XDTI2MTIwMjA3\nMDUyMloXDTM2MTEyOTA3MDUyMlowIzEhMB8GA1UEAwwYYXNrZ2F0ZSBzZXR0aW5n\ncyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvyBURfDiROwH6E5h\ngqoQssvmqBk2eqVq6KgHNcRpCsSlAuwK/Zsij5bKP918QIR++kA38Xg7jncK/QpK\nwMEU1KNTMFEwHQYDVR0OBBYEFBAByQAKG2V6WiEaunD3+Ec7nmpwMB8GA1UdIwQY\nMBaAFBAByQAKG2V6WiEaunD3+Ec7nmpwMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI\nzj0EAwIDSAAwRQIhALCzqYWMHzCIwiL6atBfZRgIa0reNjUsju/LsOj0XRM/AiBA\n8c4GgZJB8Fz3l/SdtQtzK4zdlUEXDN3vWkQaagQDdQ==\n-----END CERTIFICATE-----\n";

#[tokio::test]
async fn migrate_over_tls_checks_the_server_certificate_against_database_ca_cert() {
    let db = TestDatabase::new().await;
    let ca = std::env::temp_dir().join(format!("askgate-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&ca, UNRELATED_CA).unwrap();
    let with_mode = |mode: &str| format!("{}?sslmode={mode}", db.url());
    let (verify_full, require) = (with_mode("verify-full"), with_mode("require"));
    let ca_path = ca.to_str().unwrap().to_owned();
    let (refused, accepted) = tokio::task::spawn_blocking(move || {
        let migrate = |url: &str, ca: Option<&str>| {
            let mut env = vec![("DATABASE_URL", url), ("JWT_SECRET", SECRET)];
            env.extend(ca.map(|ca| ("DATABASE_CA_CERT", ca)));
            run(&["migrate"], &env)
        };
        (
            migrate(&verify_full, Some(&ca_path)),
            // The local test server has TLS on (Debian's snakeoil certificate).
            migrate(&require, None),
        )
    })
    .await
    .unwrap();
    std::fs::remove_file(&ca).unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let lines = stderr_lines(&refused);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(&format!(
            "the server's TLS certificate is not signed by a trusted CA (trusted: the CA certificates in {}) (check DATABASE_URL)",
            ca.display()
        )),
        "{}",
        lines[0]
    );
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(stdout(&accepted).contains("migrations applied"));
}

#[test]
fn an_unknown_command_prints_the_usage_and_exits_2() {
    let out = run(&["launch"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown command 'launch'"), "{err}");
    assert!(err.contains("usage: askgate-server"), "{err}");
}

#[tokio::test]
async fn migrate_applies_and_exits_zero() {
    let db = TestDatabase::new().await;
    let out = tokio::task::spawn_blocking({
        let url = db.url().to_owned();
        move || {
            run(
                &["migrate"],
                &[("DATABASE_URL", &url), ("JWT_SECRET", SECRET)],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("migrations applied"));
}

#[tokio::test]
async fn grant_credits_once_per_key_and_says_what_happened() {
    let db = Arc::new(TestDatabase::new().await);
    let settings =
        Settings::from_pairs(&[("DATABASE_URL", db.url()), ("JWT_SECRET", SECRET)]).unwrap();
    let accounts = startup::account_service(&settings, &db.database());
    let email = Email::parse("granted@example.com").unwrap();
    let user = accounts
        .dev_sign_in(email, None, false, Vec::new())
        .await
        .unwrap()
        .id;

    let grant = |args: Vec<&'static str>| {
        let url = db.url().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut all = vec!["grant"];
            all.extend(args);
            run(&all, &[("DATABASE_URL", &url), ("JWT_SECRET", SECRET)])
        })
    };

    let first = grant(vec![
        "--email",
        "granted@example.com",
        "--tokens",
        "100",
        "--key",
        "k-1",
        "--reason",
        "welcome",
    ])
    .await
    .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let said = stdout(&first);
    assert!(
        said.contains("credited 100 tokens to granted@example.com; new balance 100"),
        "{said}"
    );

    let again = grant(vec![
        "--email",
        "granted@example.com",
        "--tokens",
        "100",
        "--key",
        "k-1",
    ])
    .await
    .unwrap();
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );

    let fresh_key = grant(vec!["--email", "granted@example.com", "--tokens", "5"])
        .await
        .unwrap();
    assert!(
        stdout(&fresh_key).contains("new balance 105"),
        "{}",
        stdout(&fresh_key)
    );

    assert_eq!(accounts.balance(user).await.unwrap().get(), 105);
    db.assert_ledger_invariant().await;

    let nobody = grant(vec!["--email", "nobody@example.com", "--tokens", "5"])
        .await
        .unwrap();
    assert_eq!(nobody.status.code(), Some(1));
    let lines = stderr_lines(&nobody);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("nobody@example.com"), "{}", lines[0]);
}

#[tokio::test]
async fn audit_reports_a_clean_ledger_with_its_totals_and_exits_zero() {
    let db = TestDatabase::new().await;
    let out = tokio::task::spawn_blocking({
        let url = db.url().to_owned();
        move || {
            run(
                &["audit"],
                &[("DATABASE_URL", &url), ("JWT_SECRET", SECRET)],
            )
        }
    })
    .await
    .unwrap();
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok   every balance equals the sum of its ledger"),
        "{text}"
    );
    assert!(text.contains("tokens sold"), "{text}");
    assert!(text.trim_end().ends_with("result: clean"), "{text}");
}
