//! Password hashing with Argon2id (m = 19456 KiB, t = 2, p = 1), off the async threads and
//! bounded to one hash per core so a burst of sign-ins cannot starve everything else.

use crate::CoreError;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Mutex};
use tessera_domain::Random;
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    pool: Arc<HashPool>,
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
            pool: Arc::new(HashPool::new(cores)?),
            dummy: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: &str, random: &dyn Random) -> Result<String, CoreError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let params = self.params.clone();
        let password = Zeroizing::new(password.as_bytes().to_vec());
        self.pool
            .run(move || hash_blocking(&params, &password, &salt))
            .await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account, so
    /// both cases take the same time. Returns false for no account.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, CoreError> {
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let ok = self
            .pool
            .run(move || {
                // The stored hash carries its own parameters; any Argon2 instance verifies it.
                Argon2::default()
                    .verify_password(&password, hash.as_str())
                    .is_ok()
            })
            .await?;
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

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core runs every Argon2 hash. Each Argon2id hash needs 19 MiB; the
/// allocator keeps freed memory in the arena of the thread that used it, so hashing on
/// Tokio's blocking pool (up to 512 threads) let memory grow to hundreds of MB under a
/// sign-in burst. A fixed set of threads bounds it at one working set per core, and also
/// bounds how many hashes run at once.
struct HashPool {
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
}

impl HashPool {
    fn new(threads: usize) -> Result<Self, CoreError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job, not while running it.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // Every hasher is gone: the thread ends.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| CoreError::Internal(format!("argon2 thread: {e}")))?;
        }
        Ok(Self {
            jobs: Mutex::new(tx),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .lock()
            .map_err(|_| CoreError::Internal("argon2 queue poisoned".into()))?
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| CoreError::Internal("argon2 threads stopped".into()))?;
        rx.await
            .map_err(|_| CoreError::Internal("argon2 job dropped".into()))
    }
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
