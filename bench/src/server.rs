//! The server under test: a temporary database (SQLite file, or a database on a throwaway
//! PostgreSQL cluster), seeded with the `tessera` CLI, then `tessera serve` on a free
//! loopback port. Stopped (SIGTERM, then kill) when dropped.

use crate::procstat;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_core::PasswordHasher;
use tessera_core::secrets::SecretKeys;
use tessera_domain::mfa::TotpCredential;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_domain::{Clock, CredentialId, OsRandom, Random, SystemClock, UserId};

/// The password of the benchmark's user (the bootstrap administrator).
pub const PASSWORD: &str = "correct-horse-battery-staple-42";
pub const USERNAME: &str = "bench";
/// Never contacted: the code is read from the redirect's Location header.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// What the CLI created.
#[derive(Clone, Debug)]
pub struct Seed {
    pub user_id: String,
    /// authorization_code + refresh_token, ES256 ID tokens.
    pub web_client: (String, String),
    /// client_credentials; also the introspecting resource server.
    pub service_client: (String, String),
    /// The sign-in accounts ([`seed_accounts`]): username and TOTP key.
    pub accounts: Vec<Account>,
}

/// One of the seeded sign-in accounts: active, password [`PASSWORD`], a confirmed TOTP key.
#[derive(Clone, Debug)]
pub struct Account {
    pub username: String,
    pub totp_secret: Vec<u8>,
}

