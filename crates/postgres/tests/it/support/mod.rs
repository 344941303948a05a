//! What the tests of askgate-postgres share: an empty database with a plain
//! SQL client, for the suites that build a schema themselves, and private
//! server processes: a PostgreSQL cluster with TLS and certificates made
//! here, and PgBouncer. The servers run under `sh`, which stops them
//! when its standard input closes, that is when the test process ends (or the
//! [`Daemon`] is dropped), so nothing is left running after a crashed run.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use askgate_postgres::testing::TestDatabase;
use tokio_postgres::{Client, NoTls};

/// An empty database of its own ([`TestDatabase::empty`]) and a plain
/// PostgreSQL client on it, as a superuser's `psql` would be.
pub struct ScratchDatabase {
    pub client: Client,
    db: TestDatabase,
}

impl ScratchDatabase {
    pub async fn create() -> Self {
        let db = TestDatabase::empty().await;
        let (client, connection) = tokio_postgres::connect(db.url(), NoTls)
            .await
            .expect("PostgreSQL is reachable");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { client, db }
    }

    /// `postgres://…/askgate_t_…`, for code that connects by itself.
    pub fn url(&self) -> &str {
        self.db.url()
    }
}

/// A directory of its own under the system's temporary directory, readable by
/// the `postgres` user when the tests run as root (servers refuse to run as root).
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        give_to_server_user(&dir);
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        give_to_server_user(&path);
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when this process runs as root.
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Hands `path` to the `postgres` user when running as root.
pub fn give_to_server_user(path: &Path) {
    if running_as_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot chown {} to postgres",
            path.display()
        );
    }
}

/// `program` with `args`, as the `postgres` user when running as root.
pub fn server_command(program: &Path, args: &[&str]) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

