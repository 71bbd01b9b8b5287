//! Row shapes for passkeys: registered credentials (webauthn-rs's `Passkey` as JSON) and
//! the state of ceremonies in progress.

use crate::hash32;
use tessera_domain::clock::from_unix;
use tessera_domain::secret::SecretHash;
use tessera_domain::{CredentialId, UserId};
use tessera_store::{PasskeyCeremony, PasskeyRecord, StoreError};
use uuid::Uuid;

/// The columns of `passkeys`, in the order of [`PasskeyRow`].
#[macro_export]
macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, passkey_json, name, created_at, last_used_at, version"
    };
}

/// The columns of `passkey_ceremonies`, in the order of [`PasskeyCeremonyRow`].
#[macro_export]
macro_rules! passkey_ceremony_columns {
    () => {
        "token_hash, user_id, kind, state_json, expires_at"
    };
}

#[derive(sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub credential_id: Vec<u8>,
    pub passkey_json: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub version: i64,
}

impl TryFrom<PasskeyRow> for PasskeyRecord {
    type Error = StoreError;
    fn try_from(r: PasskeyRow) -> Result<Self, StoreError> {
        Ok(PasskeyRecord {
            id: CredentialId::from_uuid(r.id),
            user_id: UserId::from_uuid(r.user_id),
            credential_id: r.credential_id,
            passkey_json: r.passkey_json,
            name: r.name,
            created_at: from_unix(r.created_at),
            last_used_at: r.last_used_at.map(from_unix),
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PasskeyCeremonyRow {
    pub token_hash: Vec<u8>,
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub state_json: String,
    pub expires_at: i64,
}

impl TryFrom<PasskeyCeremonyRow> for PasskeyCeremony {
    type Error = StoreError;
    fn try_from(r: PasskeyCeremonyRow) -> Result<Self, StoreError> {
        Ok(PasskeyCeremony {
            token_hash: SecretHash(hash32("passkey_ceremonies.token_hash", &r.token_hash)?),
            user_id: r.user_id.map(UserId::from_uuid),
            kind: r.kind,
            state_json: r.state_json,
            expires_at: from_unix(r.expires_at),
        })
    }
}
