//! What every handler can reach: the core app, templates and web settings.

use crate::Templates;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tessera_core::App;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct WebState {
    pub app: App,
    pub templates: Arc<Templates>,
    pub settings: Arc<WebSettings>,
}

#[derive(Clone)]
pub struct WebSettings {
    /// Set cookies with `Secure` and send HSTS: true when the issuer is https.
    pub secure_cookies: bool,
    /// Shown to administrators: "outbox only", "SMTP", …
    pub delivery_mode: String,
    /// Renders `/metrics`; absent when another server in this process owns the recorder.
    pub metrics: Option<PrometheusHandle>,
    /// Wakes the outbox worker after a request queued a message.
    pub outbox_waker: Option<Arc<Notify>>,
}

impl WebState {
    pub fn new(app: App, templates: Templates, settings: WebSettings) -> Self {
        Self {
            app,
            templates: Arc::new(templates),
            settings: Arc::new(settings),
        }
    }

    pub fn wake_outbox(&self) {
        if let Some(w) = &self.settings.outbox_waker {
            w.notify_one();
        }
    }

    pub fn session_cookie_name(&self) -> &'static str {
        // The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only
        // and Path=/; it can only be used over https.
        if self.settings.secure_cookies {
            "__Host-tessera_session"
        } else {
            "tessera_session"
        }
    }
}
