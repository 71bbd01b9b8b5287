//! What a flow can fail with: a rule of the domain, or the storage underneath.

use tessera_domain::DomainError;
use tessera_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or an unexpected failure of a dependency; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn domain(&self) -> Option<&DomainError> {
        match self {
            Self::Domain(d) => Some(d),
            _ => None,
        }
    }
}
