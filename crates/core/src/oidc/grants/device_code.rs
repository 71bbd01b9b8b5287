//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5): the device polls
//! until the user approves; an approval is spent by exactly one poll.

use crate::App;
use crate::oidc::token::TokenParams;
use crate::oidc::{ErrorCode, OAuthError, OidcError, tokens};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::oauth::grant::DevicePoll;
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::secret::SecretHash;
use tessera_proto::oauth::TokenResponse;

pub async fn exchange(
    app: &App,
    client: &OAuthClient,
    p: &TokenParams,
) -> Result<TokenResponse, OidcError> {
    let code = p
        .device_code
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let poll = tx.poll_device_grant(&SecretHash::of(code), now).await?;
    let grant = match poll {
        DevicePoll::Approved(g) if g.client == client.id => g,
        DevicePoll::Approved(_) | DevicePoll::Unknown => {
            // Rolled back: a wrong client must not spend someone else's approval.
            return Err(OAuthError::invalid_grant("the device code is invalid").into());
        }
        DevicePoll::Pending { too_fast } => {
            tx.commit().await?;
            let (code, d) = if too_fast {
                (
                    ErrorCode::SlowDown,
                    "polling too fast; wait 5 more seconds between requests",
                )
            } else {
                (
                    ErrorCode::AuthorizationPending,
                    "the user has not approved yet",
                )
            };
            return Err(OAuthError::new(code, d).into());
        }
        DevicePoll::Denied => {
            return Err(
                OAuthError::new(ErrorCode::AccessDenied, "the user denied the request").into(),
            );
        }
        DevicePoll::Expired => {
            return Err(
                OAuthError::new(ErrorCode::ExpiredToken, "the device code has expired").into(),
            );
        }
    };
    let auth = grant
        .auth
        .clone()
        .ok_or_else(|| OAuthError::invalid_grant("the approval is incomplete"))?;
    let user = tx
        .user_by_id(auth.user_id)
        .await?
        .filter(|u| u.state.may_sign_in())
        .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))?;
    let scope = Scopes::parse(&grant.scope).unwrap_or_default();
    let (response, _) =
        tokens::for_user(app, tx.as_mut(), client, &user, &scope, &auth, None, None).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "oauth.token_issued",
            Outcome::Success,
        )
        .target(format!("app:{}", client.id))
        .detail(serde_json::json!({ "grant": "device_code", "scope": scope.to_string() })),
    )
    .await?;
    tx.commit().await?;
    Ok(response)
}
