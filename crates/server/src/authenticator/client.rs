//! The push API over HTTP: register a device, list pending challenges, answer one.
//! Errors are RFC 9457 problem documents; each becomes one line.

use super::keyfile::Device;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tessera_domain::PushChallengeId;
use tessera_domain::push::{request_message, response_message};

#[derive(Serialize)]
struct RegisterRequest<'a> {
    token: &'a str,
    name: &'a str,
    alg: &'a str,
    public_key: String,
}

#[derive(Debug, Deserialize)]
pub struct Registered {
    pub device_id: String,
    pub username: String,
    #[serde(default)]
    pub issuer: String,
}

/// A pending sign-in challenge (without its number: the user types that).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Challenge {
    pub id: String,
    pub app_name: String,
    pub source_ip: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Deserialize)]
struct ChallengeList {
    challenges: Vec<Challenge>,
}

#[derive(Serialize)]
struct Answer<'a> {
    device_id: String,
    number: u8,
    decision: &'a str,
    signature: String,
}

/// The server's verdict on an answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct Outcome {
    /// approved, denied, reported or wrong_number.
    pub status: String,
    /// With wrong_number: how many more numbers may be tried (0: the sign-in is denied).
    #[serde(default)]
    pub tries_left: Option<u32>,
}

/// A refusal: the status and the problem document's words.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Default, Deserialize)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    server: String,
}

pub enum Error {
    /// The server answered with an error status.
    Refused(Refused),
    /// No answer, or one that could not be read.
    Other(String),
}

impl Error {
    /// One line for the user; `what` names the request ("enrolment", …).
    pub fn line(self, what: &str) -> String {
        match self {
            Self::Refused(r) => format!("{what} refused ({}): {}", r.status, r.message),
            Self::Other(m) => format!("{what} failed: {m}"),
        }
    }
}

impl Client {
    pub fn new(server: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("tessera-authenticator/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(20))
            // Signed requests go to the server the key was enrolled with, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/push/v1/{path}", self.server)
    }

    /// `POST /api/push/v1/devices` with the enrolment token and the public key.
    pub async fn register(
        &self,
        token: &str,
        name: &str,
        alg: &str,
        public_key: &[u8],
    ) -> Result<Registered, Error> {
        let body = RegisterRequest {
            token,
            name,
            alg,
            public_key: URL_SAFE_NO_PAD.encode(public_key),
        };
        let response = self.http.post(self.url("devices")).json(&body).send();
        read(response.await).await
    }

    /// `GET /api/push/v1/challenges`, signed: the device's pending challenges, oldest first.
    pub async fn challenges(&self, device: &Device, now: i64) -> Result<Vec<Challenge>, Error> {
        let signature = device
            .key
            .sign(&request_message("list", device.id, now))
            .map_err(Error::Other)?;
        let response = self
            .http
            .get(self.url("challenges"))
            .header("X-Tessera-Device", device.id.to_string())
            .header("X-Tessera-Time", now.to_string())
            .header("X-Tessera-Signature", URL_SAFE_NO_PAD.encode(signature))
            .send();
        read::<ChallengeList>(response.await)
            .await
            .map(|l| l.challenges)
    }

    /// `POST /api/push/v1/challenges/{id}`: the signed decision (and number).
    pub async fn answer(
        &self,
        device: &Device,
        challenge: PushChallengeId,
        number: u8,
        decision: &str,
    ) -> Result<Outcome, Error> {
        let signature = device
            .key
            .sign(&response_message(challenge, number, decision, device.id))
            .map_err(Error::Other)?;
        let body = Answer {
            device_id: device.id.to_string(),
            number,
            decision,
            signature: URL_SAFE_NO_PAD.encode(signature),
        };
        let response = self
            .http
            .post(self.url(&format!("challenges/{challenge}")))
            .json(&body)
            .send();
        read(response.await).await
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, Error> {
    let response = response.map_err(|e| Error::Other(describe(&e)))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::Other(describe(&e)))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| {
            Error::Other(format!("unexpected answer from the server ({status}): {e}"))
        });
    }
    let problem: Problem = serde_json::from_slice(&bytes).unwrap_or_default();
    let message = match (problem.title, problem.detail) {
        (_, Some(detail)) if !detail.is_empty() => detail,
        (Some(title), _) if !title.is_empty() => title,
        _ => status
            .canonical_reason()
            .unwrap_or("no explanation given")
            .to_owned(),
    };
    Err(Error::Refused(Refused {
        status,
        message: one_line(&message),
    }))
}

/// reqwest's error and its causes, on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    one_line(&text)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
