//! Invitations: a sponsor asks a person to register. The emailed link is single-use and
//! expires; resending replaces the link, revoking kills it.

use crate::secret::SecretHash;
use crate::user::{EmailAddress, UserType};
use crate::{InvitationId, UserId};
use serde::Serialize;
use time::OffsetDateTime;

/// The stored state. `Expired` is written by the background job; until it runs, an
/// unexpired-looking `Sent` past its time is reported as expired by [`Invitation::status_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Sent,
    Registered,
    Expired,
    Revoked,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Registered => "registered",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(Self::Sent),
            "registered" => Some(Self::Registered),
            "expired" => Some(Self::Expired),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// What the sponsor asked for the invitee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InvitationTerms {
    /// Works from outside the country: device onboarding is mandatory, and unless in an
    /// Offshore Development Centre, registration asks for the reporting officer and company.
    pub offshore: bool,
    /// Works from an Offshore Development Centre (only meaningful with `offshore`).
    pub odc: bool,
    /// Device onboarding (SEED) requested; always true for offshore vendors.
    pub seed: bool,
}

impl InvitationTerms {
    pub fn new(offshore: bool, odc: bool, seed: bool) -> Self {
        Self {
            offshore,
            odc: offshore && odc,
            seed: seed || offshore,
        }
    }

    /// Whether registration must ask for reporting officer and company address.
    pub fn needs_offshore_details(&self) -> bool {
        self.offshore && !self.odc
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: EmailAddress,
    pub sponsor: UserId,
    pub user_type: UserType,
    pub terms: InvitationTerms,
    #[serde(skip)]
    pub token_hash: SecretHash,
    pub status: InvitationStatus,
    /// The account made from it, once registered.
    pub registered_user: Option<UserId>,
    /// How many links were sent (1 + resends).
    pub sends: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Incremented by every update; updates are compare-and-set on it, so two nodes or
    /// two requests acting on one invitation cannot both succeed.
    #[serde(skip)]
    pub version: i64,
}

impl Invitation {
    /// The status a person would see now.
    pub fn status_at(&self, now: OffsetDateTime) -> InvitationStatus {
        match self.status {
            InvitationStatus::Sent if now >= self.expires_at => InvitationStatus::Expired,
            s => s,
        }
    }

    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.status_at(now) == InvitationStatus::Sent
    }

    /// A sponsor may resend until the person registers or the invitation is revoked.
    pub fn may_resend(&self) -> bool {
        matches!(
            self.status,
            InvitationStatus::Sent | InvitationStatus::Expired
        )
    }

    pub fn may_revoke(&self) -> bool {
        self.may_resend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;

    fn sample() -> Invitation {
        Invitation {
            id: InvitationId::from_uuid(uuid::Uuid::nil()),
            email: EmailAddress::parse("v@vendor.com").unwrap(),
            sponsor: UserId::from_uuid(uuid::Uuid::nil()),
            user_type: UserType::Vendor,
            terms: InvitationTerms::default(),
            token_hash: SecretHash([0; 32]),
            status: InvitationStatus::Sent,
            registered_user: None,
            sends: 1,
            created_at: from_unix(1000),
            expires_at: from_unix(2000),
            updated_at: from_unix(1000),
            version: 1,
        }
    }

    #[test]
    fn sent_invitations_expire_by_time() {
        let i = sample();
        assert!(i.is_usable(from_unix(1999)));
        assert_eq!(i.status_at(from_unix(2000)), InvitationStatus::Expired);
        assert!(i.may_resend());
        let done = Invitation {
            status: InvitationStatus::Registered,
            ..sample()
        };
        assert!(!done.is_usable(from_unix(1500)));
        assert!(!done.may_resend() && !done.may_revoke());
    }

    #[test]
    fn offshore_terms_imply_device_onboarding() {
        let t = InvitationTerms::new(true, false, false);
        assert!(t.seed && t.needs_offshore_details());
        let odc = InvitationTerms::new(true, true, false);
        assert!(!odc.needs_offshore_details());
        assert!(!InvitationTerms::new(false, true, false).odc);
    }
}
