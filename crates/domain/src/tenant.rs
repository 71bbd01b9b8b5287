//! Tenants: services on the platform that own apps and delegate their administration.

use crate::TenantId;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    /// Short stable handle used in URLs and the CLI: 2–63 of `a-z 0-9 -`.
    pub slug: String,
    pub display_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub fn parse_slug(input: &str) -> Result<String, String> {
    let slug = input.trim().to_lowercase();
    let len = slug.len();
    let ok = (2..=63).contains(&len)
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug)
    } else {
        Err("A tenant handle has 2–63 lowercase letters, digits or hyphens, and does not start or end with a hyphen.".into())
    }
}

pub fn parse_display_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        Err("A tenant name has 1–120 characters.".into())
    } else {
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(parse_slug(" Docs-Portal "), Ok("docs-portal".into()));
        assert!(parse_slug("-x").is_err());
        assert!(parse_slug("a").is_err());
        assert!(parse_slug("a_b").is_err());
    }
}
