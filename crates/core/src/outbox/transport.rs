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
