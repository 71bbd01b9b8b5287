//! The scenarios: each a [`Flow`] that performs one unit of work on a connection and checks
//! the answer is the right one (a 200 with the wrong body is an error too).

use crate::http::{Call, Conn, Reply};
use crate::load::Flow;
use crate::signin::{self, App};
use anyhow::{Result, anyhow, bail};
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header;
use serde_json::Value;

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

/// A new browser's sign-in up to its second factor ([`signin::to_second_factor`]): where
/// the password's Argon2id hash is. One iteration is one sign-in.
pub struct SignIn {
    pub app: App,
}

impl Flow for SignIn {
    async fn step(&mut self, conn: &mut Conn) -> Result<u32> {
        signin::to_second_factor(conn, &self.app).await
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
