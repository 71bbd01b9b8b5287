//! The sign-in of a relying app's user, as a browser and the app's backend perform it, one
//! HTTP request per step:
//!
//! 1. the app sends the browser to `/authorize` (code + PKCE S256) → redirect to `/signin`;
//! 2. the username form, then the username posted → the password page;
//! 3. the password posted (CSRF: same-origin headers) → the authenticator-code page;
//! 4. the TOTP code posted → `/signin/complete` → a session cookie, back to `/authorize`;
//! 5. `/authorize` with the session → redirect to the app with a code;
//! 6. the app's backend redeems the code at `/token` → access, ID and refresh tokens.
//!
//! TOTP refuses a time step that already signed the account in, so one account signs in
//! fully at most once per 30 s: [`full_sign_in`] (all six steps, a new browser each time)
//! runs over many seeded accounts, each never twice in one time step (the caller picks
//! the account). The bootstrap administrator signs in once, in [`enrol_and_sign_in`]
//! (through the wizard's authenticator enrolment), and that browser feeds [`code_flow`]
//! (steps 5–6 again with the session) and the token scenarios.

use crate::http::{Call, Conn, Reply};
use crate::server::{PASSWORD, REDIRECT_URI, USERNAME};
use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::StatusCode;
use hyper::header;
use serde_json::Value;
use std::collections::BTreeMap;
use tessera_domain::Clock;

/// Tokens from one code exchange.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// The relying app: who it is, and how it authenticates at the token endpoint.
#[derive(Clone, Debug)]
pub struct App {
    pub client_id: String,
    pub basic: String,
}

/// `Authorization: Basic …` for a client id and secret (each form-urlencoded first).
pub fn basic(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
    )
}

pub fn random_token() -> Result<String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow!("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// A browser's cookies.
#[derive(Clone, Debug, Default)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, r: &Reply) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let Some(pair) = v.to_str().ok().and_then(|v| v.split(';').next()) else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.0.remove(k.trim());
                } else {
                    self.0.insert(k.trim().to_owned(), v.to_owned());
                }
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn send(&mut self, conn: &mut Conn, mut call: Call<'_>) -> Result<Reply> {
        if let Some(c) = self.header() {
            call = call.header(header::COOKIE, &c)?;
        }
        let r = conn.send(call).await?;
        self.take(&r);
        Ok(r)
    }

    /// A POST of a portal form, with the headers the CSRF check wants from a browser.
    async fn post(
        &mut self,
        conn: &mut Conn,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Reply> {
        let origin = format!("http://{}", conn.addr());
        let call = Call::form(path, fields)
            .header(header::ORIGIN, &origin)?
            .header(
                header::HeaderName::from_static("sec-fetch-site"),
                "same-origin",
            )?;
        self.send(conn, call).await
    }
}

fn query_param(location: &str, name: &str) -> Result<String> {
    let url = url::Url::parse("http://x.invalid")?.join(location)?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow!("{location} has no {name} parameter"))
}

fn redirect(r: Reply, step: &str) -> Result<String> {
    if !r.status.is_redirection() {
        bail!(
            "{step}: HTTP {} instead of a redirect: {}",
            r.status,
            r.snippet()
        );
    }
    Ok(r.location()?.to_owned())
}

/// One authorization request's PKCE verifier and state.
struct Request {
    verifier: String,
    state: String,
    path: String,
}

fn authorization_request(app: &App) -> Result<Request> {
    let verifier = random_token()?;
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    let state = random_token()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email"),
            ("state", state.as_str()),
            ("nonce", state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    Ok(Request {
        verifier,
        state,
        path: format!("/authorize?{query}"),
    })
}

/// Steps 1–3 with a new browser: authorize, username, password. Returns the browser, the
/// path it was sent to after the password (the second factor's page), the authorization
/// request, and the number of requests.
async fn password_steps(
    conn: &mut Conn,
    app: &App,
    username: &str,
) -> Result<(Jar, String, Request, u32)> {
    let mut jar = Jar::default();
    let req = authorization_request(app)?;
    let signin = redirect(jar.send(conn, Call::get(&req.path)).await?, "Authorize")?;
    if !signin.starts_with("/signin") {
        bail!("Authorize: sent to {signin} instead of /signin");
    }
    let next = query_param(&signin, "next")?;
    jar.send(conn, Call::get(&signin))
        .await?
        .expect(StatusCode::OK)
        .context("username form")?;
    let to_password = redirect(
        jar.post(
            conn,
            "/signin",
            &[("username", username), ("next", next.as_str())],
        )
        .await?,
        "Username",
    )?;
    jar.send(conn, Call::get(&to_password))
        .await?
        .expect(StatusCode::OK)
        .context("password page")?;
    let after = redirect(
        jar.post(conn, &to_password, &[("password", PASSWORD)])
            .await?,
        "Password",
    )?;
    Ok((jar, after, req, 5))
}

fn base32_decode(text: &str) -> Result<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = match c.to_ascii_uppercase() {
            x @ 'A'..='Z' => x as u64 - 'A' as u64,
            x @ '2'..='7' => x as u64 - '2' as u64 + 26,
            other => bail!("not base32: {other:?}"),
        };
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push(((bits >> n) & 0xff) as u8);
        }
    }
    Ok(out)
}

