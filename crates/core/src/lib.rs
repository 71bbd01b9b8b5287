//! Tessera's use cases. Each flow is a module that decides, then persists through the store
//! traits in one transaction (state change, audit event and outbox message together).

pub mod account;
pub mod admin;
pub mod audit;
pub mod error;
pub mod lifecycle;
pub mod my_account;
pub mod oidc;
pub mod outbox;
pub mod passkeys;
pub mod passwords;
pub mod policies;
pub mod push;
pub mod secrets;
pub mod setup;
pub mod signin;
pub mod sms_code;
pub mod tenants;

use std::sync::Arc;
use tessera_domain::audit::AuditEvent;
use tessera_domain::outbox::{DeliveryStatus, NewMessage, OutboxMessage};
use tessera_domain::{Clock, OutboxMessageId, Random};
use tessera_store::{Database, Tx};

pub use error::CoreError;
pub use passwords::PasswordHasher;

/// Everything a flow needs, injected: storage, time, randomness, hashing, settings.
#[derive(Clone)]
pub struct App {
    pub db: Arc<dyn Database>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub passwords: PasswordHasher,
    pub settings: Arc<CoreSettings>,
    /// Derived from the node-shared secret key: seals signing keys, HMACs client secrets.
    pub secrets: Arc<secrets::SecretKeys>,
    /// The signing keys, cached (see `oidc::keys`).
    pub keys: Arc<oidc::keys::Keyring>,
}

/// Settings the flows read (the server maps its configuration onto these).
#[derive(Clone, Debug)]
pub struct CoreSettings {
    /// Public base URL, e.g. `http://localhost:8080`; links in messages start with it.
    pub issuer: String,
}

impl CoreSettings {
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }
}

impl App {
    /// Writes an audit event as part of `tx`. Call it last before `commit`: on PostgreSQL
    /// it takes the chain lock, which is then held only until the commit.
    pub async fn audit(&self, tx: &mut dyn Tx, event: AuditEvent) -> Result<(), CoreError> {
        tx.append_audit(&event).await?;
        Ok(())
    }

    /// Queues a message in the same transaction as the change that causes it.
    pub async fn queue(
        &self,
        tx: &mut dyn Tx,
        message: NewMessage,
    ) -> Result<OutboxMessageId, CoreError> {
        let now = self.clock.now();
        let id = OutboxMessageId::new_at(now, self.random.as_ref());
        let channel = message.channel;
        tx.enqueue_message(&OutboxMessage {
            id,
            channel,
            recipient: message.recipient,
            subject: message.subject,
            body: message.body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        })
        .await?;
        // Metadata only: bodies can carry links and codes, which never go to logs. Until a
        // transport is configured, administrators read them at /admin/outbox.
        tracing::info!(%id, channel = channel.as_str(), "message queued in the outbox");
        Ok(id)
    }
}
