//! The account-lifecycle settings (agency domains, no-inbox addresses, validity windows,
//! reminders) and the rules that read them.

use crate::user::EmailAddress;
use serde::{Deserialize, Serialize};
use time::Duration;

/// A pattern over email domains or whole addresses: `gov.sg` (that domain), `*.gov.sg`
/// (any subdomain), or with an `@`, a whole address where `*` matches any run of
/// characters (`*@litemail.gov.sg`, `noreply*@*`). Matching ignores case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AddressPattern(String);

impl AddressPattern {
    pub fn parse(input: &str) -> Result<Self, String> {
        let p = input.trim().to_ascii_lowercase();
        if p.is_empty() {
            return Err("A pattern cannot be empty.".into());
        }
        if p.len() > 253 {
            return Err(format!("{p:?} is too long."));
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '@' | '_' | '+');
        if !p.chars().all(allowed) {
            return Err(format!(
                "{p:?}: use letters, digits, dots, hyphens and * (e.g. *.gov.sg or *@litemail.gov.sg)."
            ));
        }
        if p.matches('@').count() > 1 {
            return Err(format!("{p:?} has more than one @."));
        }
        if !p.contains('@') {
            let rest = p.strip_prefix("*.").unwrap_or(&p);
            if rest.contains('*')
                || !rest.contains('.')
                || rest.starts_with('.')
                || rest.ends_with('.')
            {
                return Err(format!(
                    "{p:?}: a domain pattern is a domain (agency.gov.sg) or *. and a domain (*.gov.sg)."
                ));
            }
        }
        Ok(Self(p))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, email: &EmailAddress) -> bool {
        let address = email.as_str().to_ascii_lowercase();
        if self.0.contains('@') {
            return glob(self.0.as_bytes(), address.as_bytes());
        }
        let domain = email.domain();
        match self.0.strip_prefix("*.") {
            Some(parent) => domain
                .strip_suffix(parent)
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            None => domain == self.0,
        }
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Parses a list of patterns given one per line or separated by commas or spaces.
pub fn parse_patterns(input: &str) -> Result<Vec<AddressPattern>, String> {
    input
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(AddressPattern::parse)
        .collect()
}

/// What the platform administrator decides about invitations and pending accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleSettings {
    /// Officers may self-register with an address under one of these.
    pub agency_domains: Vec<AddressPattern>,
    /// Addresses without a mailbox (LiteMail-style): refused for registration.
    pub no_inbox: Vec<AddressPattern>,
    pub invitation_validity_days: u32,
    /// How long a pending account has to complete its first sign-in.
    pub activation_window_days: u32,
    pub seed_invitation_validity_days: u32,
    /// Days before the activation deadline on which a reminder is sent, largest first.
    pub reminder_days_before: Vec<u32>,
    /// Wrong passwords (or second-factor codes) in a row that lock an account…
    pub lockout_max_failures: u32,
    /// …for this many minutes.
    pub lockout_minutes: u32,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            agency_domains: vec![AddressPattern("*.gov.sg".into())],
            no_inbox: Vec::new(),
            invitation_validity_days: 5,
            activation_window_days: 30,
            seed_invitation_validity_days: 30,
            reminder_days_before: vec![7, 1],
            lockout_max_failures: 5,
            lockout_minutes: 15,
        }
    }
}

/// Where an email address stands for officer self-registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressVerdict {
    Agency,
    NotAgency,
    NoInbox,
}

impl LifecycleSettings {
    pub const KEY: &'static str = "lifecycle";

    pub fn invitation_validity(&self) -> Duration {
        Duration::days(self.invitation_validity_days.into())
    }

    pub fn activation_window(&self) -> Duration {
        Duration::days(self.activation_window_days.into())
    }

    pub fn is_no_inbox(&self, email: &EmailAddress) -> bool {
        self.no_inbox.iter().any(|p| p.matches(email))
    }

    pub fn classify(&self, email: &EmailAddress) -> AddressVerdict {
        if self.is_no_inbox(email) {
            AddressVerdict::NoInbox
        } else if self.agency_domains.iter().any(|p| p.matches(email)) {
            AddressVerdict::Agency
        } else {
            AddressVerdict::NotAgency
        }
    }

