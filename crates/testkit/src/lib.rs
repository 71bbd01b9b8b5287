//! Test harness: starts a real Tessera (in this process, on a free port, with a fake clock
//! and seeded randomness) on SQLite or a throwaway PostgreSQL, plus the real peers it
//! talks to: an SMTP sink and an SMS webhook receiver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod sinks;

pub use sinks::{ReceivedMail, ReceivedSms, SmsReceiver, SmtpSink};

use std::net::SocketAddr;
use std::sync::Arc;
use tessera_core::outbox::{Deliver, DeliveryWorker, SmsWebhook, SmtpRelay};
use tessera_core::{App, CoreSettings, PasswordHasher};
use tessera_domain::{FakeClock, SeededRandom};
use tessera_store::Database;
use tessera_store_postgres::PostgresDatabase;
use tessera_store_sqlite::SqliteDatabase;
use tessera_web::{Templates, WebSettings, WebState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database of the given kind, and what keeps it alive.
pub async fn fresh_database(backend: Backend) -> (Arc<dyn Database>, Box<dyn Send + Sync>, String) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/tessera.db", dir.path().display());
            let db = SqliteDatabase::connect(&url).await.unwrap();
            db.migrate().await.unwrap();
            (Arc::new(db), Box::new(dir), url)
        }
        Backend::Postgres => {
            let cluster =
                tessera_testpg::shared_cluster().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
            let url = cluster
                .create_database()
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
            let db = PostgresDatabase::connect(&url).await.unwrap();
            db.migrate().await.unwrap();
            (Arc::new(db), Box::new(()), url)
        }
    }
}

/// Each in-process server's fake clock by base URL, so test clients that must compute
/// time-based codes (TOTP) use the server's time.
static CLOCKS: std::sync::Mutex<Vec<(String, FakeClock)>> = std::sync::Mutex::new(Vec::new());

/// The fake clock of the in-process server at `base_url`, if it is one.
pub fn clock_for(base_url: &str) -> Option<FakeClock> {
    CLOCKS
        .lock()
        .unwrap()
        .iter()
        .find(|(b, _)| b == base_url)
        .map(|(_, c)| c.clone())
}

/// The start of every test's fake clock: 2026-11-23 00:00:00 UTC.
pub const EPOCH: i64 = 1_795_392_000;

pub struct TestServer {
    pub base_url: String,
    pub app: App,
    pub clock: FakeClock,
    pub db_url: String,
    _guard: Box<dyn Send + Sync>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Default)]
pub struct Options {
    pub smtp_url: Option<String>,
    pub sms_webhook_url: Option<String>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, options: Options) -> Self {
        let (db, guard, db_url) = fresh_database(backend).await;
        Self::start_on(db, guard, db_url, options).await
    }

    /// Serves an existing database (a second node on the same PostgreSQL, say).
    pub async fn start_on(
        db: Arc<dyn Database>,
        guard: Box<dyn Send + Sync>,
        db_url: String,
        options: Options,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base_url = format!("http://localhost:{}", addr.port());
        let clock = FakeClock::at(tessera_domain::clock::from_unix(EPOCH));
        let random = Arc::new(SeededRandom::new(u64::from(addr.port())));
        let app = App {
            db,
            clock: Arc::new(clock.clone()),
            passwords: PasswordHasher::for_tests(random.as_ref()).unwrap(),
            random,
            settings: Arc::new(CoreSettings {
                issuer: base_url.clone(),
            }),
            secrets: Arc::new(tessera_core::secrets::SecretKeys::from_master(&[42; 32]).unwrap()),
            keys: Arc::new(tessera_core::oidc::keys::Keyring::default()),
        };
        tessera_core::oidc::keys::ensure(&app).await.unwrap();
        let email = options.smtp_url.as_deref().map(|u| {
            Arc::new(SmtpRelay::new(u, "Tessera <tessera@localhost>").unwrap()) as Arc<dyn Deliver>
        });
        let sms = options
            .sms_webhook_url
            .as_deref()
            .map(|u| Arc::new(SmsWebhook::new(u).unwrap()) as Arc<dyn Deliver>);
        let worker = DeliveryWorker::new(app.clone(), email, sms);
        let state = WebState::new(
            app.clone(),
            Templates::new(None).unwrap(),
            WebSettings {
                secure_cookies: false,
                delivery_mode: "test".into(),
                metrics: None,
                outbox_waker: Some(worker.waker()),
            },
        );
        {
            // A port freed by an earlier test may come back: the newest server at a base
            // URL is the one whose clock counts.
            let mut clocks = CLOCKS.lock().unwrap();
            clocks.retain(|(b, _)| *b != base_url);
            clocks.push((base_url.clone(), clock.clone()));
        }
        let router = tessera_web::router(state);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(worker.run(worker_stopped));
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                let _ = stop_worker.send(true);
            })
            .await
            .unwrap();
        });
        Self {
            base_url,
            app,
            clock,
            db_url,
            _guard: guard,
            shutdown: Some(tx),
        }
    }

    /// The fake clock's time, in Unix seconds.
    pub fn clock_now(&self) -> i64 {
        tessera_domain::Clock::now(&self.clock).unix_timestamp()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
