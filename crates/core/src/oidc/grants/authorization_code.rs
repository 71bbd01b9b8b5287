//! `authorization_code` (RFC 6749 §4.1.3 with PKCE): a code works once, for the client and
//! redirect URI it was issued to; a replayed code revokes everything it issued.

use crate::App;
use crate::oidc::{OAuthError, OidcError, tokens};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::grant::CodeRedemption;
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::oauth::{OAuthClient, pkce};
use tessera_domain::secret::SecretHash;
use tessera_proto::oauth::TokenResponse;

use crate::oidc::token::TokenParams;

pub async fn exchange(
    app: &App,
    client: &OAuthClient,
    p: &TokenParams,
) -> Result<TokenResponse, OidcError> {
    let code = p
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = p
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
    let now = app.clock.now();
    let hash = SecretHash::of(code);
    let mut tx = app.db.begin().await?;
    let redeemed = match tx.redeem_authorization_code(&hash, now).await? {
        CodeRedemption::Redeemed(c) => c,
        CodeRedemption::Replayed { family } => {
            if let Some(f) = family {
                tx.revoke_refresh_family(f, now).await?;
            }
            app.audit(
                tx.as_mut(),
                AuditEvent::new(
                    now,
                    &Actor::Anonymous,
                    "oauth.code_replayed",
                    Outcome::Failure,
                )
                .target(format!("app:{}", client.id)),
            )
            .await?;
            tx.commit().await?;
            app.keys.tokens.revoked_here();
            return Err(OAuthError::invalid_grant(
                "the code was already used; the tokens it issued are revoked",
            )
            .into());
        }
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant("the code is invalid or expired").into());
        }
    };
    // From here the code is spent (the transaction commits even when a check fails), so a
    // wrong verifier cannot be retried against the same code.
    let refusal = if redeemed.client != client.id {
        Some("the code was issued to another client")
    } else if p.redirect_uri.as_deref() != Some(redeemed.redirect_uri.as_str()) {
        Some("redirect_uri does not match the authorization request")
    } else if !pkce::verify(verifier, &redeemed.code_challenge) {
        Some("code_verifier does not match the code_challenge")
    } else {
        None
    };
    if let Some(why) = refusal {
        tx.commit().await?;
        return Err(OAuthError::invalid_grant(why).into());
    }
    let user = tx
        .user_by_id(redeemed.auth.user_id)
        .await?
        .filter(|u| u.state.may_sign_in())
        .ok_or_else(|| OAuthError::invalid_grant("the user can no longer sign in"))?;
    let scope = Scopes::parse(&redeemed.scope).unwrap_or_default();
    let (response, family) = tokens::for_user(
        app,
        tx.as_mut(),
        client,
        &user,
        &scope,
        &redeemed.auth,
        redeemed.nonce.as_deref(),
        None,
    )
    .await?;
    if let Some(f) = family {
        tx.link_code_to_family(&hash, f).await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "oauth.token_issued",
            Outcome::Success,
        )
        .target(format!("app:{}", client.id))
        .detail(serde_json::json!({ "grant": "authorization_code", "scope": scope.to_string() })),
    )
    .await?;
    tx.commit().await?;
    Ok(response)
}
