//! Passkeys (WebAuthn, through webauthn-rs): registering one for a signed-in account
//! ("My account") or inside the sign-in wizard, listing and removing them, verifying an
//! assertion, and the step-up an app that requires phishing-resistant MFA asks of a
//! session without one. Ceremony state lives in the database (one row per ceremony, taken
//! once), never in a cookie. User verification is always required.

use crate::signin::SignedIn;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::secret::{BearerSecret, SecretHash};
use tessera_domain::user::User;
use tessera_domain::{CredentialId, DomainError, UserId};
use tessera_store::{PasskeyCeremony, PasskeyRecord, Tx};
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a browser has to answer a ceremony.
pub const CEREMONY_LIFETIME: time::Duration = time::Duration::minutes(5);

/// Ceremony kinds, stored with the state so a state can only finish what it began.
pub(crate) const KIND_REGISTER: &str = "register";
pub(crate) const KIND_AUTHENTICATE: &str = "authenticate";
pub(crate) const KIND_DISCOVER: &str = "discover";

/// What the browser gets to start a ceremony: a token naming the stored state, and the
/// options for `navigator.credentials.create/get` (binary fields in base64url).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Started {
    pub token: String,
    pub options: serde_json::Value,
}

/// The relying party: the issuer's host is the RP id, the issuer its only origin.
pub(crate) fn relying_party(app: &App) -> Result<Webauthn, CoreError> {
    let origin = Url::parse(&app.settings.issuer)
        .map_err(|e| CoreError::Internal(format!("issuer URL: {e}")))?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| CoreError::Internal("the issuer URL has no host".into()))?
        .to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("Tessera").build())
        .map_err(|e| CoreError::Internal(format!("webauthn: {e}")))
}

pub(crate) fn internal(what: &str) -> impl Fn(webauthn_rs::prelude::WebauthnError) -> CoreError {
    let what = what.to_owned();
    move |e| CoreError::Internal(format!("webauthn {what}: {e}"))
}

fn json_err(e: serde_json::Error) -> CoreError {
    CoreError::Internal(format!("passkey state: {e}"))
}

/// The browser's answer did not verify (wrong origin, no user verification, unknown key…).
pub(crate) fn refused() -> CoreError {
    DomainError::field(
        "passkey",
        "The passkey could not be verified. Try again, or use another method.",
    )
    .into()
}

/// Stores a ceremony's state and returns its token with the browser's options.
pub(crate) async fn store_ceremony(
    app: &App,
    user: Option<UserId>,
    kind: &str,
    state: &impl serde::Serialize,
    options: serde_json::Value,
) -> Result<Started, CoreError> {
    let now = app.clock.now();
    let secret = BearerSecret::generate(app.random.as_ref());
    let ceremony = PasskeyCeremony {
        token_hash: secret.hash(),
        user_id: user,
        kind: kind.to_owned(),
        state_json: serde_json::to_string(state).map_err(json_err)?,
        expires_at: now + CEREMONY_LIFETIME,
    };
    let mut tx = app.db.begin().await?;
    tx.insert_passkey_ceremony(&ceremony).await?;
    tx.commit().await?;
    Ok(Started {
        token: secret.expose().to_owned(),
        options,
    })
}

/// Takes (once) the ceremony `token` names in `tx`, if it is of `kind` and for `user`.
pub(crate) async fn take_ceremony<S: serde::de::DeserializeOwned>(
    app: &App,
    tx: &mut dyn Tx,
    token: &str,
    kind: &str,
    user: Option<UserId>,
) -> Result<S, CoreError> {
    let now = app.clock.now();
    let gone = || -> CoreError { DomainError::NoLongerValid("passkey request").into() };
    let c = tx
        .take_passkey_ceremony(&SecretHash::of(token), now)
        .await?
        .ok_or_else(gone)?;
    if c.kind != kind || c.user_id != user {
        return Err(gone());
    }
    serde_json::from_str(&c.state_json).map_err(json_err)
}

pub(crate) fn parse_passkey(r: &PasskeyRecord) -> Result<Passkey, CoreError> {
    serde_json::from_str(&r.passkey_json).map_err(json_err)
}

/// A user's passkeys, oldest first.
pub async fn passkeys_of(app: &App, user: UserId) -> Result<Vec<PasskeyRecord>, CoreError> {
    Ok(app.db.read().await?.passkeys_of_user(user).await?)
}

