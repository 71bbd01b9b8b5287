//! The machine's limits, measured in the same run as the scenarios: Argon2id hashes with
//! the server's own hasher and parameters, ES256 JWS signatures with the server's own
//! signer, and a bare HTTP "hello" on the same stack (tokio + hyper + axum), in its own
//! process like the server.

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera_core::PasswordHasher;
use tessera_core::oidc::jws::Signer;
use tessera_domain::OsRandom;
use tessera_domain::oauth::SigningAlg;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Ceilings {
    pub cores: usize,
    /// Argon2id hashes per second on all cores, through `tessera_core::PasswordHasher`
    /// (its production parameters; a sign-in verifies one such hash).
    pub argon2_per_s: f64,
    /// The same per second of CPU: what one fully busy core hashes.
    pub argon2_per_core: f64,
    /// The parameters that hasher used, as its PHC string shows them.
    pub argon2_params: String,
    /// ES256 access-token signatures per second on all cores (`jws::Signer`, with the
    /// claims of a client_credentials token: JSON, base64url and ECDSA P-256).
    pub es256_per_s: f64,
    /// The same per second of CPU.
    pub es256_per_core: f64,
    /// The bare hello: requests per second, and per second of server CPU.
    pub hello_per_s: f64,
    pub hello_per_core: f64,
}

fn own_cpu() -> f64 {
    crate::procstat::cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// Argon2id hashes per second and per CPU-second, and the parameters: as many hashes in
/// flight as the hasher admits (one per core).
pub async fn argon2(duration: Duration) -> Result<(f64, f64, String)> {
    let hasher = PasswordHasher::new(&OsRandom).map_err(|e| anyhow!("{e}"))?;
    let sample = hasher
        .hash("sample password", &OsRandom)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let params = sample
        .split('$')
        .nth(3)
        .map(str::to_owned)
        .unwrap_or_default();
    let cores = cores();
    let count = Arc::new(AtomicU64::new(0));
    let cpu0 = own_cpu();
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..cores * 2 {
        let (h, count) = (hasher.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                if h.hash("correct horse battery staple", &OsRandom)
                    .await
                    .is_ok()
                {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let n = count.load(Ordering::Relaxed) as f64;
    let cpu = own_cpu() - cpu0;
    Ok((
        n / start.elapsed().as_secs_f64(),
        if cpu > 0.0 { n / cpu } else { 0.0 },
        params,
    ))
}

/// ES256 JWS signatures per second on all cores (one signing thread per core), and per
/// CPU-second.
pub fn es256(duration: Duration) -> Result<(f64, f64)> {
    let (signer, _) =
        Signer::generate(SigningAlg::ES256, "bench".into()).map_err(|e| anyhow!("{e}"))?;
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:8080", "sub": "bench-service-client-id-0123456789",
        "aud": "http://127.0.0.1:8080", "client_id": "bench-service-client-id-0123456789",
        "iat": 1_700_000_000, "exp": 1_700_000_300, "jti": "AAAAAAAAAAAAAAAAAAAAAA",
        "scope": "api.read",
    });
    let stop = AtomicBool::new(false);
    let count = AtomicU64::new(0);
    let cpu0 = own_cpu();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores() {
            s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if signer.sign("at+jwt", &claims).is_ok() {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
    });
    let n = count.load(Ordering::Relaxed) as f64;
    let cpu = own_cpu() - cpu0;
    Ok((
        n / start.elapsed().as_secs_f64(),
        if cpu > 0.0 { n / cpu } else { 0.0 },
    ))
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `tessera-bench hello`: serves "hello" on the same runtime as `tessera serve` (tokio's
/// default multi-threaded runtime) and the same HTTP stack (axum on hyper), nothing else.
pub fn serve_hello(listen: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("{}", listener.local_addr()?);
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// The hello server, as a child process.
pub struct HelloServer {
    child: Child,
    pub addr: SocketAddr,
}

impl HelloServer {
    pub fn start() -> Result<Self> {
        let exe = std::env::current_exe().context("finding tessera-bench itself")?;
        let mut child = Command::new(exe)
            .args(["hello", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the hello server")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("hello server: no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = match line.trim().parse() {
            Ok(a) => a,
            Err(_) => {
                let _killed = child.kill();
                let _reaped = child.wait();
                bail!("the hello server printed {line:?} instead of its address");
            }
        };
        Ok(Self { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HelloServer {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}
