//! Signing in: the identifier-first flow with its second factor and onboarding wizard
//! (`flow` and the step modules), server-side sessions, and signing out.

pub mod flow;
pub mod new_password;
pub mod passkey_step;
pub mod phone;
pub mod push_step;
pub mod reset;
pub mod totp;

use crate::admin::PlatformAdmin;
use crate::lifecycle::invitations::Sponsor;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::PortalSession;
use tessera_domain::user::User;

/// A browser's proven identity for this request.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    pub session: PortalSession,
}

impl SignedIn {
    /// The administrator capability, only for platform administrators who signed in with
    /// their password (not a low-assurance email-code session).
    pub fn platform_admin(&self) -> Option<PlatformAdmin> {
        (self.user.platform_admin && self.is_fully_signed_in())
            .then(|| PlatformAdmin::signed_in(self.user.id))
    }

    /// The right to invite, for active public officers and administrators.
    pub fn sponsor(&self) -> Option<Sponsor> {
        if !self.is_fully_signed_in() {
            return None;
        }
        Sponsor::for_user(&self.user)
    }

    /// False for a session opened by an email code (it may only follow its own request).
    pub fn is_fully_signed_in(&self) -> bool {
        self.session.is_signed_in()
    }

    /// RFC 8176 methods of this session, for tokens.
    pub fn amr(&self) -> Vec<String> {
        if self.session.amr.is_empty() {
            vec!["pwd".into()]
        } else {
            self.session.amr.clone()
        }
    }

    /// The assurance class for tokens' `acr`.
    pub fn acr(&self) -> &'static str {
        if self.session.assurance >= tessera_domain::session::Assurance::Mfa {
            crate::oidc::ACR_MFA
        } else {
            crate::oidc::ACR_PASSWORD
        }
    }
}

/// Resolves a session cookie to the signed-in user, or `None` if it is unknown, expired,
/// or its account may no longer sign in.
pub async fn resolve_session(app: &App, cookie: &str) -> Result<Option<SignedIn>, CoreError> {
    let now = app.clock.now();
    let token = SecretHash::of(cookie);
    let mut r = app.db.read().await?;
    let Some(session) = r.session_by_token(&token).await? else {
        return Ok(None);
    };
    if !session.is_live(now) {
        return Ok(None);
    }
    let Some(user) = r.user_by_id(session.user_id).await? else {
        return Ok(None);
    };
    if !user.state.may_sign_in() {
        return Ok(None);
    }
    drop(r);
    // Sliding idle expiry, written at most once a minute to keep reads cheap.
    if now - session.last_seen_at > time::Duration::minutes(1) {
        let mut tx = app.db.begin().await?;
        tx.touch_session(&token, now).await?;
        tx.commit().await?;
    }
    Ok(Some(SignedIn { user, session }))
}

pub async fn sign_out(
    app: &App,
    who: &SignedIn,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    tx.delete_session(&who.session.token_hash).await?;
    let sid = crate::oidc::authorize::session_id(who);
    let notified = crate::oidc::logout::notify_apps(app, tx.as_mut(), &sid, who.user.id).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(who.user.id), "signout", Outcome::Success)
            .target(format!("user:{}", who.user.id))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "apps_notified": notified })),
    )
    .await?;
    tx.commit().await?;
    app.keys.tokens.revoked_here();
    Ok(())
}
