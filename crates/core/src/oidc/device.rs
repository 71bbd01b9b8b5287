//! The device authorization grant (RFC 8628): a device without a browser gets a device
//! code to poll with and a short user code; the user enters the user code on Tessera's
//! `/device` page, signed in, and approves.

use super::clients::{ClientAuth, authenticate};
use super::{ErrorCode, OAuthError, OidcError, USER_SCOPES};
use crate::signin::SignedIn;
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::oauth::grant::{
    Authentication, DEVICE_CODE_LIFETIME, DEVICE_POLL_INTERVAL_SECS,
};
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::oauth::{DeviceGrant, DeviceStatus, GrantType, OAuthClient};
use tessera_domain::secret::BearerSecret;
use tessera_proto::oauth::DeviceAuthorizationResponse;
use tessera_store::StoreError;

/// RFC 8628 §6.1: consonants only (no vowels, so no words), easy to read and type.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn user_code(app: &App) -> String {
    let mut out = String::with_capacity(9);
    while out.len() < 9 {
        let mut b = [0u8; 1];
        app.random.fill(&mut b);
        // Rejection sampling keeps the 20 letters equally likely.
        if b[0] < 240 {
            if out.len() == 4 {
                out.push('-');
            }
            out.push(char::from(USER_CODE_ALPHABET[usize::from(b[0] % 20)]));
        }
    }
    out
}

/// What the user typed, in canonical form (`bcdf ghjk` → `BCDF-GHJK`).
pub fn normalize_user_code(input: &str) -> String {
    let letters: String = input
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if letters.len() == 8 {
        format!("{}-{}", &letters[..4], &letters[4..])
    } else {
        letters
    }
}

pub async fn authorize_device(
    app: &App,
    auth: &ClientAuth,
    scope: Option<&str>,
) -> Result<DeviceAuthorizationResponse, OidcError> {
    let client = authenticate(app, auth).await?;
    if !client.allows(GrantType::DeviceCode) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device grant",
        )
        .into());
    }
    let scope = Scopes::parse(scope.unwrap_or("openid"))
        .map_err(|m| OAuthError::new(ErrorCode::InvalidScope, m))?;
    let unknown = scope.not_in(USER_SCOPES);
    if !unknown.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("unknown scope: {}", unknown.join(" ")),
        )
        .into());
    }
    let now = app.clock.now();
    let device_code = BearerSecret::generate(app.random.as_ref());
    for _ in 0..3 {
        let code = user_code(app);
        let grant = DeviceGrant {
            device_code_hash: device_code.hash(),
            user_code: code.clone(),
            client: client.id,
            scope: scope.to_string(),
            created_at: now,
            expires_at: now + DEVICE_CODE_LIFETIME,
            interval_secs: DEVICE_POLL_INTERVAL_SECS,
            status: DeviceStatus::Pending,
            auth: None,
        };
        let mut tx = app.db.begin().await?;
        match tx.insert_device_grant(&grant).await {
            Ok(()) => {
                tx.commit().await?;
                let verification_uri = app.settings.link("/device");
                return Ok(DeviceAuthorizationResponse {
                    device_code: device_code.expose().to_owned(),
                    verification_uri_complete: format!("{verification_uri}?user_code={code}"),
                    user_code: code,
                    verification_uri,
                    expires_in: DEVICE_CODE_LIFETIME.whole_seconds(),
                    interval: DEVICE_POLL_INTERVAL_SECS,
                });
            }
            Err(StoreError::Duplicate { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::Internal("could not find a free user code".into()).into())
}

/// The pending request behind a user code, with the app asking, for the confirmation page.
pub async fn pending(
    app: &App,
    user_code: &str,
) -> Result<Option<(DeviceGrant, OAuthClient)>, CoreError> {
    let code = normalize_user_code(user_code);
    let mut r = app.db.read().await?;
    let Some(grant) = r.pending_device_grant(&code, app.clock.now()).await? else {
        return Ok(None);
    };
    let client = r.client_by_id(grant.client).await?;
    Ok(client.map(|c| (grant, c)))
}

/// The signed-in user approves or denies; false if the code is no longer pending.
pub async fn decide(
    app: &App,
    who: &SignedIn,
    user_code: &str,
    approve: bool,
    source_ip: Option<String>,
) -> Result<bool, CoreError> {
    let code = normalize_user_code(user_code);
    let now = app.clock.now();
    let auth = Authentication {
        user_id: who.user.id,
        auth_time: who.session.created_at,
        amr: who.amr(),
        acr: who.acr().into(),
        sid: super::authorize::session_id(who),
    };
    let mut tx = app.db.begin().await?;
    let grant = tx.pending_device_grant(&code, now).await?;
    // The device gets tokens for this user only if the app's access rules admit them.
    if approve && let Some(g) = &grant {
        let client = tx
            .client_by_id(g.client)
            .await?
            .ok_or(DomainError::NotFound("app"))?;
        if let Err(why) = crate::tenants::access::admitted(tx.as_mut(), &client, &who.user).await? {
            return Err(DomainError::InvalidState(format!(
                "{} is not open to you. {} Ask its owners for access.",
                client.name,
                why.explain()
            ))
            .into());
        }
    }
    let decided = tx
        .decide_device_grant(&code, approve.then_some(&auth), now)
        .await?;
    if decided && let Some(g) = &grant {
        if approve {
            tx.record_session_client(&auth.sid, g.client, who.user.id, now)
                .await?;
        }
        app.audit(
            tx.as_mut(),
            AuditEvent::new(
                now,
                &Actor::User(who.user.id),
                if approve {
                    "device.approve"
                } else {
                    "device.deny"
                },
                Outcome::Success,
            )
            .target(format!("app:{}", g.client))
            .source_ip(source_ip),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(decided)
}
