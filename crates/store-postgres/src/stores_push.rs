//! The push-approval store on PostgreSQL: enrolment tokens, device keys and number-matching
//! challenges. Spending an enrolment token and each compare-and-set are single conditional
//! updates: under READ COMMITTED a waiting update re-checks its WHERE clause against the row
//! the winner committed, so the loser changes nothing and gets `false`. A challenge made
//! through one node can thus be answered through another exactly once.

use crate::PostgresTx;
use async_trait::async_trait;
use tessera_domain::clock::to_unix;
use tessera_domain::push::{PushChallenge, PushDevice, PushEnrolment};
use tessera_domain::secret::SecretHash;
use tessera_domain::{PushChallengeId, PushDeviceId, UserId};
use tessera_store::{PushStore, StoreError};
use tessera_store_sql::{
    PushChallengeRow, PushDeviceRow, convert_all, db_err, map_err, push_challenge_columns,
    push_device_columns, push_enrolment_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl PushStore for PostgresTx {
    async fn insert_push_enrolment(&mut self, e: &PushEnrolment) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO push_enrolments (",
            push_enrolment_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(e.token_hash.as_bytes().to_vec())
        .bind(e.user_id.as_uuid())
        .bind(to_unix(e.created_at))
        .bind(to_unix(e.expires_at))
        .bind(e.device_id.map(|d| d.as_uuid()))
        .execute(self.handle.conn())
        .await
        .map_err(|err| map_err(err, Some("token")))?;
        Ok(())
    }

    async fn register_push_device(
        &mut self,
        token: &SecretHash,
        d: &PushDevice,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // Spend the token first: only the caller whose update changed the row goes on to
        // insert its device. A token of another user spends nothing.
        let spent = sqlx::query(concat!(
            "UPDATE push_enrolments SET device_id = $1 WHERE token_hash = $2 AND user_id = $3 ",
            "AND device_id IS NULL AND expires_at > $4"
        ))
        .bind(d.id.as_uuid())
        .bind(token.as_bytes().to_vec())
        .bind(d.user_id.as_uuid())
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        if spent.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(concat!(
            "INSERT INTO push_devices (",
            push_device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(d.id.as_uuid())
        .bind(d.user_id.as_uuid())
        .bind(d.name.clone())
        .bind(d.alg.as_str())
        .bind(d.public_key.clone())
        .bind(to_unix(d.created_at))
        .bind(d.confirmed_at.map(to_unix))
        .bind(d.last_used_at.map(to_unix))
        .bind(d.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(true)
    }

    async fn push_device(&mut self, id: PushDeviceId) -> Result<Option<PushDevice>, StoreError> {
        sqlx::query_as::<_, PushDeviceRow>(concat!(
            "SELECT ",
            push_device_columns!(),
            " FROM push_devices WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(PushDevice::try_from)
        .transpose()
    }

    async fn push_devices_of_user(&mut self, user: UserId) -> Result<Vec<PushDevice>, StoreError> {
        let rows = sqlx::query_as::<_, PushDeviceRow>(concat!(
            "SELECT ",
            push_device_columns!(),
            " FROM push_devices WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn update_push_device(&mut self, d: &PushDevice) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE push_devices SET name = $1, confirmed_at = $2, last_used_at = $3, ",
            "version = version + 1 WHERE id = $4 AND version = $5"
        ))
        .bind(d.name.clone())
        .bind(d.confirmed_at.map(to_unix))
        .bind(d.last_used_at.map(to_unix))
        .bind(d.id.as_uuid())
        .bind(d.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_push_device(
        &mut self,
        user: UserId,
        id: PushDeviceId,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM push_devices WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_push_challenge(&mut self, c: &PushChallenge) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO push_challenges (",
            push_challenge_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(c.id.as_uuid())
        .bind(c.user_id.as_uuid())
        .bind(i32::from(c.number))
        .bind(c.app_name.clone())
        .bind(c.source_ip.clone())
        .bind(to_unix(c.created_at))
        .bind(to_unix(c.expires_at))
        .bind(c.status.as_str())
        .bind(i64::from(c.wrong_numbers))
        .bind(c.decided_at.map(to_unix))
        .bind(c.decided_by.map(|d| d.as_uuid()))
        .bind(c.flow_token_hash.as_ref().map(|h| h.as_bytes().to_vec()))
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn push_challenge(
        &mut self,
        id: PushChallengeId,
    ) -> Result<Option<PushChallenge>, StoreError> {
        sqlx::query_as::<_, PushChallengeRow>(concat!(
            "SELECT ",
            push_challenge_columns!(),
            " FROM push_challenges WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(PushChallenge::try_from)
        .transpose()
    }

    async fn open_push_challenges(
        &mut self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<PushChallenge>, StoreError> {
        let rows = sqlx::query_as::<_, PushChallengeRow>(concat!(
            "SELECT ",
            push_challenge_columns!(),
            " FROM push_challenges WHERE user_id = $1 AND status = 'pending' AND expires_at > $2",
            " ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .bind(to_unix(now))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn update_push_challenge(&mut self, c: &PushChallenge) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE push_challenges SET status = $1, wrong_numbers = $2, decided_at = $3, ",
            "decided_by = $4, version = version + 1 WHERE id = $5 AND version = $6"
        ))
        .bind(c.status.as_str())
        .bind(i64::from(c.wrong_numbers))
        .bind(c.decided_at.map(to_unix))
        .bind(c.decided_by.map(|d| d.as_uuid()))
        .bind(c.id.as_uuid())
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_push_challenges_since(
        &mut self,
        user: UserId,
        since: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM push_challenges WHERE user_id = $1 AND created_at >= $2",
        )
        .bind(user.as_uuid())
        .bind(to_unix(since))
        .fetch_one(self.handle.conn())
        .await
        .map_err(db_err)
    }
}