    /// Checks ranges an administrator could get wrong; returns the messages by field.
    pub fn validate(&self) -> crate::FieldErrors {
        let mut errors = crate::FieldErrors::new();
        let range = |v: u32, lo: u32, hi: u32| (lo..=hi).contains(&v);
        if !range(self.invitation_validity_days, 1, 90) {
            errors.add("invitation_validity_days", "Use 1 to 90 days.");
        }
        if !range(self.activation_window_days, 1, 365) {
            errors.add("activation_window_days", "Use 1 to 365 days.");
        }
        if !range(self.seed_invitation_validity_days, 1, 365) {
            errors.add("seed_invitation_validity_days", "Use 1 to 365 days.");
        }
        if !range(self.lockout_max_failures, 3, 100) {
            errors.add("lockout_max_failures", "Use 3 to 100 attempts.");
        }
        if !range(self.lockout_minutes, 1, 1440) {
            errors.add("lockout_minutes", "Use 1 to 1440 minutes.");
        }
        if self
            .reminder_days_before
            .iter()
            .any(|d| *d == 0 || *d >= self.activation_window_days)
        {
            errors.add(
                "reminder_days_before",
                "Each reminder is 1 or more days before the deadline, and inside the activation window.",
            );
        }
        errors
    }

    /// Sorted largest first and without repeats, so "reminders sent" counts stages.
    pub fn normalise(mut self) -> Self {
        self.reminder_days_before.sort_unstable_by(|a, b| b.cmp(a));
        self.reminder_days_before.dedup();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn domain_patterns_match_subdomains_or_exact_domains() {
        let any = AddressPattern::parse("*.gov.sg").unwrap();
        assert!(any.matches(&email("ada@tech.gov.sg")));
        assert!(any.matches(&email("ada@a.b.GOV.sg")));
        assert!(!any.matches(&email("ada@gov.sg")));
        assert!(!any.matches(&email("ada@evilgov.sg")));
        assert!(!any.matches(&email("ada@tech.gov.sg.example.com")));
        let exact = AddressPattern::parse("Tech.gov.sg").unwrap();
        assert!(exact.matches(&email("ada@tech.gov.sg")));
        assert!(!exact.matches(&email("ada@x.tech.gov.sg")));
    }

    #[test]
    fn address_patterns_glob_the_whole_address() {
        let lite = AddressPattern::parse("*@litemail.gov.sg").unwrap();
        assert!(lite.matches(&email("Ada@LiteMail.gov.sg")));
        assert!(!lite.matches(&email("ada@tech.gov.sg")));
        let prefix = AddressPattern::parse("lite.*@*.gov.sg").unwrap();
        assert!(prefix.matches(&email("lite.ada@hdb.gov.sg")));
        assert!(!prefix.matches(&email("ada@hdb.gov.sg")));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        assert!(AddressPattern::parse("").is_err());
        assert!(AddressPattern::parse("gov").is_err());
        assert!(AddressPattern::parse("*gov.sg").is_err());
        assert!(AddressPattern::parse("a@b@c").is_err());
        assert!(AddressPattern::parse("gov.sg/x").is_err());
        assert_eq!(parse_patterns("*.gov.sg, tech.sg\nx.org").unwrap().len(), 3);
    }

    #[test]
    fn no_inbox_wins_over_agency() {
        let s = LifecycleSettings {
            no_inbox: vec![AddressPattern::parse("*@litemail.gov.sg").unwrap()],
            ..LifecycleSettings::default()
        };
        assert_eq!(s.classify(&email("a@tech.gov.sg")), AddressVerdict::Agency);
        assert_eq!(
            s.classify(&email("a@litemail.gov.sg")),
            AddressVerdict::NoInbox
        );
        assert_eq!(s.classify(&email("a@gmail.com")), AddressVerdict::NotAgency);
    }

    #[test]
    fn settings_validate_ranges_and_sort_reminders() {
        assert!(LifecycleSettings::default().validate().is_empty());
        let bad = LifecycleSettings {
            invitation_validity_days: 0,
            reminder_days_before: vec![40],
            ..LifecycleSettings::default()
        };
        let e = bad.validate();
        assert!(e.get("invitation_validity_days").is_some());
        assert!(e.get("reminder_days_before").is_some());
        let s = LifecycleSettings {
            reminder_days_before: vec![1, 7, 7, 3],
            ..LifecycleSettings::default()
        }
        .normalise();
        assert_eq!(s.reminder_days_before, vec![7, 3, 1]);
    }
}
