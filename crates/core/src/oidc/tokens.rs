//! Minting tokens: RFC 9068 access tokens (ES256, always: cheap to sign), ID tokens (the
//! client's algorithm, RS256 by default), opaque refresh tokens stored as hashes.

use super::jws::at_hash;
use super::keys;
use crate::{App, CoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use tessera_domain::oauth::grant::Authentication;
use tessera_domain::oauth::scope::Scopes;
use tessera_domain::oauth::{OAuthClient, RefreshToken, SigningAlg};
use tessera_domain::secret::BearerSecret;
use tessera_domain::user::User;
use tessera_proto::oauth::TokenResponse;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const ID_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// Without `offline_access`, a refresh family lives no longer than a portal session.
pub const ONLINE_REFRESH_LIFETIME: Duration = Duration::hours(24);

fn jti(app: &App) -> String {
    let mut b = [0u8; 16];
    app.random.fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Claims about the user that `scope` releases (ID token and userinfo).
pub fn user_claims(user: &User, scope: &Scopes) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id.to_string()));
    if scope.contains("profile") {
        c.insert("name".into(), json!(user.display_name()));
        c.insert("given_name".into(), json!(user.given_name));
        c.insert("family_name".into(), json!(user.family_name));
        c.insert("preferred_username".into(), json!(user.username.as_str()));
        c.insert("updated_at".into(), json!(user.updated_at.unix_timestamp()));
        c.insert("user_type".into(), json!(user.user_type.as_str()));
        c.insert("department".into(), json!(user.department));
    }
    if scope.contains("email") {
        c.insert("email".into(), json!(user.email.as_str()));
        // Not yet proven by a code sent to it (the lifecycle issue adds that).
        c.insert("email_verified".into(), json!(false));
    }
    if scope.contains("phone")
        && let Some(m) = &user.mobile
    {
        c.insert("phone_number".into(), json!(m.as_str()));
        c.insert("phone_number_verified".into(), json!(false));
    }
    c
}

pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_at: OffsetDateTime,
}

/// An RFC 9068 JWT access token.
pub async fn access_token(
    app: &App,
    client: &OAuthClient,
    subject: &str,
    scope: &Scopes,
    audience: &str,
    auth: Option<&Authentication>,
) -> Result<AccessToken, CoreError> {
    let now = app.clock.now();
    let exp = now + Duration::seconds(client.access_token_ttl_secs);
    let id = jti(app);
    let mut claims = json!({
        "iss": app.settings.issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client.client_id,
        "iat": now.unix_timestamp(),
        "exp": exp.unix_timestamp(),
        "jti": id,
        "scope": scope.to_string(),
    });
    if let (Some(a), Some(obj)) = (auth, claims.as_object_mut()) {
        obj.insert("auth_time".into(), json!(a.auth_time.unix_timestamp()));
        obj.insert("acr".into(), json!(a.acr));
        obj.insert("amr".into(), json!(a.amr));
        obj.insert("sid".into(), json!(a.sid));
    }
    let signer = keys::current(app).await?.signer(SigningAlg::ES256)?;
    Ok(AccessToken {
        token: signer.sign("at+jwt", &claims)?,
        jti: id,
        expires_at: exp,
    })
}

/// Everything a user grant issues: access token, ID token (with `openid`), and a new
/// refresh token in `family` (when the client may refresh). What must be remembered (the
/// refresh token, the access token's `jti` for revocation) is written in `tx`, so every
/// grant stores the same things. Returns the response and the refresh family, if any.
#[allow(clippy::too_many_arguments)]
pub async fn for_user(
    app: &App,
    tx: &mut dyn tessera_store::Tx,
    client: &OAuthClient,
    user: &User,
    scope: &Scopes,
    auth: &Authentication,
    nonce: Option<&str>,
    family: Option<(Uuid, OffsetDateTime)>,
) -> Result<(TokenResponse, Option<Uuid>), CoreError> {
    let now = app.clock.now();
    let at = access_token(
        app,
        client,
        &user.id.to_string(),
        scope,
        &app.settings.issuer,
        Some(auth),
    )
    .await?;

    let id_token = if scope.contains("openid") {
        let mut claims = user_claims(user, scope);
        for (k, v) in [
            ("iss", json!(app.settings.issuer)),
            ("aud", json!(client.client_id)),
            ("azp", json!(client.client_id)),
            ("iat", json!(now.unix_timestamp())),
            ("exp", json!((now + ID_TOKEN_LIFETIME).unix_timestamp())),
            ("auth_time", json!(auth.auth_time.unix_timestamp())),
            ("acr", json!(auth.acr)),
            ("amr", json!(auth.amr)),
            ("sid", json!(auth.sid)),
            ("at_hash", json!(at_hash(&at.token, client.id_token_alg))),
        ] {
            claims.insert(k.into(), v);
        }
        if let Some(n) = nonce {
            claims.insert("nonce".into(), json!(n));
        }
        let signer = keys::current(app).await?.signer(client.id_token_alg)?;
        Some(signer.sign("JWT", &Value::Object(claims))?)
    } else {
        None
    };

    let refresh = if client.allows(tessera_domain::oauth::GrantType::RefreshToken) {
        let (family_id, family_expires_at) = family.unwrap_or_else(|| {
            let absolute = if scope.contains("offline_access") {
                Duration::seconds(client.refresh_absolute_ttl_secs)
            } else {
                ONLINE_REFRESH_LIFETIME
            };
            (
                tessera_domain::random::uuid_v7(now, app.random.as_ref()),
                now + absolute,
            )
        });
        let secret = BearerSecret::generate(app.random.as_ref());
        let record = RefreshToken {
            token_hash: secret.hash(),
            family_id,
            client: client.id,
            scope: scope.to_string(),
            auth: auth.clone(),
            created_at: now,
            expires_at: (now + Duration::seconds(client.refresh_idle_ttl_secs))
                .min(family_expires_at),
            family_expires_at,
        };
        Some((record, secret.expose().to_owned()))
    } else {
        None
    };

    let response = TokenResponse {
        access_token: at.token,
        token_type: "Bearer".into(),
        expires_in: client.access_token_ttl_secs,
        refresh_token: refresh.as_ref().map(|(_, s)| s.clone()),
        id_token,
        scope: scope.to_string(),
    };
    let family = refresh.as_ref().map(|(r, _)| r.family_id);
    tx.record_issued_tokens(refresh.as_ref().map(|(r, _)| r), &at.jti, at.expires_at)
        .await?;
    Ok((response, family))
}
