//! The scenarios: each a [`Flow`] that performs one unit of work on a connection and checks
//! the answer is the right one (a 200 with the wrong body is an error too).

use crate::http::{Call, Conn, Reply};
use crate::load::Flow;
use crate::server::Account;
use crate::signin::{self, App};
use anyhow::{Result, anyhow, bail};
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use tessera_domain::{Clock, SystemClock};

fn contains(body: &Bytes, needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn ok_with(r: Reply, needle: &[u8]) -> Result<()> {
    if r.status != StatusCode::OK {
        bail!("HTTP {}: {}", r.status, r.snippet());
    }
    if !contains(&r.body, needle) {
        bail!(
            "HTTP 200 without {:?}: {}",
            String::from_utf8_lossy(needle),
            r.snippet()
        );
    }
    Ok(())
}

/// Discovery and JWKS, alternately: what every relying app and API gateway fetches.
pub struct Discovery {
    pub turn: bool,
}

impl Flow for Discovery {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        self.turn = !self.turn;
        if self.turn {
            ok_with(
                conn.get("/.well-known/openid-configuration").await?,
                b"\"jwks_uri\"",
            )?;
        } else {
            ok_with(conn.get("/jwks.json").await?, b"\"keys\"")?;
        }
        Ok(1)
    }
}

/// A service getting a token for itself (client_secret_basic).
pub struct ClientCredentials {
    pub basic: String,
}

impl Flow for ClientCredentials {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let call = Call::form("/token", &[("grant_type", "client_credentials")])
            .header(header::AUTHORIZATION, &self.basic)?;
        ok_with(conn.send(call).await?, b"\"access_token\"")?;
        Ok(1)
    }
}

/// A relying app refreshing: each connection carries its own token family, and every answer
/// must rotate the refresh token (the old one is spent).
pub struct Refresh {
    pub app: App,
    pub token: String,
}

impl Flow for Refresh {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let call = Call::form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", self.token.as_str()),
            ],
        )
        .header(header::AUTHORIZATION, &self.app.basic)?;
        let r = conn.send(call).await?.expect(StatusCode::OK)?;
        let v = r.json()?;
        let next = v
            .get("refresh_token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("no refresh_token in the answer"))?;
        if next == self.token {
            bail!("the refresh token was not rotated");
        }
        if v.get("access_token").and_then(Value::as_str).is_none() {
            bail!("no access_token in the answer");
        }
        self.token = next.to_owned();
        Ok(1)
    }
}

/// A resource server asking whether a user's access token is live (RFC 7662).
pub struct Introspection {
    pub basic: String,
    pub token: String,
}

impl Flow for Introspection {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let call = Call::form("/introspect", &[("token", self.token.as_str())])
            .header(header::AUTHORIZATION, &self.basic)?;
        ok_with(conn.send(call).await?, b"\"active\":true")?;
        Ok(1)
    }
}

/// A relying app reading the user's claims with their access token.
pub struct Userinfo {
    pub bearer: String,
}

impl Flow for Userinfo {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let call = Call::get("/userinfo").header(header::AUTHORIZATION, &self.bearer)?;
        ok_with(conn.send(call).await?, b"\"sub\"")?;
        Ok(1)
    }
}

/// The seeded accounts, shared by every connection of the full sign-in: handed out round
/// robin, and never twice in one TOTP time step (the server would refuse the replayed
/// step). With enough accounts (more than 30 s × the sign-in rate) none is ever skipped.
pub struct Accounts {
    accounts: Vec<Account>,
    next: AtomicUsize,
    last_step: Vec<AtomicI64>,
}

impl Accounts {
    pub fn new(accounts: Vec<Account>) -> Arc<Self> {
        let last_step = accounts.iter().map(|_| AtomicI64::new(i64::MIN)).collect();
        Arc::new(Self {
            accounts,
            next: AtomicUsize::new(0),
            last_step,
        })
    }

    /// The next account not yet used in `step`.
    fn pick(&self, step: i64) -> Result<&Account> {
        let n = self.accounts.len();
        for _ in 0..n {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % n;
            if self.last_step[i].swap(step, Ordering::Relaxed) != step {
                return Ok(&self.accounts[i]);
            }
        }
        bail!(
            "all {n} accounts already signed in during this 30 s TOTP step: seed more (--accounts)"
        )
    }
}

/// A new browser's whole sign-in ([`signin::full_sign_in`]) with the next account:
/// username, password (the Argon2id hash), TOTP code, session, code, token exchange. One
/// iteration is one sign-in.
pub struct FullSignIn {
    pub app: App,
    pub accounts: Arc<Accounts>,
}

impl Flow for FullSignIn {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let step = tessera_domain::mfa::time_step(SystemClock.now());
        let account = self.accounts.pick(step)?;
        signin::full_sign_in(
            conn,
            &self.app,
            &account.username,
            &account.totp_secret,
            step,
        )
        .await
    }
}

/// A signed-in browser sent to the app again ([`signin::code_flow`]): authorize with the
/// session, then the app redeems the code. One iteration is one code exchange.
pub struct CodeFlow {
    pub app: App,
    pub jar: signin::Jar,
}

impl Flow for CodeFlow {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        let (_, n) = signin::code_flow(conn, &mut self.jar, &self.app).await?;
        Ok(n)
    }
}

/// The ceiling's bare "hello" (served by `tessera-bench hello`).
pub struct Hello;

impl Flow for Hello {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        ok_with(conn.get("/").await?, b"hello")?;
        Ok(1)
    }
}
