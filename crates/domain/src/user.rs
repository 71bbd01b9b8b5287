//! People with accounts: their identifiers, profile, type and lifecycle state.

use crate::UserId;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// What users sign in with: 3–32 of `a-z 0-9 . - _`, stored lowercase, never an email.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim().to_lowercase();
        if name.is_empty() {
            return Err("Enter a username.".into());
        }
        if name.contains('@') {
            return Err("Use a username, not an email address.".into());
        }
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err("A username has 3 to 32 characters.".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        {
            return Err(
                "Use only lowercase letters, digits, dot (.), hyphen (-) and underscore (_)."
                    .into(),
            );
        }
        Ok(Self(name))
    }

    /// For values read back from the store, which were validated on the way in.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, with the domain lowercased. Deliberately simple: the mailbox proves it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err("Enter an email address.".into());
        }
        let invalid = || "Enter an email address like name@agency.gov.sg.".to_string();
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '<' || c == '>');
        if !domain_ok || !local_ok || raw.len() > 254 {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mobile number in E.164 form (`+` and 8–15 digits). Spaces and hyphens are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MobileNumber(String);

impl MobileNumber {
    pub fn parse(input: &str) -> Result<Self, String> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if compact.is_empty() {
            return Err("Enter a mobile number.".into());
        }
        let digits = compact
            .strip_prefix('+')
            .ok_or_else(|| "Start with + and the country code, e.g. +6591234567.".to_string())?;
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if !valid {
            return Err(
                "Enter the number in international format: + country code and number, e.g. +6591234567."
                    .into(),
            );
        }
        Ok(Self(compact))
    }

    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A given or family name: required, at most 100 characters, no control characters.
pub fn parse_person_name(input: &str, what: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Err(format!("Enter your {what}."));
    }
    if name.chars().count() > 100 {
        return Err(format!("Your {what} can have at most 100 characters."));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "Your {what} contains characters that are not allowed."
        ));
    }
    Ok(name.to_owned())
}

/// Password rules every new password meets. (Issue 5 adds a strength estimator.)
pub fn check_new_password(password: &str, username: Option<&Username>) -> Result<(), String> {
    let len = password.chars().count();
    if len < 12 {
        return Err("Use at least 12 characters.".into());
    }
    if len > 256 {
        return Err("Use at most 256 characters.".into());
    }
    if let Some(u) = username
        && password.to_lowercase().contains(u.as_str())
    {
        return Err("Your password must not contain your username.".into());
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Officer,
    Vendor,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Officer => "officer",
            Self::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "officer" => Some(Self::Officer),
            "vendor" => Some(Self::Vendor),
            _ => None,
        }
    }
}

/// Where an account is in its lifecycle (PRODUCT.md "Account lifecycle").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Pending,
    Active,
    Suspended,
    Terminated,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "terminated" => Some(Self::Terminated),
            _ => None,
        }
    }

    /// Whether a password sign-in may proceed (pending accounts sign in to activate).
    pub fn may_sign_in(self) -> bool {
        matches!(self, Self::Pending | Self::Active)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub given_name: String,
    pub family_name: String,
    pub email: EmailAddress,
    /// Absent for an administrator bootstrapped from the command line until they add one.
    pub mobile: Option<MobileNumber>,
    pub department: String,
    pub user_type: UserType,
    pub state: UserState,
    pub platform_admin: bool,
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// The password was generated and sent by SMS: it opens only the onboarding wizard,
    /// which replaces it.
    pub password_is_initial: bool,
    /// Who invited this person (absent for self-registered officers and administrators).
    pub sponsor: Option<UserId>,
    /// Present for vendors working outside the country.
    pub offshore: Option<OffshoreDetails>,
    /// Device onboarding (SEED) requested.
    pub device_onboarding: bool,
    /// A pending account is terminated if not activated by then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub activation_deadline: Option<OffsetDateTime>,
    /// How many deadline reminders were sent (stages of the reminder schedule).
    pub reminders_sent: u32,
    /// When the mobile number was last proven by an SMS code (onboarding or a change).
    #[serde(with = "time::serde::rfc3339::option")]
    pub phone_verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Incremented by every update; updates are compare-and-set on it, so a background job
    /// on one node and an administrator on another cannot both change the same state.
    #[serde(skip)]
    pub version: i64,
}

/// What registration asks of an offshore vendor (unless in an Offshore Development Centre).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OffshoreDetails {
    pub in_odc: bool,
    pub reporting_officer_name: Option<String>,
    pub reporting_officer_email: Option<EmailAddress>,
    pub company_address: Option<String>,
}

/// A free-text field such as a department or an address: required, bounded, printable.
pub fn parse_text(input: &str, what: &str, max: usize) -> Result<String, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err(format!("Enter the {what}."));
    }
    if text.chars().count() > max {
        return Err(format!("The {what} can have at most {max} characters."));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(format!(
            "The {what} contains characters that are not allowed."
        ));
    }
    Ok(text.to_owned())
}

impl User {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// The agency (or company) is read from the email domain.
    pub fn agency(&self) -> &str {
        self.email.domain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert_eq!(
            Username::parse(" Ada.L-1_ ").map(|u| u.0),
            Ok("ada.l-1_".into())
        );
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(
            Username::parse("ada@agency.gov.sg")
                .unwrap_err()
                .contains("email")
        );
        assert!(Username::parse("ada lovelace").is_err());
        assert!(Username::parse("adä").is_err());
    }

    #[test]
    fn emails_and_mobiles_are_normalised_or_refused() {
        assert_eq!(
            EmailAddress::parse("Ada@Agency.GOV.sg").map(|e| e.0),
            Ok("Ada@agency.gov.sg".into())
        );
        assert!(EmailAddress::parse("no-at-sign").is_err());
        assert!(EmailAddress::parse("a@localhost").is_err());
        assert_eq!(
            MobileNumber::parse("+65 9123-4567").map(|m| m.0),
            Ok("+6591234567".into())
        );
        assert!(MobileNumber::parse("91234567").is_err());
        assert!(MobileNumber::parse("+65abc").is_err());
        assert!(MobileNumber::parse("+0123456789").is_err());
    }

    #[test]
    fn new_passwords_meet_the_policy() {
        let u = Username::parse("ada").ok();
        assert!(check_new_password("short", u.as_ref()).is_err());
        assert!(
            check_new_password("my name is ADA ok!", u.as_ref())
                .unwrap_err()
                .contains("username")
        );
        assert!(check_new_password("correct horse battery", u.as_ref()).is_ok());
    }
}
