//! How messages leave Tessera: an SMTP relay for email, an HTTP webhook for SMS.

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use tessera_domain::outbox::OutboxMessage;

/// Sends one message. An `Err` is retried later with backoff; its text is stored.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), String>;
}

/// Email through an SMTP server (`smtp://host:port`, `smtps://…`, credentials in the URL).
pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpRelay {
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("invalid SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("invalid sender address {from:?}: {e}"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Deliver for SmtpRelay {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), String> {
        let to = m
            .recipient
            .parse::<Mailbox>()
            .map_err(|e| format!("invalid recipient: {e}"))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            // A stable Message-ID: if a crash makes Tessera send a message again, the
            // receiving side can recognise the duplicate.
            .message_id(Some(format!("<{}@tessera.outbox>", m.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| format!("cannot build email: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// SMS through a webhook: `POST {"to": "+65…", "body": "…"}` as JSON; any 2xx is delivered.
pub struct SmsWebhook {
    client: reqwest::Client,
    url: String,
}

impl SmsWebhook {
    pub fn new(url: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }
}

#[async_trait]
impl Deliver for SmsWebhook {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), String> {
        let response = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({ "to": m.recipient, "body": m.body }))
            .send()
            .await
            .map_err(|e| format!("SMS webhook: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("SMS webhook answered {}", response.status()))
        }
    }
}

/// Back-channel logout: signs a logout token (at delivery, so `iat` is fresh) and POSTs it
/// as `logout_token` to the app (OIDC Back-Channel Logout 1.0 §2.5).
pub struct BackchannelLogoutSender {
    app: crate::App,
    client: reqwest::Client,
}

impl BackchannelLogoutSender {
    pub fn new(app: crate::App) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Self { app, client })
    }
}

#[async_trait]
impl Deliver for BackchannelLogoutSender {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), String> {
        let notice: serde_json::Value =
            serde_json::from_str(&m.body).map_err(|e| format!("bad notice: {e}"))?;
        let field = |k: &str| {
            notice
                .get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let alg = tessera_domain::oauth::SigningAlg::parse(&field("alg"))
            .unwrap_or(tessera_domain::oauth::SigningAlg::RS256);
        let now = self.app.clock.now();
        let mut jti = [0u8; 16];
        self.app.random.fill(&mut jti);
        use base64::Engine;
        let claims = serde_json::json!({
            "iss": self.app.settings.issuer,
            "aud": field("client_id"),
            "iat": now.unix_timestamp(),
            "exp": (now + time::Duration::minutes(2)).unix_timestamp(),
            "jti": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti),
            "sub": field("sub"),
            "sid": field("sid"),
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        let signer = crate::oidc::keys::current(&self.app)
            .await
            .map_err(|e| e.to_string())?
            .signer(alg)
            .map_err(|e| e.to_string())?;
        let token = signer
            .sign("logout+jwt", &claims)
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .post(&m.recipient)
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_err(|e| format!("back-channel logout: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "back-channel logout endpoint answered {}",
                response.status()
            ))
        }
    }
}