/// Runs a command to completion; panics with its output when it fails.
pub fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a certificate for `localhost` (only: 127.0.0.1 is "another host")
/// signed by it with its key, and a second, unrelated CA; P-256, made with
/// the `openssl` command, valid for two days.
pub struct Certificates {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Certificates {
    pub fn make(scratch: &Scratch) -> Self {
        let openssl = |args: &[&str]| {
            let mut command = Command::new("openssl");
            command.current_dir(&scratch.dir).args(args);
            run(command, &format!("openssl {}", args.join(" ")));
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for name in ["ca", "other-ca"] {
            let subject = format!("/CN=askgate test {name}");
            let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
            let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject];
            args.extend_from_slice(&ec);
            args.extend_from_slice(&["-keyout", &key, "-out", &pem]);
            openssl(&args);
        }
        scratch.write(
            "server.ext",
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        );
        let mut args = vec!["req", "-new", "-subj", "/CN=localhost"];
        args.extend_from_slice(&ec);
        args.extend_from_slice(&["-keyout", "server.key", "-out", "server.csr"]);
        openssl(&args);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        // Servers refuse a private key others can read.
        let server_key = scratch.path("server.key");
        std::fs::set_permissions(
            &server_key,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        give_to_server_user(&scratch.dir);
        Self {
            ca: scratch.path("ca.pem"),
            other_ca: scratch.path("other-ca.pem"),
            server_cert: scratch.path("server.pem"),
            server_key,
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process that ends with this value, or with the test process.
pub struct Daemon {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Daemon {
    /// Starts `program args…` (as `postgres` when root), logging to `log` in
    /// `scratch`, and waits until 127.0.0.1:`port` accepts connections. When
    /// the program has stopped, `scratch` is removed.
    pub fn start(program: &Path, args: &[&str], scratch: &Scratch, log: &str, port: u16) -> Self {
        // `sh -c script sh dir program args…`: runs the program in the
        // background and stops it (fast shutdown) when a line or the end of
        // input arrives, then removes the directory.
        let script =
            "dir=$1\nshift\n\"$@\" &\npid=$!\nread _\nkill -INT $pid\nwait $pid\nrm -rf \"$dir\"\n";
        let dir = scratch.dir.to_str().unwrap();
        let mut all = vec!["-c", script, "sh", dir];
        let log = &scratch.path(log);
        let program = program.to_str().unwrap();
        all.push(program);
        all.extend_from_slice(args);
        let log_file = std::fs::File::create(log).unwrap();
        give_to_server_user(log);
        let mut child = server_command(Path::new("/bin/sh"), &all)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stdin = child.stdin.take();
        let mut daemon = Self { child, stdin };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return daemon;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "{program} exited ({status}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon.stop();
        panic!(
            "{program} did not listen on port {port} within 30 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Stops the process and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where PostgreSQL's server programs are: `PG_BIN`, else `pg_config --bindir`,
/// else Debian's `/usr/lib/postgresql/15/bin`.
pub fn postgres_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|dir| dir.join("initdb").exists());
    let dir = from_pg_config.unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    assert!(
        dir.join("initdb").exists() && dir.join("postgres").exists(),
        "PostgreSQL's server programs (initdb, postgres) are not in {}: install them (Debian: apt-get install postgresql-15) or set PG_BIN",
        dir.display()
    );
    dir
}

/// The PgBouncer binary: `PGBOUNCER`, else `pgbouncer` on the `PATH` or in
/// `/usr/sbin` (Debian's package).
pub fn pgbouncer_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PGBOUNCER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbouncer"))
            .find(|candidate| candidate.exists())
    });
    let path = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/pgbouncer"));
    assert!(
        path.exists(),
        "pgbouncer is not installed: apt-get install pgbouncer (or set PGBOUNCER to its binary)"
    );
    path
}

/// PgBouncer on a free port of 127.0.0.1 in front of `server_url`'s server,
/// every database name passed through, in `pool_mode` (`session`,
/// `transaction`), accepting TLS clients only (as managed poolers do) with a
/// certificate for `localhost` signed by [`Pgbouncer::ca`].
pub struct Pgbouncer {
    pub port: u16,
    pub ca: PathBuf,
    _daemon: Daemon,
    _scratch: Scratch,
}

impl Pgbouncer {
    pub fn start(server_url: &str, pool_mode: &str) -> Self {
        let server = url::Url::parse(server_url).unwrap();
        let host = server.host_str().unwrap_or("127.0.0.1");
        let server_port = server.port().unwrap_or(5432);
        let user = if server.username().is_empty() {
            "postgres"
        } else {
            server.username()
        };
        let password = server
            .password()
            .map(|p| format!(" password={p}"))
            .unwrap_or_default();
        let scratch = Scratch::new("askgate-pgbouncer");
        let certificates = Certificates::make(&scratch);
        let port = free_port();
        let config = scratch.write(
            "pgbouncer.ini",
            &format!(
                "[databases]\n\
                 * = host={host} port={server_port} user={user}{password}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = any\n\
                 pool_mode = {pool_mode}\n\
                 max_client_conn = 200\n\
                 default_pool_size = 20\n\
                 server_tls_sslmode = prefer\n\
                 client_tls_sslmode = require\n\
                 client_tls_cert_file = {cert}\n\
                 client_tls_key_file = {key}\n\
                 pidfile = {dir}/pgbouncer.pid\n",
                dir = scratch.dir.display(),
                cert = certificates.server_cert.display(),
                key = certificates.server_key.display(),
            ),
        );
        let daemon = Daemon::start(
            &pgbouncer_bin(),
            &[config.to_str().unwrap()],
            &scratch,
            "pgbouncer.log",
            port,
        );
        Self {
            port,
            ca: certificates.ca,
            _daemon: daemon,
            _scratch: scratch,
        }
    }

    /// `postgres://…` to `database` through this PgBouncer, checking its
    /// certificate (`verify-full`; pass [`Pgbouncer::ca`] as the CA file).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{database}?sslmode=verify-full",
            self.port
        )
    }
}
