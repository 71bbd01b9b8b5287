//! Policy documents users accept (Privacy Policy, Terms of Use, the MDM acceptable-use
//! policy), published as numbered versions; a new version asks everyone again.

use crate::UserId;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Privacy,
    Terms,
    /// Only for users with device onboarding.
    MdmAup,
}

impl PolicyKind {
    pub const ALL: [Self; 3] = [Self::Privacy, Self::Terms, Self::MdmAup];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privacy => "privacy",
            Self::Terms => "terms",
            Self::MdmAup => "mdm_aup",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "privacy" => Some(Self::Privacy),
            "terms" => Some(Self::Terms),
            "mdm_aup" => Some(Self::MdmAup),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Privacy => "Privacy Policy",
            Self::Terms => "Terms of Use",
            Self::MdmAup => "MDM Acceptable Use Policy",
        }
    }

    /// Whether this kind applies to a user.
    pub fn applies_to(self, device_onboarding: bool) -> bool {
        self != Self::MdmAup || device_onboarding
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDocument {
    pub kind: PolicyKind,
    /// 1, 2, 3… per kind.
    pub version: i32,
    pub title: String,
    /// Markdown, rendered to safe HTML for display.
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub published_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyAcceptance {
    pub user_id: UserId,
    pub kind: PolicyKind,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub accepted_at: OffsetDateTime,
}
