//! Delegated tenant administration: tenant groups, who may use an app (access rules), the
//! requests of people an app refused, and app secrets as tenant admins see them.

use crate::user::{User, UserState, UserType};
use crate::{AccessRequestId, AppId, GroupId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A named set of users inside one tenant. Access rules and invitations refer to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantGroup {
    pub id: GroupId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub fn parse_group_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        Err("A group name has 1–80 characters.".into())
    } else {
        Ok(name.to_owned())
    }
}

pub fn parse_description(input: &str) -> Result<String, String> {
    let text = input.trim();
    if text.chars().count() > 500 || text.chars().any(|c| c.is_control() && c != '\n') {
        Err("A description has at most 500 characters.".into())
    } else {
        Ok(text.to_owned())
    }
}

/// Whom an app admits at all, before the narrowing rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every active user of the platform.
    #[default]
    Everyone,
    /// Only the listed users and the members of the listed groups.
    Listed,
}

/// Who may sign in to one app. Checked at `/authorize` before a code is issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRules {
    #[serde(default)]
    pub audience: Audience,
    /// These users, always: listing a person overrides the type and offshore rules.
    #[serde(default)]
    pub users: Vec<UserId>,
    /// With [`Audience::Listed`], the members of these groups of the app's tenant too.
    #[serde(default)]
    pub groups: Vec<GroupId>,
    /// Only these user types; empty means every type.
    #[serde(default)]
    pub user_types: Vec<UserType>,
    /// Whether vendors working offshore may use the app.
    #[serde(default = "yes")]
    pub offshore_allowed: bool,
}

fn yes() -> bool {
    true
}

impl Default for AccessRules {
    fn default() -> Self {
        Self {
            audience: Audience::Everyone,
            users: Vec::new(),
            groups: Vec::new(),
            user_types: Vec::new(),
            offshore_allowed: true,
        }
    }
}

/// Why an app refused someone; the refusal page says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRefusal {
    /// The account is not active (pending, suspended, terminated).
    NotActive,
    /// The app admits listed users and groups only, and this person is in neither.
    NotListed,
    /// The app admits other user types only.
    UserType,
    /// The app does not admit vendors working offshore.
    Offshore,
}

impl AccessRefusal {
    pub fn explain(self) -> &'static str {
        match self {
            Self::NotActive => "Your account is not active.",
            Self::NotListed => "This app is open only to people its owners have given access.",
            Self::UserType => "This app is not open to your type of account.",
            Self::Offshore => "This app is not open to vendors working from outside the country.",
        }
    }
}

impl AccessRules {
    /// Whether `user`, a member of `groups` in the app's tenant, may use the app.
    pub fn admit(&self, user: &User, groups: &[GroupId]) -> Result<(), AccessRefusal> {
        if user.state != UserState::Active {
            return Err(AccessRefusal::NotActive);
        }
        // A person listed by name was given access on purpose (an approved request, say):
        // the type and offshore rules are for everyone else.
        if self.users.contains(&user.id) {
            return Ok(());
        }
        if !self.user_types.is_empty() && !self.user_types.contains(&user.user_type) {
            return Err(AccessRefusal::UserType);
        }
        if !self.offshore_allowed && user.offshore.is_some() {
            return Err(AccessRefusal::Offshore);
        }
        match self.audience {
            Audience::Everyone => Ok(()),
            Audience::Listed if self.groups.iter().any(|g| groups.contains(g)) => Ok(()),
            Audience::Listed => Err(AccessRefusal::NotListed),
        }
    }

    /// Whether the rules name groups at all (only then are a user's groups worth reading).
    pub fn needs_groups(&self) -> bool {
        self.audience == Audience::Listed && !self.groups.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl AccessRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A refused user's request to use an app; the app's tenant admins approve or reject it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    pub tenant_id: TenantId,
    pub app_id: AppId,
    pub user_id: UserId,
    /// What the person wrote about why they need the app.
    pub reason: String,
    pub status: AccessRequestStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    /// The deciding actor, encoded as in the audit log (`user:<id>`, `cli`, `client:<id>`).
    pub decided_by: Option<String>,
}

pub fn parse_reason(input: &str) -> Result<String, String> {
    let text = input.trim();
    if text.chars().count() > 500
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        Err("Say why in at most 500 characters of text.".into())
    } else {
        Ok(text.to_owned())
    }
}

/// One client secret as its owners see it: never the secret, only when it was made and
/// until when it works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppSecret {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Absent: valid until revoked. Set by a rotation to the end of its overlap window.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl AppSecret {
    pub fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_and_default_to_everyone() {
        let r: AccessRules = serde_json::from_str("{}").unwrap();
        assert_eq!(r, AccessRules::default());
        assert!(r.offshore_allowed);
        let listed = AccessRules {
            audience: Audience::Listed,
            user_types: vec![UserType::Vendor],
            offshore_allowed: false,
            ..AccessRules::default()
        };
        let text = serde_json::to_string(&listed).unwrap();
        assert_eq!(serde_json::from_str::<AccessRules>(&text).unwrap(), listed);
        assert!(listed.users.is_empty() && !listed.needs_groups());
    }
}
