//! The person's signed-in sessions: listing them (this one marked) and ending one or all
//! the others. A session is named by an opaque id derived from its token hash (its OIDC
//! `sid`), never by the hash itself. Ending a session tells the apps it reached
//! (back-channel logout) in the same transaction.

use crate::oidc::authorize::session_id;
use crate::oidc::logout::notify_apps;
use crate::signin::SignedIn;
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::session::PortalSession;
use tessera_store::Tx;
use time::OffsetDateTime;

/// One live session as the account page shows it.
#[derive(Clone, Debug)]
pub struct SessionView {
    /// Opaque: the session's `sid`, for the "end" button.
    pub id: String,
    /// The session of this request.
    pub current: bool,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub source_ip: Option<String>,
    /// RFC 8176 methods the sign-in used.
    pub amr: Vec<String>,
}

/// The opaque id of one of `who`'s sessions.
fn id_of(who: &SignedIn, session: &PortalSession) -> String {
    session_id(&SignedIn {
        user: who.user.clone(),
        session: session.clone(),
    })
}

fn is_current(who: &SignedIn, session: &PortalSession) -> bool {
    session.token_hash == who.session.token_hash
}

/// The person's live sessions, this one first, then newest first.
pub async fn sessions(app: &App, who: &SignedIn) -> Result<Vec<SessionView>, CoreError> {
    let now = app.clock.now();
    let mut r = app.db.read().await?;
    let mut out: Vec<SessionView> = r
        .sessions_of_user(who.user.id)
        .await?
        .into_iter()
        .filter(|s| s.is_live(now))
        .map(|s| SessionView {
            id: id_of(who, &s),
            current: is_current(who, &s),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            source_ip: s.source_ip.clone(),
            amr: s.amr.clone(),
        })
        .collect();
    // Stable: the current one moves to the front, the rest keep the store's order.
    out.sort_by_key(|s| !s.current);
    Ok(out)
}

/// Ends one session inside `tx`: deletes it and notifies the apps it reached.
async fn end(
    app: &App,
    tx: &mut dyn Tx,
    who: &SignedIn,
    session: &PortalSession,
) -> Result<bool, CoreError> {
    if !tx.delete_session(&session.token_hash).await? {
        return Ok(false);
    }
    notify_apps(app, tx, &id_of(who, session), who.user.id).await?;
    Ok(true)
}

/// Ends every session of the person except this one, inside `tx` (the caller audits and
/// commits). Returns how many ended.
pub(crate) async fn end_other_sessions(
    app: &App,
    tx: &mut dyn Tx,
    who: &SignedIn,
) -> Result<u64, CoreError> {
    let mut ended = 0;
    for s in tx.sessions_of_user(who.user.id).await? {
        if !is_current(who, &s) && end(app, tx, who, &s).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

fn ended_event(
    app: &App,
    who: &SignedIn,
    count: u64,
    scope: &str,
    source_ip: Option<String>,
) -> AuditEvent {
    AuditEvent::new(
        app.clock.now(),
        &Actor::User(who.user.id),
        "account.sessions_ended",
        Outcome::Success,
    )
    .target(format!("user:{}", who.user.id))
    .source_ip(source_ip)
    .detail(serde_json::json!({ "count": count, "scope": scope }))
}

/// "Sign out everywhere else". Returns how many sessions ended.
pub async fn sign_out_elsewhere(
    app: &App,
    who: &SignedIn,
    source_ip: Option<String>,
) -> Result<u64, CoreError> {
    let mut tx = app.db.begin().await?;
    let ended = end_other_sessions(app, tx.as_mut(), who).await?;
    app.audit(
        tx.as_mut(),
        ended_event(app, who, ended, "others", source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Ends one other session, by the id the list showed. This session is ended by signing
/// out, not here.
pub async fn sign_out_session(
    app: &App,
    who: &SignedIn,
    id: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let mut tx = app.db.begin().await?;
    let target = tx
        .sessions_of_user(who.user.id)
        .await?
        .into_iter()
        .find(|s| id_of(who, s) == id)
        .ok_or(DomainError::NotFound("session"))?;
    if is_current(who, &target) {
        return Err(DomainError::InvalidState(
            "This is the session you are using now. To end it, sign out.".into(),
        )
        .into());
    }
    if !end(app, tx.as_mut(), who, &target).await? {
        return Err(DomainError::NotFound("session").into());
    }
    app.audit(tx.as_mut(), ended_event(app, who, 1, "one", source_ip))
        .await?;
    tx.commit().await?;
    Ok(())
}
