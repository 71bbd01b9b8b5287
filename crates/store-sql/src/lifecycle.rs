//! Row shapes for the account lifecycle: invitations and officers' self-registrations.

use crate::{corrupt, count, hash32};
use tessera_domain::clock::from_unix;
use tessera_domain::invitation::{Invitation, InvitationStatus, InvitationTerms};
use tessera_domain::secret::SecretHash;
use tessera_domain::self_registration::SelfRegistration;
use tessera_domain::user::{EmailAddress, UserType};
use tessera_domain::{InvitationId, SelfRegistrationId, UserId};
use tessera_store::StoreError;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub sponsor: Uuid,
    pub user_type: String,
    pub offshore: bool,
    pub odc: bool,
    pub seed: bool,
    pub token_hash: Vec<u8>,
    pub status: String,
    pub registered_user: Option<Uuid>,
    pub sends: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self, StoreError> {
        Ok(Invitation {
            id: InvitationId::from_uuid(r.id),
            email: EmailAddress::from_trusted(r.email),
            sponsor: UserId::from_uuid(r.sponsor),
            user_type: UserType::parse(&r.user_type)
                .ok_or_else(|| corrupt("invitations.user_type", &r.user_type))?,
            // As stored: the terms were normalised by `InvitationTerms::new` when made.
            terms: InvitationTerms {
                offshore: r.offshore,
                odc: r.odc,
                seed: r.seed,
            },
            token_hash: SecretHash(hash32("invitations.token_hash", &r.token_hash)?),
            status: InvitationStatus::parse(&r.status)
                .ok_or_else(|| corrupt("invitations.status", &r.status))?,
            registered_user: r.registered_user.map(UserId::from_uuid),
            sends: count("invitations.sends", r.sends)?,
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            updated_at: from_unix(r.updated_at),
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SelfRegistrationRow {
    pub id: Uuid,
    pub email: String,
    pub token_hash: Vec<u8>,
    pub code_mac: Vec<u8>,
    pub code_expires_at: i64,
    pub attempts: i64,
    pub sends: i64,
    pub last_sent_at: i64,
    pub verified_at: Option<i64>,
    pub completed_user: Option<Uuid>,
    pub created_at: i64,
    pub version: i64,
}

impl TryFrom<SelfRegistrationRow> for SelfRegistration {
    type Error = StoreError;
    fn try_from(r: SelfRegistrationRow) -> Result<Self, StoreError> {
        Ok(SelfRegistration {
            id: SelfRegistrationId::from_uuid(r.id),
            email: EmailAddress::from_trusted(r.email),
            token_hash: SecretHash(hash32("self_registrations.token_hash", &r.token_hash)?),
            code_mac: hash32("self_registrations.code_mac", &r.code_mac)?,
            code_expires_at: from_unix(r.code_expires_at),
            attempts: count("self_registrations.attempts", r.attempts)?,
            sends: count("self_registrations.sends", r.sends)?,
            last_sent_at: from_unix(r.last_sent_at),
            verified_at: r.verified_at.map(from_unix),
            completed_user: r.completed_user.map(UserId::from_uuid),
            created_at: from_unix(r.created_at),
            version: r.version,
        })
    }
}

#[macro_export]
macro_rules! invitation_columns {
    () => {
        "id, email, sponsor, user_type, offshore, odc, seed, token_hash, status, registered_user, sends, created_at, expires_at, updated_at, version"
    };
}
#[macro_export]
macro_rules! self_registration_columns {
    () => {
        "id, email, token_hash, code_mac, code_expires_at, attempts, sends, last_sent_at, verified_at, completed_user, created_at, version"
    };
}

/// Escapes `\`, `%` and `_` so that user input matches itself in `LIKE … ESCAPE '\'`.
pub fn escape_like(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `LIKE` patterns for an agency filter: the domain itself (`%@tech.gov.sg`) and its
/// subdomains (`%.tech.gov.sg`). A leading `@` or `*.` typed by an administrator is ignored.
pub fn agency_patterns(agency: &str) -> (String, String) {
    let domain = agency.trim().to_ascii_lowercase();
    let domain = domain
        .strip_prefix('@')
        .or_else(|| domain.strip_prefix("*."))
        .unwrap_or(&domain);
    let escaped = escape_like(domain);
    (format!("%@{escaped}"), format!("%.{escaped}"))
}

/// The `LIKE` pattern for a free-text search: a substring, wildcards in it taken literally.
pub fn contains_pattern(text: &str) -> String {
    format!("%{}%", escape_like(text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"a_b%c\d"), r"a\_b\%c\\d");
        assert_eq!(contains_pattern(" 50% "), r"%50\%%");
        assert_eq!(
            agency_patterns(" *.Tech.gov.sg"),
            ("%@tech.gov.sg".into(), "%.tech.gov.sg".into())
        );
    }
}
