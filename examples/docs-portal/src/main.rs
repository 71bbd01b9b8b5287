//! Docs portal: a small relying service that signs people in with Tessera ("Login with
//! Tessera") through the `openidconnect` crate and shows the validated claims.

mod config;
mod oidc;
mod pages;
mod web;

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = config::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docs-portal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: config::Config) -> anyhow::Result<()> {
    let settings = config.settings()?;
    let http = oidc::Http::new()?;
    let provider = oidc::discover_with_retry(&http, &settings).await?;
    tracing::info!(
        issuer = %settings.issuer,
        client_id = %settings.client_id,
        redirect_uri = %settings.redirect_uri,
        confidential = settings.client_secret.is_some(),
        "discovered the issuer"
    );
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    tracing::info!(
        "Docs portal listening on {} (open {})",
        settings.listen,
        settings.base_url
    );
    let state = Arc::new(web::AppState::new(settings, http, provider));
    axum::serve(listener, web::router(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
