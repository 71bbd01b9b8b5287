//! A throwaway PostgreSQL cluster for tests: started once per test process on a free port
//! under a temp dir, and stopped and removed by a watchdog process once the test process
//! has exited (statics are never dropped). Set `TESSERA_TEST_DATABASE_URL` to a
//! `postgres://` URL with the right to `CREATE DATABASE` to use an existing server instead.
//!
//! Tests that need PostgreSQL should fail, not skip, when it is missing: the error from
//! [`shared_cluster`] says what to install.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use uuid::Uuid;

/// Points the tests at an existing server instead of starting one.
pub const DATABASE_URL_ENV: &str = "TESSERA_TEST_DATABASE_URL";

const INSTALL_HINT: &str = "install Debian's `postgresql` package (`apt-get install postgresql`), \
     put a directory holding initdb and pg_ctl on PATH, or set TESSERA_TEST_DATABASE_URL to a \
     postgres:// URL of a server where that user may CREATE DATABASE";

/// Waits for the test process to end, then stops the cluster and removes its directory.
/// Arguments: $1 test pid, $2 pg_ctl, $3 data dir, $4 temp dir, $5 "root" or "user".
const WATCHDOG: &str = r#"trap '' HUP INT TERM QUIT PIPE
while kill -0 "$1" 2>/dev/null; do sleep 1; done
if [ "$5" = root ]; then
    runuser -u postgres -- "$2" -D "$3" -m immediate stop
else
    "$2" -D "$3" -m immediate stop
fi
rm -rf "$4"
"#;

/// A PostgreSQL server the tests may create databases on.
#[derive(Debug)]
pub struct PgCluster {
    admin_url: String,
    /// The local cluster's temp dir; `None` for a server from `TESSERA_TEST_DATABASE_URL`.
    dir: Option<PathBuf>,
    /// Owned so the handle is kept; the watchdog outlives this process by design.
    _watchdog: Option<Child>,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// The test process's cluster, started on first use. Synchronous, so it works from any
/// (or no) async runtime.
pub fn shared_cluster() -> Result<&'static PgCluster, String> {
    CLUSTER.get_or_init(start).as_ref().map_err(Clone::clone)
}

impl PgCluster {
    /// A URL with the right to create databases (its password, if any, included).
    pub fn admin_url(&self) -> String {
        self.admin_url.clone()
    }

    /// Creates an empty, uniquely named database and returns its URL.
    pub async fn create_database(&self) -> Result<String, String> {
        let name = format!("t_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&self.admin_url).await.map_err(|e| {
            format!(
                "cannot connect to the test PostgreSQL server at {}: {e}{}",
                redact(&self.admin_url),
                self.log_tail()
            )
        })?;
        // The name is `t_` and hex digits only, so it needs no quoting.
        let created = sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await;
        // Closing politely is best effort; the database exists either way.
        let _closed = conn.close().await;
        created.map_err(|e| {
            format!(
                "cannot create database {name} on {}: {e}{}",
                redact(&self.admin_url),
                self.log_tail()
            )
        })?;
        database_url(&self.admin_url, &name)
    }

    /// The end of the local server's log, for error messages.
    fn log_tail(&self) -> String {
        match &self.dir {
            Some(dir) => format!("\n--- server log ---\n{}", tail(&dir.join("log"), 30)),
            None => String::new(),
        }
    }
}

fn start() -> Result<PgCluster, String> {
    if let Ok(url) = std::env::var(DATABASE_URL_ENV)
        && !url.trim().is_empty()
    {
        return Ok(PgCluster {
            admin_url: url.trim().to_owned(),
            dir: None,
            _watchdog: None,
        });
    }
    let bins = find_binaries()?;
    let as_root = running_as_root();
    let dir = make_temp_dir()?;
    let data = dir.join("data");
    // Spawned before anything is started, so the cluster is removed however this ends.
    let watchdog = spawn_watchdog(&bins.pg_ctl, &data, &dir, as_root)?;
    if as_root {
        let out = Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run chown on {}: {e}", dir.display()))?;
        if !out.status.success() {
            return Err(format!(
                "chown -R postgres:postgres {} failed ({}): {}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    init_cluster(&bins.initdb, &data, &dir, as_root)?;
    let port = start_server(&bins.pg_ctl, &data, &dir, as_root)?;
    Ok(PgCluster {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        dir: Some(dir),
        _watchdog: Some(watchdog),
    })
}

struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

/// initdb and pg_ctl from one directory: the first on PATH that has both, else the newest
/// `/usr/lib/postgresql/<version>/bin` (where Debian installs them off PATH).
fn find_binaries() -> Result<Binaries, String> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(debian_bin_dirs());
    for dir in dirs {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        if is_executable(&initdb) && is_executable(&pg_ctl) {
            // Absolute, resolved paths: `runuser` need not find them on postgres's PATH.
            return Ok(Binaries {
                initdb: fs::canonicalize(&initdb).unwrap_or(initdb),
                pg_ctl: fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl),
            });
        }
    }
    Err(format!(
        "the PostgreSQL tests need a PostgreSQL server, but initdb and pg_ctl are neither on \
         PATH nor under /usr/lib/postgresql/*/bin: {INSTALL_HINT}"
    ))
}

/// `/usr/lib/postgresql/*/bin`, newest version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let version = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|part| part.parse::<u32>().unwrap_or(0))
                .collect();
            (version, e.path().join("bin"))
        })
        .filter(|(_, bin)| bin.is_dir())
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, bin)| bin).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// initdb and postgres refuse to run as root, so then they run as the `postgres` user.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A new private directory; short, since the server's Unix socket lives in it.
fn make_temp_dir() -> Result<PathBuf, String> {
    let unique = Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!(
        "tessera-pg-{}-{}",
        std::process::id(),
        unique.get(..12).unwrap_or(&unique)
    ));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            format!(
                "cannot create the test cluster directory {}: {e}",
                dir.display()
            )
        })?;
    Ok(dir)
}

