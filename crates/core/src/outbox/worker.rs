//! Delivers queued messages: leases due ones, sends them, records the outcome, retries with
//! backoff. Any number of workers on any number of nodes may run; a lease keeps a message
//! with one worker at a time. Delivery is at least once: a crash after sending and before
//! recording sends that one message again, with the same Message-ID.

use super::Deliver;
use crate::{App, CoreError};
use std::sync::Arc;
use std::time::Duration;
use tessera_domain::outbox::{CLAIM_BATCH, CLAIM_LEASE, Channel, DeliveryStatus, after_failure};
use tokio::sync::{Notify, watch};

pub struct DeliveryWorker {
    app: App,
    email: Option<Arc<dyn Deliver>>,
    sms: Option<Arc<dyn Deliver>>,
    /// Always on: logout notices go to the apps' own URLs.
    backchannel: Option<Arc<dyn Deliver>>,
    wake: Arc<Notify>,
    poll_interval: Duration,
    lease: time::Duration,
}

impl DeliveryWorker {
    pub fn new(app: App, email: Option<Arc<dyn Deliver>>, sms: Option<Arc<dyn Deliver>>) -> Self {
        let backchannel = super::BackchannelLogoutSender::new(app.clone())
            .map(|s| Arc::new(s) as Arc<dyn Deliver>)
            .map_err(|e| tracing::error!(error = %e, "back-channel logout delivery is off"))
            .ok();
        Self {
            app,
            email,
            sms,
            backchannel,
            wake: Arc::new(Notify::new()),
            poll_interval: Duration::from_millis(500),
            lease: CLAIM_LEASE,
        }
    }

    /// How long claimed messages stay with this worker before another may retry them.
    pub fn with_lease(mut self, lease: time::Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Channels this worker can deliver; messages of other channels stay held.
    pub fn channels(&self) -> Vec<Channel> {
        let mut c = Vec::new();
        if self.email.is_some() {
            c.push(Channel::Email);
        }
        if self.sms.is_some() {
            c.push(Channel::Sms);
        }
        if self.backchannel.is_some() {
            c.push(Channel::BackchannelLogout);
        }
        c
    }

    /// A handle that makes the worker look for work at once.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers one batch of due messages; returns how many it tried.
    pub async fn run_once(&self) -> Result<usize, CoreError> {
        let channels = self.channels();
        if channels.is_empty() {
            return Ok(0);
        }
        let now = self.app.clock.now();
        let mut tx = self.app.db.begin().await?;
        let batch = tx
            .claim_due_messages(&channels, now, now + self.lease, CLAIM_BATCH)
            .await?;
        tx.commit().await?;

        for message in &batch {
            let transport = match message.channel {
                Channel::Email => self.email.as_ref(),
                Channel::Sms => self.sms.as_ref(),
                Channel::BackchannelLogout => self.backchannel.as_ref(),
            };
            let Some(transport) = transport else { continue };
            let outcome = transport.deliver(message).await;
            let now = self.app.clock.now();
            let mut tx = self.app.db.begin().await?;
            match &outcome {
                Ok(()) => tx.mark_delivered(message.id, now).await?,
                Err(error) => {
                    let (status, next) = after_failure(message.attempts, now);
                    tx.mark_attempt_failed(message.id, status, next, error)
                        .await?;
                }
            }
            tx.commit().await?;
            let result = match (&outcome, message.attempts) {
                (Ok(()), _) => "delivered",
                (Err(_), n) if n >= tessera_domain::outbox::MAX_ATTEMPTS => "failed",
                (Err(_), _) => "retry",
            };
            metrics::counter!("tessera_outbox_deliveries_total", "channel" => message.channel.as_str(), "result" => result)
                .increment(1);
            match outcome {
                Ok(()) => {
                    tracing::info!(id = %message.id, channel = message.channel.as_str(), attempt = message.attempts, "message delivered")
                }
                Err(error) => {
                    tracing::warn!(id = %message.id, channel = message.channel.as_str(), attempt = message.attempts, %error, "message delivery failed")
                }
            }
        }
        Ok(batch.len())
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let worked = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox worker could not run a batch");
                    0
                }
            };
            if let Ok(mut r) = self.app.db.read().await
                && let Ok(pending) = r.count_outbox(DeliveryStatus::Pending).await
            {
                metrics::gauge!("tessera_outbox_pending").set(pending as f64);
            }
            if worked == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    _ = self.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
