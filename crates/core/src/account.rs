//! The signed-in user's own view of their account: the apps they allowed to sign them in,
//! and taking that back. (The sign-in issue adds profile, MFA and sessions.)

use crate::signin::SignedIn;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::OAuthClient;
use tessera_store::Consent;

pub async fn allowed_apps(
    app: &App,
    who: &SignedIn,
) -> Result<Vec<(OAuthClient, Consent)>, CoreError> {
    let mut r = app.db.read().await?;
    let mut out = Vec::new();
    for c in r.consents_of(who.user.id).await? {
        if let Some(client) = r.client_by_id(c.client).await? {
            out.push((client, c));
        }
    }
    Ok(out)
}

/// Withdraws consent for the app (by its client_id) and revokes its refresh tokens for
/// this user; false if the user had not allowed it.
pub async fn revoke_app(
    app: &App,
    who: &SignedIn,
    client_id: &str,
    source_ip: Option<String>,
) -> Result<bool, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let Some(client) = tx.client_by_client_id(client_id).await? else {
        return Ok(false);
    };
    let revoked = tx.revoke_consent(who.user.id, client.id, now).await?;
    if revoked {
        app.audit(
            tx.as_mut(),
            AuditEvent::new(
                now,
                &Actor::User(who.user.id),
                "consent.revoke",
                Outcome::Success,
            )
            .target(format!("app:{}", client.id))
            .source_ip(source_ip),
        )
        .await?;
    }
    tx.commit().await?;
    if revoked {
        app.keys.tokens.revoked_here();
    }
    Ok(revoked)
}