/// A command for a PostgreSQL binary, run as `postgres` when this process is root.
fn pg_command(program: &Path, as_root: bool, cwd: &Path) -> Command {
    let mut cmd = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.current_dir(cwd).stdin(Stdio::null()).env("LC_ALL", "C");
    cmd
}

fn spawn_watchdog(pg_ctl: &Path, data: &Path, dir: &Path, as_root: bool) -> Result<Child, String> {
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("tessera-testpg-watchdog")
        .arg(std::process::id().to_string())
        .arg(pg_ctl)
        .arg(data)
        .arg(dir)
        .arg(if as_root { "root" } else { "user" })
        .current_dir("/")
        // No inherited pipes: `cargo test` waits for its test's stdout/stderr to close.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C aimed at the tests must not kill the cleanup.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the test cluster's watchdog (sh): {e}"))
}

fn init_cluster(initdb: &Path, data: &Path, dir: &Path, as_root: bool) -> Result<(), String> {
    let out = pg_command(initdb, as_root, dir)
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", initdb.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint = if as_root && stderr.contains("Permission denied") {
        "\n(the server runs as user postgres, which must be able to reach the temp dir: \
         set TMPDIR to a directory such as /tmp)"
    } else {
        ""
    };
    Err(format!(
        "{} -D {} failed ({}){}:\n{}\n{}{hint}",
        initdb.display(),
        data.display(),
        out.status,
        if as_root { " as user postgres" } else { "" },
        stderr.trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// Starts the server on a free port; retries on another port if the one picked was taken
/// in between.
fn start_server(pg_ctl: &Path, data: &Path, dir: &Path, as_root: bool) -> Result<u16, String> {
    let log = dir.join("log");
    let mut last_error = String::new();
    for attempt in 1..=3 {
        let port = free_port()?;
        // Files, not pipes: nothing the server inherits can keep a pipe of ours open.
        let out_path = dir.join(format!("pg_ctl-{attempt}.out"));
        let out = File::create(&out_path)
            .map_err(|e| format!("cannot create {}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot duplicate {}: {e}", out_path.display()))?;
        let options = format!(
            "-p {port} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        let status = pg_command(pg_ctl, as_root, dir)
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-o"])
            .arg(&options)
            .arg("start")
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", pg_ctl.display()))?;
        if status.success() {
            return Ok(port);
        }
        let log_tail = tail(&log, 30);
        last_error = format!(
            "{} start failed ({status}) on port {port}:\n{}\n--- server log ({}) ---\n{log_tail}",
            pg_ctl.display(),
            fs::read_to_string(&out_path).unwrap_or_default().trim(),
            log.display()
        );
        if !log_tail.contains("already in use") {
            break;
        }
    }
    Err(last_error)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free TCP port on 127.0.0.1: {e}"))
}

/// The last `lines` lines of a file (or why it could not be read).
fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// The admin URL with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> Result<String, String> {
    let mut url = url::Url::parse(admin_url)
        .map_err(|e| format!("{DATABASE_URL_ENV} is not a valid URL: {e}"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ignored = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unparseable URL)".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url(
                "postgres://u:p@db.example:5433/admin?sslmode=require",
                "t_1"
            )
            .unwrap(),
            "postgres://u:p@db.example:5433/t_1?sslmode=require"
        );
    }

    #[test]
    fn redact_hides_the_password() {
        let shown = redact("postgres://u:secret@db.example/admin");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }
}
