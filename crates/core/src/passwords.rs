//! Password hashing with Argon2id (m = 19456 KiB, t = 2, p = 1), off the async threads and
//! bounded to one hash per core so a burst of sign-ins cannot starve everything else.

use crate::CoreError;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tessera_domain::Random;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password: unknown usernames are verified against it, so
    /// they cost the same time as known ones and reveal nothing.
    dummy: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// The production parameters (OWASP's Argon2id recommendation).
    pub fn new(random: &dyn Random) -> Result<Self, CoreError> {
        let params = Params::new(19_456, 2, 1, None)
            .map_err(|e| CoreError::Internal(format!("argon2 params: {e}")))?;
        Self::with_params(params, random)
    }

    /// Cheap parameters for tests that hash many passwords.
    pub fn for_tests(random: &dyn Random) -> Result<Self, CoreError> {
        let params = Params::new(256, 1, 1, None)
            .map_err(|e| CoreError::Internal(format!("argon2 params: {e}")))?;
        Self::with_params(params, random)
    }

    fn with_params(params: Params, random: &dyn Random) -> Result<Self, CoreError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut pw = [0u8; 24];
        random.fill(&mut pw);
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let dummy = hash_blocking(&params, &pw, &salt)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: &str, random: &dyn Random) -> Result<String, CoreError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let params = self.params.clone();
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password, &salt))
            .await
            .map_err(|e| CoreError::Internal(format!("hashing task: {e}")))?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account, so
    /// both cases take the same time. Returns false for no account.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, CoreError> {
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let ok = tokio::task::spawn_blocking(move || {
            // The stored hash carries its own parameters; any Argon2 instance verifies it.
            Argon2::default()
                .verify_password(&password, hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|e| CoreError::Internal(format!("hashing task: {e}")))?;
        Ok(ok && real)
    }
}

/// The full new-password policy: the domain's rules (length, not the username), then a
/// strength estimate (zxcvbn) that refuses guessable passwords, saying why.
pub fn check_new_password(
    password: &str,
    username: &tessera_domain::user::Username,
    other_inputs: &[&str],
) -> Result<(), String> {
    tessera_domain::user::check_new_password(password, Some(username))?;
    let mut inputs = vec![username.as_str()];
    inputs.extend_from_slice(other_inputs);
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 3 {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Err(format!(
            "Choose a stronger password: {}. Use several unrelated words or more varied characters.",
            why.trim_end_matches('.')
        ));
    }
    Ok(())
}

fn hash_blocking(params: &Params, password: &[u8], salt: &[u8]) -> Result<String, CoreError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_with_salt(password, salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tessera_domain::SeededRandom;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_do() {
        let r = SeededRandom::new(1);
        let h = PasswordHasher::for_tests(&r).unwrap();
        let stored = h.hash("correct horse battery", &r).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            h.verify("correct horse battery", Some(&stored))
                .await
                .unwrap()
        );
        assert!(
            !h.verify("wrong horse battery", Some(&stored))
                .await
                .unwrap()
        );
        assert!(!h.verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn production_parameters_are_argon2id_19456_2_1() {
        let r = SeededRandom::new(2);
        let h = PasswordHasher::new(&r).unwrap();
        let stored = h.hash("correct horse battery", &r).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }
}