/// The key the enrolment page shows for typing by hand (`id="totp-key"`, base32 in groups).
fn totp_secret(page: &str) -> Result<Vec<u8>> {
    let marker = "id=\"totp-key\">";
    let at = page
        .find(marker)
        .ok_or_else(|| anyhow!("the authenticator page shows no key (id=\"totp-key\")"))?;
    let rest = &page[at + marker.len()..];
    let end = rest.find('<').unwrap_or(rest.len());
    base32_decode(&rest[..end])
}

fn totp_now(secret: &[u8]) -> String {
    let now = tessera_domain::SystemClock.now();
    tessera_domain::mfa::totp_code(secret, tessera_domain::mfa::time_step(now))
}

/// The first sign-in of the benchmark's account: steps 1–3, the onboarding wizard's
/// authenticator enrolment (its first code is step 4), then `/signin/complete`. Returns the
/// signed-in browser (for [`code_flow`]) and the TOTP key.
pub async fn enrol_and_sign_in(conn: &mut Conn, app: &App) -> Result<(Jar, Vec<u8>)> {
    let (mut jar, mut at, _, _) = password_steps(conn, app, USERNAME).await?;
    let mut secret = Vec::new();
    for _ in 0..8 {
        match at.as_str() {
            "/signin/setup/authenticator" => {
                let page = jar
                    .send(conn, Call::get(&at))
                    .await?
                    .expect(StatusCode::OK)
                    .context("authenticator page")?;
                secret = totp_secret(&String::from_utf8_lossy(&page.body))?;
                let code = totp_now(&secret);
                at = redirect(
                    jar.post(conn, &at, &[("code", code.as_str())]).await?,
                    "Enrolment",
                )?;
            }
            "/signin/complete" => {
                at = redirect(jar.send(conn, Call::get(&at)).await?, "Complete")?;
            }
            p if p.starts_with("/authorize") => {
                // Signed in; the browser would now finish the app's request.
                return Ok((jar, secret));
            }
            other => bail!("the first sign-in stopped at {other}, which the benchmark cannot pass"),
        }
    }
    bail!("the first sign-in did not finish")
}

/// Steps 5–6 for a signed-in browser: `/authorize` → code → `/token`.
pub async fn code_flow(conn: &mut Conn, jar: &mut Jar, app: &App) -> Result<(Tokens, u32)> {
    let req = authorization_request(app)?;
    let to_app = redirect(jar.send(conn, Call::get(&req.path)).await?, "Code")?;
    Ok((redeem(conn, app, &req, &to_app).await?, 2))
}

/// Step 6: the app checks the redirect it got back (state) and redeems its code at `/token`.
async fn redeem(conn: &mut Conn, app: &App, req: &Request, to_app: &str) -> Result<Tokens> {
    if !to_app.starts_with(REDIRECT_URI) {
        bail!("Code: sent to {to_app} instead of the app");
    }
    if query_param(to_app, "state")? != req.state {
        bail!("Code: state changed on the way");
    }
    let code = query_param(to_app, "code")?;
    let call = Call::form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", req.verifier.as_str()),
        ],
    )
    .header(header::AUTHORIZATION, &app.basic)?;
    let tokens: Value = conn
        .send(call)
        .await?
        .expect(StatusCode::OK)
        .context("Token")?
        .json()?;
    let s = |k: &str| {
        tokens
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("Token: no {k} in the response"))
    };
    s("id_token")?;
    Ok(Tokens {
        access_token: s("access_token")?,
        refresh_token: s("refresh_token")?,
    })
}

/// The whole sign-in of an enrolled account with a new browser, steps 1–6, 10 requests:
/// `/authorize` → `/signin` → username → `/signin/password` → password → `/signin/code` →
/// the TOTP code of `step` (RFC 6238, computed here as an authenticator app does) →
/// `/signin/complete` → `/authorize` with the new session → the app redeems the code.
pub async fn full_sign_in(
    conn: &mut Conn,
    app: &App,
    username: &str,
    secret: &[u8],
    step: i64,
) -> Result<u32> {
    let (mut jar, after, req, n) = password_steps(conn, app, username).await?;
    if after != "/signin/code" {
        bail!("Password: sent to {after} instead of the code page");
    }
    jar.send(conn, Call::get(&after))
        .await?
        .expect(StatusCode::OK)
        .context("code page")?;
    let code = tessera_domain::mfa::totp_code(secret, step);
    let complete = redirect(
        jar.post(conn, &after, &[("code", code.as_str())]).await?,
        "Code",
    )?;
    if complete != "/signin/complete" {
        bail!("Code: sent to {complete} instead of /signin/complete");
    }
    let back = redirect(jar.send(conn, Call::get(&complete)).await?, "Complete")?;
    if !back.starts_with("/authorize") {
        bail!("Complete: sent to {back} instead of back to /authorize");
    }
    let to_app = redirect(jar.send(conn, Call::get(&back)).await?, "Authorize again")?;
    redeem(conn, app, &req, &to_app).await?;
    Ok(n + 5)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base32_round_trips_with_the_domain_encoder() {
        let key = b"12345678901234567890";
        let text = tessera_domain::mfa::base32(key);
        assert_eq!(base32_decode(&text).unwrap(), key);
        let grouped: Vec<String> = text
            .as_bytes()
            .chunks(4)
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect();
        let page = format!("<code id=\"totp-key\">{}</code>", grouped.join(" "));
        assert_eq!(totp_secret(&page).unwrap(), key);
    }
}
