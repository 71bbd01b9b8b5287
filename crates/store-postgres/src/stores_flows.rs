//! Pushed requests, device grants and session↔app links on a PostgreSQL connection.

use crate::PostgresTx;
use async_trait::async_trait;
use sqlx::types::Uuid;
use tessera_domain::clock::to_unix;
use tessera_domain::oauth::grant::{Authentication, DevicePoll};
use tessera_domain::oauth::{DeviceGrant, DeviceStatus, OAuthClient, PushedRequest};
use tessera_domain::secret::SecretHash;
use tessera_domain::{AppId, UserId};
use tessera_store::{DeviceGrantStore, PushedRequestStore, SessionClientStore, StoreError};
use tessera_store_sql::{
    ClientRow, DeviceRow, PushedRow, client_columns, db_err, device_columns, join, map_err,
};
use time::OffsetDateTime;

#[async_trait]
impl PushedRequestStore for PostgresTx {
    async fn insert_pushed_request(&mut self, r: &PushedRequest) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO pushed_requests (request_hash, client, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.request_hash.as_bytes().to_vec())
            .bind(r.client.as_uuid())
            .bind(r.params.clone())
            .bind(to_unix(r.created_at))
            .bind(to_unix(r.expires_at))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn pushed_request(
        &mut self,
        hash: &SecretHash,
    ) -> Result<Option<(PushedRequest, bool)>, StoreError> {
        sqlx::query_as::<_, PushedRow>(
            "SELECT request_hash, client, params, created_at, expires_at, used_at FROM pushed_requests WHERE request_hash = $1",
        )
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(<(PushedRequest, bool)>::try_from)
        .transpose()
    }

    async fn consume_pushed_request(
        &mut self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pushed_requests SET used_at = $1 WHERE request_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(to_unix(now))
        .bind(hash.as_bytes().to_vec())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl DeviceGrantStore for PostgresTx {
    async fn insert_device_grant(&mut self, g: &DeviceGrant) -> Result<(), StoreError> {
        // A unique violation would abort the whole PostgreSQL transaction (SQLite fails only
        // the statement); DO NOTHING keeps it usable, e.g. to retry with another user code.
        let done = sqlx::query(concat!(
            "INSERT INTO device_grants (",
            device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, NULL, NULL) ON CONFLICT DO NOTHING"
        ))
        .bind(g.device_code_hash.as_bytes().to_vec())
        .bind(g.user_code.clone())
        .bind(g.client.as_uuid())
        .bind(g.scope.clone())
        .bind(to_unix(g.created_at))
        .bind(to_unix(g.expires_at))
        .bind(g.interval_secs)
        .bind(g.status.as_str())
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("user_code")))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Duplicate { field: "user_code" });
        }
        Ok(())
    }

    async fn pending_device_grant(
        &mut self,
        user_code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<DeviceGrant>, StoreError> {
        sqlx::query_as::<_, DeviceRow>(concat!(
            "SELECT ",
            device_columns!(),
            " FROM device_grants WHERE user_code = $1 AND status = 'pending' AND expires_at > $2"
        ))
        .bind(user_code.to_owned())
        .bind(to_unix(now))
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(DeviceGrant::try_from)
        .transpose()
    }

    async fn decide_device_grant(
        &mut self,
        user_code: &str,
        approval: Option<&Authentication>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let status = if approval.is_some() {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        let done = sqlx::query(
            "UPDATE device_grants SET status = $1, user_id = $2, auth_time = $3, amr = $4, acr = $5, sid = $6 \
             WHERE user_code = $7 AND status = 'pending' AND expires_at > $8",
        )
        .bind(status.as_str())
        .bind(approval.map(|a| a.user_id.as_uuid()))
        .bind(approval.map(|a| to_unix(a.auth_time)))
        .bind(approval.map(|a| join(&a.amr)))
        .bind(approval.map(|a| a.acr.clone()))
        .bind(approval.map(|a| a.sid.clone()))
        .bind(user_code.to_owned())
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn poll_device_grant(
        &mut self,
        device_code: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        let approved = sqlx::query_as::<_, DeviceRow>(concat!(
            "UPDATE device_grants SET status = 'redeemed' WHERE device_code_hash = $1 AND status = 'approved' AND expires_at > $2 RETURNING ",
            device_columns!()
        ))
        .bind(device_code.as_bytes().to_vec())
        .bind(to_unix(now))
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        if let Some(row) = approved {
            return Ok(DevicePoll::Approved(DeviceGrant::try_from(row)?));
        }
        let seen: Option<(String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT status, expires_at, interval_secs, last_polled_at FROM device_grants WHERE device_code_hash = $1",
        )
        .bind(device_code.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        let Some((status, expires_at, interval, last)) = seen else {
            return Ok(DevicePoll::Unknown);
        };
        if expires_at <= to_unix(now) {
            return Ok(DevicePoll::Expired);
        }
        match status.as_str() {
            "denied" => Ok(DevicePoll::Denied),
            "pending" => {
                sqlx::query(
                    "UPDATE device_grants SET last_polled_at = $1 WHERE device_code_hash = $2",
                )
                .bind(to_unix(now))
                .bind(device_code.as_bytes().to_vec())
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(DevicePoll::Pending {
                    too_fast: last.is_some_and(|l| to_unix(now) - l < interval),
                })
            }
            // Redeemed (or approved but expired): spent.
            _ => Ok(DevicePoll::Expired),
        }
    }
}

#[async_trait]
impl SessionClientStore for PostgresTx {
    async fn record_session_client(
        &mut self,
        sid: &str,
        client: AppId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO session_clients (sid, client, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sid, client) DO NOTHING")
            .bind(sid.to_owned())
            .bind(client.as_uuid())
            .bind(user.as_uuid())
            .bind(to_unix(now))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn take_session_clients(&mut self, sid: &str) -> Result<Vec<AppId>, StoreError> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("DELETE FROM session_clients WHERE sid = $1 RETURNING client")
                .bind(sid.to_owned())
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(ids.into_iter().map(AppId::from_uuid).collect())
    }

    async fn client_by_id(&mut self, id: AppId) -> Result<Option<OAuthClient>, StoreError> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(OAuthClient::try_from)
        .transpose()
    }

    async fn revoke_online_refresh_for_sid(
        &mut self,
        sid: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, $1) WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE sid = $2 \
              AND (' ' || scope || ' ') NOT LIKE '% offline_access %')",
        )
        .bind(to_unix(now))
        .bind(sid.to_owned())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE sid = $2 AND revoked_at IS NULL \
             AND (' ' || scope || ' ') NOT LIKE '% offline_access %'",
        )
        .bind(to_unix(now))
        .bind(sid.to_owned())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