/// Whether the account has any passkey (it then counts as enrolled in MFA).
pub async fn has_passkey(tx: &mut dyn Tx, user: UserId) -> Result<bool, CoreError> {
    Ok(!tx.passkeys_of_user(user).await?.is_empty())
}

// ---- registration ---------------------------------------------------------------------

/// Starts registering a passkey for `user`. The key must be discoverable (resident), so it
/// can later sign in without a username, and must verify the user.
pub async fn start_registration(app: &App, user: &User) -> Result<Started, CoreError> {
    let rp = relying_party(app)?;
    let existing = passkeys_of(app, user.id).await?;
    let exclude = existing
        .iter()
        .map(|r| parse_passkey(r).map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let display = format!("{} {}", user.given_name, user.family_name);
    let (ccr, state) = rp
        .start_passkey_registration(
            Uuid::from_bytes(*user.id.as_uuid().as_bytes()),
            user.username.as_str(),
            display.trim(),
            Some(exclude),
        )
        .map_err(internal("registration"))?;
    let mut options = serde_json::to_value(&ccr).map_err(json_err)?;
    // webauthn-rs leaves resident keys optional; passwordless sign-in needs one.
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|v| v.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    store_ceremony(app, Some(user.id), KIND_REGISTER, &state, options).await
}

/// Verifies the browser's new credential and stores it in `tx` (no commit). Returns the
/// stored record.
pub(crate) async fn finish_registration_in(
    app: &App,
    tx: &mut dyn Tx,
    user: &User,
    token: &str,
    credential: &serde_json::Value,
    name: &str,
) -> Result<PasskeyRecord, CoreError> {
    let now = app.clock.now();
    let state: PasskeyRegistration =
        take_ceremony(app, tx, token, KIND_REGISTER, Some(user.id)).await?;
    let reg: RegisterPublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| refused())?;
    let passkey = relying_party(app)?
        .finish_passkey_registration(&reg, &state)
        .map_err(|_| refused())?;
    let name: String = name.trim().chars().take(60).collect();
    let record = PasskeyRecord {
        id: CredentialId::new_at(now, app.random.as_ref()),
        user_id: user.id,
        credential_id: passkey.cred_id().to_vec(),
        passkey_json: serde_json::to_string(&passkey).map_err(json_err)?,
        name: if name.is_empty() {
            "Passkey".into()
        } else {
            name
        },
        created_at: now,
        last_used_at: None,
        version: 1,
    };
    match tx.insert_passkey(&record).await {
        Ok(()) => Ok(record),
        Err(tessera_store::StoreError::Duplicate { .. }) => {
            Err(DomainError::field("passkey", "This passkey is registered already.").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// "My account": finishes adding a passkey, with its audit event, in one transaction.
pub async fn finish_registration(
    app: &App,
    who: &SignedIn,
    token: &str,
    credential: &serde_json::Value,
    name: &str,
    source_ip: Option<String>,
) -> Result<PasskeyRecord, CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let record =
        match finish_registration_in(app, tx.as_mut(), &who.user, token, credential, name).await {
            Ok(r) => r,
            Err(e) => {
                drop(tx);
                audit_failure(app, who.user.id, "passkey.registered", token, source_ip).await?;
                return Err(e);
            }
        };
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(who.user.id),
            "passkey.registered",
            Outcome::Success,
        )
        .target(format!("user:{}", who.user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "passkey": record.id.to_string(), "name": record.name })),
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// Records a failed ceremony and spends its state, in a transaction of its own (the
/// failed one was rolled back), so the same challenge cannot be tried again.
pub(crate) async fn audit_failure(
    app: &App,
    user: UserId,
    action: &str,
    token: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    tx.take_passkey_ceremony(&SecretHash::of(token), now)
        .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(user), action, Outcome::Failure)
            .target(format!("user:{user}"))
            .source_ip(source_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- authentication with a known account ------------------------------------------------

/// Starts an assertion by one of `user`'s passkeys (second factor, step-up).
pub async fn start_authentication(app: &App, user: UserId) -> Result<Started, CoreError> {
    let records = passkeys_of(app, user).await?;
    if records.is_empty() {
        return Err(DomainError::InvalidState("No passkey is registered.".into()).into());
    }
    let keys = records
        .iter()
        .map(parse_passkey)
        .collect::<Result<Vec<_>, _>>()?;
    let (rcr, state) = relying_party(app)?
        .start_passkey_authentication(&keys)
        .map_err(internal("authentication"))?;
    let options = serde_json::to_value(&rcr).map_err(json_err)?;
    store_ceremony(app, Some(user), KIND_AUTHENTICATE, &state, options).await
}

/// Verifies an assertion for `user` in `tx` and records the key's use (its counter).
pub(crate) async fn finish_authentication_in(
    app: &App,
    tx: &mut dyn Tx,
    user: UserId,
    token: &str,
    credential: &serde_json::Value,
) -> Result<PasskeyRecord, CoreError> {
    let state: PasskeyAuthentication =
        take_ceremony(app, tx, token, KIND_AUTHENTICATE, Some(user)).await?;
    let assertion: PublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| refused())?;
    let result = relying_party(app)?
        .finish_passkey_authentication(&assertion, &state)
        .map_err(|_| refused())?;
    record_use(app, tx, Some(user), &result).await
}

/// Finds the key `result` used, checks its owner and user verification, and stores its
/// new counter (compare-and-set).
pub(crate) async fn record_use(
    app: &App,
    tx: &mut dyn Tx,
    user: Option<UserId>,
    result: &AuthenticationResult,
) -> Result<PasskeyRecord, CoreError> {
    if !result.user_verified() {
        return Err(refused());
    }
    let record = tx
        .passkey_by_credential_id(result.cred_id().as_ref())
        .await?
        .filter(|r| user.is_none_or(|u| r.user_id == u))
        .ok_or_else(refused)?;
    let mut passkey = parse_passkey(&record)?;
    passkey.update_credential(result);
    let used = PasskeyRecord {
        passkey_json: serde_json::to_string(&passkey).map_err(json_err)?,
        last_used_at: Some(app.clock.now()),
        ..record
    };
    if !tx.update_passkey(&used).await? {
        return Err(refused());
    }
    Ok(used)
}

// ---- step-up ------------------------------------------------------------------------------

/// Whether the session already used a phishing-resistant method.
pub fn is_phishing_resistant(who: &SignedIn) -> bool {
    who.amr().iter().any(|m| m == "hwk")
}

/// Finishes a step-up: a passkey of the signed-in account adds `hwk` to the session's
/// methods, so the app that asked for it gets them in its ID token.
pub async fn finish_step_up(
    app: &App,
    who: &SignedIn,
    token: &str,
    credential: &serde_json::Value,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let record =
        match finish_authentication_in(app, tx.as_mut(), who.user.id, token, credential).await {
            Ok(r) => r,
            Err(e) => {
                drop(tx);
                audit_failure(app, who.user.id, "signin.passkey_step_up", token, source_ip).await?;
                return Err(e);
            }
        };
    let mut amr = who.amr();
    for m in ["hwk", "user", "mfa"] {
        if !amr.iter().any(|x| x == m) {
            amr.push(m.into());
        }
    }
    if !tx
        .update_session_amr(&who.session.token_hash, &who.session.amr, &amr)
        .await?
    {
        return Err(DomainError::InvalidState(
            "Your session changed in another tab. Try again.".into(),
        )
        .into());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(who.user.id),
            "signin.passkey_step_up",
            Outcome::Success,
        )
        .target(format!("user:{}", who.user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "passkey": record.id.to_string(), "amr": amr })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- removal ------------------------------------------------------------------------------

/// Removes a passkey; the account's last second factor (TOTP, push device or passkey)
/// cannot be removed.
pub async fn remove(
    app: &App,
    who: &SignedIn,
    id: CredentialId,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    let now = app.clock.now();
    let user = who.user.id;
    let mut tx = app.db.begin().await?;
    let keys = tx.passkeys_of_user(user).await?;
    if !keys.iter().any(|k| k.id == id) {
        return Err(DomainError::NotFound("passkey").into());
    }
    let totp = tx
        .totp_of_user(user)
        .await?
        .iter()
        .filter(|c| c.confirmed_at.is_some())
        .count();
    let push = crate::push::has_confirmed_device(tx.as_mut(), user).await?;
    if keys.len() <= 1 && totp == 0 && !push {
        return Err(DomainError::InvalidState(
            "This is your only second factor, so it cannot be removed. Add another first.".into(),
        )
        .into());
    }
    if !tx.delete_passkey(user, id).await? {
        return Err(DomainError::NotFound("passkey").into());
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::User(user), "passkey.removed", Outcome::Success)
            .target(format!("user:{user}"))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "passkey": id.to_string() })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
