//! Row shapes for push approval: the device keys authenticator apps register and the
//! number-matching challenges they answer. Enrolment tokens are only written and marked
//! used, never read back whole, so they have no row type.

use crate::{corrupt, count, hash32};
use tessera_domain::clock::from_unix;
use tessera_domain::push::{ChallengeStatus, DeviceKeyAlg, PushChallenge, PushDevice};
use tessera_domain::secret::SecretHash;
use tessera_domain::{PushChallengeId, PushDeviceId, UserId};
use tessera_store::StoreError;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct PushDeviceRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub alg: String,
    pub public_key: Vec<u8>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub version: i64,
}

impl TryFrom<PushDeviceRow> for PushDevice {
    type Error = StoreError;
    fn try_from(r: PushDeviceRow) -> Result<Self, StoreError> {
        Ok(PushDevice {
            id: PushDeviceId::from_uuid(r.id),
            user_id: UserId::from_uuid(r.user_id),
            name: r.name,
            alg: DeviceKeyAlg::parse(&r.alg).ok_or_else(|| corrupt("push_devices.alg", &r.alg))?,
            public_key: r.public_key,
            created_at: from_unix(r.created_at),
            confirmed_at: r.confirmed_at.map(from_unix),
            last_used_at: r.last_used_at.map(from_unix),
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PushChallengeRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub number: i32,
    pub app_name: String,
    pub source_ip: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub status: String,
    pub wrong_numbers: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<Uuid>,
    pub flow_token_hash: Option<Vec<u8>>,
    pub version: i64,
}

impl TryFrom<PushChallengeRow> for PushChallenge {
    type Error = StoreError;
    fn try_from(r: PushChallengeRow) -> Result<Self, StoreError> {
        Ok(PushChallenge {
            id: PushChallengeId::from_uuid(r.id),
            user_id: UserId::from_uuid(r.user_id),
            number: u8::try_from(r.number)
                .map_err(|_| corrupt("push_challenges.number", &r.number.to_string()))?,
            app_name: r.app_name,
            source_ip: r.source_ip,
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            status: ChallengeStatus::parse(&r.status)
                .ok_or_else(|| corrupt("push_challenges.status", &r.status))?,
            wrong_numbers: count("push_challenges.wrong_numbers", r.wrong_numbers)?,
            decided_at: r.decided_at.map(from_unix),
            decided_by: r.decided_by.map(PushDeviceId::from_uuid),
            flow_token_hash: r
                .flow_token_hash
                .map(|h| hash32("push_challenges.flow_token_hash", &h).map(SecretHash))
                .transpose()?,
            version: r.version,
        })
    }
}

#[macro_export]
macro_rules! push_enrolment_columns {
    () => {
        "token_hash, user_id, created_at, expires_at, device_id"
    };
}
#[macro_export]
macro_rules! push_device_columns {
    () => {
        "id, user_id, name, alg, public_key, created_at, confirmed_at, last_used_at, version"
    };
}
#[macro_export]
macro_rules! push_challenge_columns {
    () => {
        "id, user_id, number, app_name, source_ip, created_at, expires_at, status, wrong_numbers, decided_at, decided_by, flow_token_hash, version"
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> PushChallengeRow {
        PushChallengeRow {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            number: 42,
            app_name: "Tessera portal".into(),
            source_ip: None,
            created_at: 1_800_000_000,
            expires_at: 1_800_000_060,
            status: "pending".into(),
            wrong_numbers: 0,
            decided_at: None,
            decided_by: None,
            flow_token_hash: Some(vec![7; 32]),
            version: 1,
        }
    }

    #[test]
    fn a_challenge_row_converts() {
        let c = PushChallenge::try_from(row());
        assert!(c.is_ok_and(|c| c.number == 42
            && c.status == ChallengeStatus::Pending
            && c.flow_token_hash == Some(SecretHash([7; 32]))));
    }

    #[test]
    fn corrupt_challenge_rows_are_refused() {
        let bad = [
            PushChallengeRow {
                number: 300,
                ..row()
            },
            PushChallengeRow {
                status: "maybe".into(),
                ..row()
            },
            PushChallengeRow {
                wrong_numbers: -1,
                ..row()
            },
            PushChallengeRow {
                flow_token_hash: Some(vec![7; 31]),
                ..row()
            },
        ];
        for r in bad {
            assert!(matches!(
                PushChallenge::try_from(r),
                Err(StoreError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn an_unknown_key_algorithm_is_refused() {
        let r = PushDeviceRow {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            name: "Phone".into(),
            alg: "RS256".into(),
            public_key: vec![1; 32],
            created_at: 0,
            confirmed_at: None,
            last_used_at: None,
            version: 1,
        };
        assert!(matches!(
            PushDevice::try_from(r),
            Err(StoreError::Corrupt(_))
        ));
    }
}
