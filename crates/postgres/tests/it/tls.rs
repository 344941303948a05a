//! TLS to PostgreSQL, against a private cluster started here that accepts only
//! TLS connections (`hostssl` with SCRAM passwords in pg_hba.conf) and whose
//! certificate, issued for `localhost` only, is signed by a CA made here.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::{Certificates, Daemon, Scratch, free_port, postgres_bin, run};
use askgate_postgres::testing::connection_is_encrypted;
use askgate_postgres::{Database, PgConfig, PgTls, SslMode, create_database_if_missing};

const PASSWORD: &str = "tls-test-secret";

struct TlsCluster {
    port: u16,
    ca: PathBuf,
    other_ca: PathBuf,
    _server: Daemon,
    _scratch: Scratch,
}

/// One cluster for the whole test binary, stopped when it exits.
fn cluster() -> &'static TlsCluster {
    static CLUSTER: OnceLock<TlsCluster> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster)
}

fn start_cluster() -> TlsCluster {
    let bin = postgres_bin();
    let scratch = Scratch::new("askgate-tls");
    let certificates = Certificates::make(&scratch);
    let password_file = scratch.write("password", PASSWORD);
    crate::support::give_to_server_user(&scratch.dir);

    let data = scratch.path("data");
    run(
        crate::support::server_command(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                password_file.to_str().unwrap(),
                "--no-sync",
                "--no-instructions",
            ],
        ),
        "initdb",
    );
    // TLS or nothing: no `host` line, only `hostssl`.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n",
    )
    .unwrap();
    crate::support::give_to_server_user(&data);

    let port = free_port();
    let settings = [
        format!("port={port}"),
        "listen_addresses=127.0.0.1".to_owned(),
        format!("unix_socket_directories={}", scratch.dir.display()),
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", certificates.server_cert.display()),
        format!("ssl_key_file={}", certificates.server_key.display()),
        "fsync=off".to_owned(),
        "max_connections=40".to_owned(),
    ];
    let mut args = vec!["-D".to_owned(), data.to_str().unwrap().to_owned()];
    for setting in settings {
        args.push("-c".to_owned());
        args.push(setting);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Daemon::start(&bin.join("postgres"), &args, &scratch, "postgres.log", port);
    // Listening is not yet accepting sessions ("the database system is starting up").
    let ready = (0..300).any(|_| {
        let accepting = std::process::Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !accepting {
            std::thread::sleep(Duration::from_millis(100));
        }
        accepting
    });
    assert!(
        ready,
        "the TLS test cluster did not accept sessions within 30 s"
    );
    TlsCluster {
        port,
        ca: certificates.ca,
        other_ca: certificates.other_ca,
        _server: server,
        _scratch: scratch,
    }
}

fn config(host: &str, database: &str, sslmode: Option<&str>, ca: Option<PathBuf>) -> PgConfig {
    let cluster = cluster();
    let query = sslmode.map(|m| format!("?sslmode={m}")).unwrap_or_default();
    PgConfig {
        url: format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/{database}{query}",
            cluster.port
        ),
        max_connections: 2,
        application_name: "askgate-tls-test".to_owned(),
        statement_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
        tls: PgTls {
            default_mode: SslMode::Prefer,
            ca_cert: ca,
        },
    }
}

async fn connect(config: &PgConfig) -> Result<Database, String> {
    Database::connect(config).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn require_encrypts_without_a_ca_and_migrations_run_over_it() {
    let name = format!("askgate_tls_{}", uuid::Uuid::now_v7().simple());
    let config = config("127.0.0.1", &name, Some("require"), None);
    // Every way askgate connects goes over TLS: creating the database, the
    // pool, and the migration connection.
    assert!(create_database_if_missing(&config).await.unwrap());
    let db = connect(&config).await.unwrap();
    assert!(connection_is_encrypted(&db).await);
    db.migrate().await.unwrap();
    assert!(!create_database_if_missing(&config).await.unwrap());
}

#[tokio::test]
async fn no_sslmode_means_prefer_which_encrypts_when_the_server_offers_tls() {
    let db = connect(&config("127.0.0.1", "postgres", None, None))
        .await
        .unwrap();
    assert!(connection_is_encrypted(&db).await);
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_with_channel_binding() {
    let ca = cluster().ca.clone();
    let mut config = config("localhost", "postgres", Some("verify-full"), Some(ca));
    // SCRAM bound to the server's certificate (tls-server-end-point): refused
    // unless askgate hands the driver the certificate's hash.
    config.url.push_str("&channel_binding=require");
    let db = connect(&config).await.unwrap();
    assert!(connection_is_encrypted(&db).await);
}

#[tokio::test]
async fn verify_full_with_a_wrong_ca_fails_with_one_clear_line() {
    let other = cluster().other_ca.clone();
    let error = connect(&config(
        "localhost",
        "postgres",
        Some("verify-full"),
        Some(other.clone()),
    ))
    .await
    .unwrap_err();
    assert_eq!(
        error,
        format!(
            "cannot connect to PostgreSQL at localhost:{}/postgres: the server's TLS certificate is not signed by a trusted CA (trusted: the CA certificates in {})",
            cluster().port,
            other.display()
        )
    );
    assert!(!error.contains(PASSWORD));
}

#[tokio::test]
async fn verify_full_without_a_ca_file_trusts_only_public_roots() {
    let error = connect(&config("localhost", "postgres", Some("verify-full"), None))
        .await
        .unwrap_err();
    assert!(
        error.ends_with(
            "the server's TLS certificate is not signed by a trusted CA (trusted: the public root CAs)"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_issued_for_another_host_which_verify_ca_accepts() {
    let ca = cluster().ca.clone();
    let error = connect(&config(
        "127.0.0.1",
        "postgres",
        Some("verify-full"),
        Some(ca.clone()),
    ))
    .await
    .unwrap_err();
    assert!(
        error.ends_with("the server's TLS certificate is not issued for host '127.0.0.1'"),
        "{error}"
    );
    let db = connect(&config(
        "127.0.0.1",
        "postgres",
        Some("verify-ca"),
        Some(ca.clone()),
    ))
    .await
    .unwrap();
    assert!(connection_is_encrypted(&db).await);
    // With a CA file, require checks the chain as libpq does (then it is verify-ca).
    connect(&config("127.0.0.1", "postgres", Some("require"), Some(ca)))
        .await
        .unwrap();
    let other = cluster().other_ca.clone();
    let error = connect(&config(
        "127.0.0.1",
        "postgres",
        Some("require"),
        Some(other),
    ))
    .await
    .unwrap_err();
    assert!(error.contains("not signed by a trusted CA"), "{error}");
}

#[tokio::test]
async fn disable_against_a_server_that_requires_tls_fails_clearly() {
    let error = connect(&config("127.0.0.1", "postgres", Some("disable"), None))
        .await
        .unwrap_err();
    assert!(!error.contains('\n'), "{error}");
    assert!(error.contains("no encryption"), "{error}");
    assert!(
        error.ends_with("(the server requires TLS: remove sslmode=disable or use sslmode=require)"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_sslmode_is_refused_before_connecting() {
    let error = connect(&config("127.0.0.1", "postgres", Some("allow"), None))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        "the PostgreSQL URL is not valid: sslmode 'allow' is not one of disable, prefer, require, verify-ca, verify-full"
    );
}
