//! `tessera serve`: wires storage, flows, delivery and HTTP together and runs until SIGTERM
//! or Ctrl-C, then drains requests and stops the background jobs.

use crate::cli::ServeArgs;
use crate::config::{Settings, redact_url};
use crate::runtime::{build_app, init_logging, open_database, require_current_schema};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tessera_core::App;
use tessera_core::outbox::{Deliver, DeliveryWorker, SmsWebhook, SmtpRelay};
use tessera_core::setup::issue_setup_link;
use tessera_web::{Templates, WebSettings, WebState};
use tokio::sync::watch;

pub async fn run(settings: Settings, args: ServeArgs) -> Result<(), String> {
    let format = args
        .log_format
        .clone()
        .unwrap_or_else(|| settings.config.log_format.clone());
    init_logging(
        &format,
        &settings.config.log_level,
        std::io::stderr().is_terminal(),
    );

    let db = open_database(&settings).await?;
    if args.no_migrate {
        require_current_schema(db.as_ref()).await?;
    } else {
        db.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    }
    let app = build_app(&settings, db.clone())?;
    tessera_core::oidc::keys::ensure(&app)
        .await
        .map_err(|e| format!("signing keys: {e}"))?;
    let templates = Templates::new(settings.config.templates_dir.clone())
        .map_err(|e| format!("{}: {e}", settings.origin("templates_dir")))?;

    let email = match &settings.config.smtp_url {
        Some(url) => Some(Arc::new(
            SmtpRelay::new(url, &settings.config.smtp_from)
                .map_err(|e| format!("{}: {e}", settings.origin("smtp_url")))?,
        ) as Arc<dyn Deliver>),
        None => None,
    };
    let sms = match &settings.config.sms_webhook_url {
        Some(url) => Some(Arc::new(
            SmsWebhook::new(url)
                .map_err(|e| format!("{}: {e}", settings.origin("sms_webhook_url")))?,
        ) as Arc<dyn Deliver>),
        None => None,
    };
    let worker = DeliveryWorker::new(app.clone(), email, sms).with_lease(time::Duration::seconds(
        i64::from(settings.config.outbox_lease_seconds),
    ));

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| {
            format!(
                "{}: cannot listen on {}: {e}",
                settings.origin("listen"),
                settings.listen
            )
        })?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;

    let state = WebState::new(
        app.clone(),
        templates,
        WebSettings {
            secure_cookies: settings.issuer.scheme() == "https",
            delivery_mode: settings.delivery_mode(),
            metrics: metrics_handle(),
            outbox_waker: Some(worker.waker()),
        },
    );
    let router = tessera_web::router(state);

    tracing::info!(
        address = %address,
        issuer = %app.settings.issuer,
        database = %redact_url(&settings.config.database_url),
        delivery = %settings.delivery_mode(),
        "Tessera is listening"
    );
    match issue_setup_link(&app).await {
        Ok(Some(link)) => {
            println!(
                "\nNo platform administrator exists yet. Open this one-time link within an hour to create one:\n\n    {link}\n"
            );
            tracing::info!("setup link printed on standard output (valid for 1 hour, works once)");
        }
        Ok(None) => {}
        Err(e) => return Err(format!("cannot create the setup link: {e}")),
    }

    let (stop, stopped) = watch::channel(false);
    let worker_task = tokio::spawn(worker.run(stopped.clone()));
    let janitor_task = tokio::spawn(janitor(app.clone(), stopped.clone()));

    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = worker_task.await;
        let _ = janitor_task.await;
    })
    .await;
    db.close().await;
    served.map_err(|e| format!("server: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// The process-wide Prometheus recorder (installed once).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// Periodic jobs, every minute: expired sessions, the lifecycle jobs (invitation expiry,
/// activation reminders and terminations) and the 30-day signing-key rotation.
async fn janitor(app: App, mut stopped: watch::Receiver<bool>) {
    loop {
        let cutoff = app.clock.now();
        match app.db.begin().await {
            Ok(mut tx) => {
                let removed = match tx.delete_sign_in_flows_expired_before(cutoff).await {
                    Ok(_) => tx.delete_sessions_expired_before(cutoff).await,
                    Err(e) => Err(e),
                };
                match (removed, tx.commit().await) {
                    (Ok(n), Ok(())) if n > 0 => {
                        tracing::info!(removed = n, "expired sessions removed")
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!(error = %e, "session clean-up failed")
                    }
                    _ => {}
                }
            }
            Err(e) => tracing::warn!(error = %e, "session clean-up could not start"),
        }
        match tessera_core::lifecycle::jobs::run_due(&app).await {
            Ok(r) if !r.is_empty() => tracing::info!(
                invitations_expired = r.invitations_expired,
                reminders_sent = r.reminders_sent,
                accounts_terminated = r.accounts_terminated,
                "lifecycle jobs ran"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "lifecycle jobs failed"),
        }
        match tessera_core::oidc::keys::rotate_if_due(&app).await {
            Ok(Some(kids)) => tracing::info!(new_kids = ?kids, "signing keys rotated on schedule"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled key rotation failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
