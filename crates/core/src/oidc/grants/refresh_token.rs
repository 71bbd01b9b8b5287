//! `refresh_token` (RFC 6749 §6): rotated on every use; presenting a used token revokes
//! the whole family (RFC 9700 §4.14.2), since either the client or a thief holds a copy.

use crate::App;
use crate::oidc::token::TokenParams;
use crate::oidc::{ErrorCode, OAuthError, OidcError, tokens};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::OAuthClient;
use tessera_domain::oauth::grant::RefreshUse;
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::secret::SecretHash;
use tessera_proto::oauth::TokenResponse;

pub async fn exchange(
    app: &App,
    client: &OAuthClient,
    p: &TokenParams,
) -> Result<TokenResponse, OidcError> {
    let presented = p
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let (spent, user) = tx
        .use_refresh_token_and_user(&SecretHash::of(presented), now)
        .await?;
    let old = match spent {
        RefreshUse::Fresh(t) => t,
        RefreshUse::Reused { family } => {
            tx.revoke_refresh_family(family, now).await?;
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::Anonymous,
                    "oauth.refresh_reused",
                    Outcome::Failure,
                )
                .target(format!("app:{}", client.id))
                .detail(serde_json::json!({ "family": family.to_string() })),
            )
            .await?;
            tx.commit().await?;
            app.keys.tokens.revoked_here();
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the grant is revoked",
            )
            .into());
        }
        RefreshUse::Unknown => {
            return Err(
                OAuthError::invalid_grant("the refresh token is invalid or expired").into(),
            );
        }
    };
    if old.client != client.id {
        // Spent all the same: a token presented by the wrong client is compromised.
        tx.revoke_refresh_family(old.family_id, now).await?;
        tx.commit().await?;
        app.keys.tokens.revoked_here();
        return Err(
            OAuthError::invalid_grant("the refresh token was issued to another client").into(),
        );
    }
    let granted = Scopes::parse(&old.scope).unwrap_or_default();
    let scope = match p.scope.as_deref() {
        Some(s) => {
            let asked =
                Scopes::parse(s).map_err(|m| OAuthError::new(ErrorCode::InvalidScope, m))?;
            if !asked.is_subset_of(&granted) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a refresh cannot widen the granted scope",
                )
                .into());
            }
            asked
        }
        None => granted,
    };
    let user = match user {
        Some(u) => Some(u),
        None => tx.user_by_id(old.auth.user_id).await?,
    }
    .filter(|u| u.state.may_sign_in())
    .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))?;
    if crate::tenants::access::admitted(tx.as_mut(), client, &user)
        .await?
        .is_err()
    {
        return Err(
            OAuthError::invalid_grant("the app's access rules no longer admit the user").into(),
        );
    }
    let (response, _) = tokens::for_user(
        app,
        tx.as_mut(),
        client,
        &user,
        &scope,
        &old.auth,
        None,
        Some((old.family_id, old.family_expires_at)),
    )
    .await?;
    tx.commit().await?;
    Ok(response)
}