pub struct Server {
    bin: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub addr: SocketAddr,
    pub database_url: String,
    pub store: Store,
    /// The postmaster, for CPU accounting.
    pub postmaster: Option<u32>,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Creates the database, seeds it and starts `tessera serve`.
    /// `accounts`: how many sign-in accounts to seed besides the administrator.
    pub async fn start(bin: &Path, store: Store, accounts: usize) -> Result<(Self, Seed)> {
        let bin = bin
            .canonicalize()
            .with_context(|| format!("the tessera binary {} is missing", bin.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("tessera-bench-")
            .tempdir()?;
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let (database_url, postmaster) = match store {
            Store::Sqlite => (
                format!("sqlite://{}", dir.path().join("tessera.db").display()),
                None,
            ),
            Store::Postgres => {
                let cluster = tessera_testpg::shared_cluster().map_err(|e| anyhow!(e))?;
                let url = cluster.create_database().await.map_err(|e| anyhow!(e))?;
                let pg_port = url::Url::parse(&url)?.port().unwrap_or(5432);
                let pm = procstat::postmaster_on_port(pg_port);
                if pm.is_none() {
                    eprintln!(
                        "bench: warning: PostgreSQL's processes not found; its CPU is not counted"
                    );
                }
                (url, pm)
            }
        };
        let mut env = vec![
            ("TESSERA_DATABASE_URL".to_owned(), database_url.clone()),
            ("TESSERA_ISSUER".to_owned(), format!("http://{addr}")),
            ("TESSERA_LISTEN".to_owned(), addr.to_string()),
        ];
        // Chosen here, not by the server: the seeded TOTP keys are sealed under it.
        let key = SecretKeys::generate_master(&OsRandom);
        env.push(("TESSERA_SECRET_KEY".to_owned(), key.clone()));
        let log = dir.path().join("serve.log");
        let mut server = Self {
            bin,
            env,
            child: None,
            addr,
            database_url,
            store,
            postmaster,
            log,
            _dir: dir,
        };
        let mut seed = server.seed()?;
        seed.accounts = seed_accounts(store, &server.database_url, &key, accounts).await?;
        server.spawn().await?;
        Ok((server, seed))
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        run_cli(&self.bin, &self.env, args, stdin)
    }

    fn cli_json(&self, args: &[&str], stdin: Option<&str>) -> Result<Value> {
        let out = self.cli(args, stdin)?;
        serde_json::from_str(&out).with_context(|| format!("tessera {args:?} printed {out:?}"))
    }

    fn seed(&self) -> Result<Seed> {
        self.cli(&["migrate"], None)?;
        let user = self.cli_json(
            &[
                "admin",
                "bootstrap",
                "--json",
                "--username",
                USERNAME,
                "--email",
                "bench@example.com",
                "--password-stdin",
            ],
            Some(PASSWORD),
        )?;
        self.cli_json(
            &[
                "admin", "tenant", "create", "--json", "--slug", "bench", "--name", "Bench",
            ],
            None,
        )?;
        let web = self.cli_json(
            &[
                "admin",
                "app",
                "create",
                "--json",
                "--tenant",
                "bench",
                "--name",
                "Bench web app",
                "--redirect-uri",
                REDIRECT_URI,
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
                "--id-token-alg",
                "ES256",
            ],
            None,
        )?;
        let service = self.cli_json(
            &[
                "admin",
                "app",
                "create",
                "--json",
                "--tenant",
                "bench",
                "--name",
                "Bench service",
                "--grant",
                "client_credentials",
                "--scope",
                "api.read",
            ],
            None,
        )?;
        let pair = |v: &Value| -> Result<(String, String)> {
            let s = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("app create printed no {k}: {v}"))
            };
            Ok((s("client_id")?, s("client_secret")?))
        };
        Ok(Seed {
            user_id: user
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("bootstrap printed no id: {user}"))?
                .to_owned(),
            web_client: pair(&web)?,
            service_client: pair(&service)?,
            accounts: Vec::new(),
        })
    }

    async fn spawn(&mut self) -> Result<()> {
        let log = std::fs::File::create(&self.log)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?);
        cmd.stderr(log);
        clean_env(&mut cmd, &self.env);
        let child = cmd.spawn().context("starting tessera serve")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                bail!(
                    "tessera serve exited ({status}) at start:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(mut conn) = crate::http::Conn::open(self.addr).await
                && let Ok(r) = conn.get("/healthz").await
                && r.status.is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "tessera serve did not answer within 60 s:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, a graceful drain, then a kill if it takes too long.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _killed = child.kill();
        let _reaped = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The child sees only the `TESSERA_*` settings given here, never the caller's.
fn clean_env(cmd: &mut Command, env: &[(String, String)]) {
    for (k, _) in std::env::vars() {
        if k.starts_with("TESSERA_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
}

fn run_cli(
    bin: &Path,
    env: &[(String, String)],
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String> {
    let mut cmd = Command::new(bin);
    clean_env(&mut cmd, env);
    cmd.args(args)
        .env("TESSERA_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {} {args:?}", bin.display()))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "tessera {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Seeds `n` accounts that can sign in fully (`bench-u00000`, …): active, no initial
/// password, a confirmed TOTP key sealed under the server's secret key exactly as
/// enrolment seals it (context `totp:` + the credential id). Written through the store crate
/// the server uses, before it starts. One Argon2id hash (production parameters) serves every
/// account: the same password, and a PHC string verifies whoever holds it.
async fn seed_accounts(
    store: Store,
    database_url: &str,
    key: &str,
    n: usize,
) -> Result<Vec<Account>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let keys = SecretKeys::from_master(
        &SecretKeys::parse_master(key).map_err(|e| anyhow!("secret key: {e}"))?,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let random = OsRandom;
    let hash = PasswordHasher::new(&random)
        .map_err(|e| anyhow!("{e}"))?
        .hash(PASSWORD, &random)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let db = crate::sessions::open(store, database_url).await?;
    let now = SystemClock.now();
    let mut accounts = Vec::with_capacity(n);
    let indexes: Vec<usize> = (0..n).collect();
    for chunk in indexes.chunks(500) {
        let mut tx = db.begin().await.map_err(|e| anyhow!("{e}"))?;
        for i in chunk {
            let name = format!("bench-u{i:05}");
            let user = User {
                id: UserId::new_at(now, &random),
                username: Username::parse(&name).map_err(|e| anyhow!("{name}: {e}"))?,
                given_name: "Bench".into(),
                family_name: format!("User {i}"),
                email: EmailAddress::parse(&format!("{name}@example.com"))
                    .map_err(|e| anyhow!("{name}: {e}"))?,
                mobile: None,
                department: "Bench".into(),
                user_type: UserType::Officer,
                state: UserState::Active,
                platform_admin: false,
                password_hash: Some(hash.clone()),
                password_is_initial: false,
                sponsor: None,
                offshore: None,
                device_onboarding: false,
                activation_deadline: None,
                reminders_sent: 0,
                phone_verified_at: Some(now),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            tx.insert_user(&user).await.map_err(|e| anyhow!("{e}"))?;
            let id = CredentialId::new_at(now, &random);
            let mut secret = [0u8; 20];
            random.fill(&mut secret);
            let context = [b"totp:".as_slice(), id.as_uuid().as_bytes()].concat();
            let credential = TotpCredential {
                id,
                user_id: user.id,
                sealed_secret: keys
                    .seal(&secret, &context, &random)
                    .map_err(|e| anyhow!("{e}"))?,
                label: "Authenticator app".into(),
                created_at: now,
                confirmed_at: Some(now),
                last_used_step: 0,
                version: 1,
            };
            tx.insert_totp(&credential)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            accounts.push(Account {
                username: name,
                totp_secret: secret.to_vec(),
            });
        }
        tx.commit().await.map_err(|e| anyhow!("{e}"))?;
    }
    Ok(accounts)
}
