//! The person's second factors in "My account": the authenticator apps enrolled, adding
//! another (QR code, confirmed by one valid code) and removing one — never the last.
//! The ceremony and its audit events live in `signin::totp`; this is the account's view.

use crate::signin::SignedIn;
use crate::signin::totp::{self, TotpEnrolment};
use crate::{App, CoreError};
use tessera_domain::CredentialId;
use time::OffsetDateTime;

/// One enrolled method, as the account page shows it.
#[derive(Clone, Debug)]
pub struct MfaMethod {
    pub id: CredentialId,
    pub label: String,
    pub added_at: OffsetDateTime,
}

/// The confirmed authenticator apps, oldest first.
pub async fn methods(app: &App, who: &SignedIn) -> Result<Vec<MfaMethod>, CoreError> {
    Ok(totp::keys_of(app, &who.user)
        .await?
        .into_iter()
        .map(|k| MfaMethod {
            id: k.id,
            label: k.label,
            added_at: k.confirmed_at.unwrap_or(k.created_at),
        })
        .collect())
}

/// Starts (or shows again) the enrolment of another authenticator app.
pub async fn start_adding(app: &App, who: &SignedIn) -> Result<TotpEnrolment, CoreError> {
    totp::start_enrolment(app, &who.user).await
}

/// Confirms the new app with a code it shows; `label` names it in the list.
pub async fn confirm_adding(
    app: &App,
    who: &SignedIn,
    code: &str,
    label: &str,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    totp::confirm_added(app, &who.user, code.trim(), label, source_ip).await
}

/// Removes an app (or abandons an enrolment in progress). Refuses the last one.
pub async fn remove(
    app: &App,
    who: &SignedIn,
    id: CredentialId,
    source_ip: Option<String>,
) -> Result<(), CoreError> {
    totp::remove(app, &who.user, id, source_ip).await
}
