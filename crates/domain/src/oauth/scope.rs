//! Scopes: a space-separated set, kept in the order given and without repeats.

use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses RFC 6749 §3.3 scope: tokens of printable ASCII except `"` and `\`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut out: Vec<String> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(format!(
                    "the scope {token:?} contains characters that are not allowed"
                ));
            }
            if !out.iter().any(|s| s == token) {
                out.push(token.to_owned());
            }
        }
        Ok(Self(out))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scopes not in `allowed`, if any.
    pub fn not_in<'a>(&'a self, allowed: &[&str]) -> Vec<&'a str> {
        self.iter().filter(|s| !allowed.contains(s)).collect()
    }

    /// Keeps only scopes also in `other` (a refresh may narrow, never widen).
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.iter().all(|s| other.contains(s))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_dedupe_and_refuse_bad_characters() {
        let s = Scopes::parse("openid  profile openid email").unwrap_or_default();
        assert_eq!(s.to_string(), "openid profile email");
        assert!(Scopes::parse("open\"id").is_err());
        assert_eq!(s.not_in(&["openid", "profile"]), ["email"]);
        assert!(Scopes::parse("openid").unwrap_or_default().is_subset_of(&s));
    }
}
