//! The domain's errors. Each variant has a stable code; `web/error.rs` maps them to HTTP once.

use std::fmt;

/// Messages for named input fields, in the order the fields were checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field.to_owned(), message.into()));
        }
    }

    /// Records the error of a validation result, keeping the value when it is valid.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_str()))
    }

    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self))
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, message) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {message}")?;
            first = false;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule; each field says which.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// The thing does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule: the value is taken.
    #[error("{field}: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// The caller is not signed in, or its credentials are wrong. Deliberately vague.
    #[error("authentication failed")]
    Unauthenticated,
    /// Signed in, but without the right to do this.
    #[error("not allowed")]
    Forbidden,
    /// A link, code or token that is past its lifetime, already used, or revoked. One
    /// variant on purpose: telling which would help an attacker probe.
    #[error("{0} is no longer valid")]
    NoLongerValid(&'static str),
    /// The operation conflicts with the current state (e.g. setup after an admin exists).
    #[error("{0}")]
    InvalidState(String),
    /// Locked out or throttled after repeated failures; the message says until when.
    #[error("{0}")]
    TooManyAttempts(String),
}

impl DomainError {
    /// Stable, documented code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NoLongerValid(_) => "no_longer_valid",
            Self::InvalidState(_) => "invalid_state",
            Self::TooManyAttempts(_) => "too_many_attempts",
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        Self::Invalid(errors)
    }
}
