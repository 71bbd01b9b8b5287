//! The account-lifecycle stores on SQLite: invitations, self-registrations and settings.
//! Updates are compare-and-set on `version`; every write transaction holds SQLite's single
//! write lock, so concurrent updates of one row are applied one after the other and only
//! the first matches the version its caller read.

use crate::SqliteTx;
use async_trait::async_trait;
use tessera_domain::InvitationId;
use tessera_domain::clock::to_unix;
use tessera_domain::invitation::Invitation;
use tessera_domain::secret::SecretHash;
use tessera_domain::self_registration::SelfRegistration;
use tessera_domain::user::EmailAddress;
use tessera_store::{
    InvitationQuery, InvitationStore, SelfRegistrationStore, SettingsStore, StoreError,
};
use tessera_store_sql::{
    InvitationRow, SelfRegistrationRow, convert_all, db_err, invitation_columns, map_err,
    self_registration_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl InvitationStore for SqliteTx {
    async fn insert_invitation(&mut self, i: &Invitation) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO invitations (",
            invitation_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(i.id.as_uuid())
        .bind(i.email.as_str().to_owned())
        .bind(i.sponsor.as_uuid())
        .bind(i.user_type.as_str())
        .bind(i.terms.offshore)
        .bind(i.terms.odc)
        .bind(i.terms.seed)
        .bind(i.token_hash.as_bytes().to_vec())
        .bind(i.status.as_str())
        .bind(i.registered_user.map(|u| u.as_uuid()))
        .bind(i64::from(i.sends))
        .bind(to_unix(i.created_at))
        .bind(to_unix(i.expires_at))
        .bind(to_unix(i.updated_at))
        .bind(i.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("token")))?;
        Ok(())
    }

    async fn invitation_by_id(
        &mut self,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        sqlx::query_as::<_, InvitationRow>(concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE id = ?"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(Invitation::try_from)
        .transpose()
    }

    async fn invitation_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<Invitation>, StoreError> {
        sqlx::query_as::<_, InvitationRow>(concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE token_hash = ?"
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(Invitation::try_from)
        .transpose()
    }

    async fn update_invitation(&mut self, i: &Invitation) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE invitations SET token_hash = ?, status = ?, registered_user = ?, sends = ?, ",
            "expires_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?"
        ))
        .bind(i.token_hash.as_bytes().to_vec())
        .bind(i.status.as_str())
        .bind(i.registered_user.map(|u| u.as_uuid()))
        .bind(i64::from(i.sends))
        .bind(to_unix(i.expires_at))
        .bind(to_unix(i.updated_at))
        .bind(i.id.as_uuid())
        .bind(i.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("token")))?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_invitations(
        &mut self,
        q: &InvitationQuery,
    ) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query_as::<_, InvitationRow>(concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE (?1 IS NULL OR sponsor = ?1) AND (?2 IS NULL OR status = ?2)",
            " AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ))
        .bind(q.sponsor.map(|s| s.as_uuid()))
        .bind(q.status.map(|s| s.as_str()))
        .bind(q.before.map(|b| b.as_uuid()))
        .bind(i64::from(q.limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn invitations_past_expiry(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query_as::<_, InvitationRow>(concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE status = 'sent' AND expires_at <= ?",
            " ORDER BY expires_at, id LIMIT ?"
        ))
        .bind(to_unix(now))
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }
}

#[async_trait]
impl SelfRegistrationStore for SqliteTx {
    async fn insert_self_registration(&mut self, r: &SelfRegistration) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO self_registrations (",
            self_registration_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(r.id.as_uuid())
        .bind(r.email.as_str().to_owned())
        .bind(r.token_hash.as_bytes().to_vec())
        .bind(r.code_mac.to_vec())
        .bind(to_unix(r.code_expires_at))
        .bind(i64::from(r.attempts))
        .bind(i64::from(r.sends))
        .bind(to_unix(r.last_sent_at))
        .bind(r.verified_at.map(to_unix))
        .bind(r.completed_user.map(|u| u.as_uuid()))
        .bind(to_unix(r.created_at))
        .bind(r.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("token")))?;
        Ok(())
    }

    async fn self_registration_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<SelfRegistration>, StoreError> {
        sqlx::query_as::<_, SelfRegistrationRow>(concat!(
            "SELECT ",
            self_registration_columns!(),
            " FROM self_registrations WHERE token_hash = ?"
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(SelfRegistration::try_from)
        .transpose()
    }

    async fn update_self_registration(&mut self, r: &SelfRegistration) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE self_registrations SET code_mac = ?, code_expires_at = ?, attempts = ?, ",
            "sends = ?, last_sent_at = ?, verified_at = ?, completed_user = ?, ",
            "version = version + 1 WHERE id = ? AND version = ?"
        ))
        .bind(r.code_mac.to_vec())
        .bind(to_unix(r.code_expires_at))
        .bind(i64::from(r.attempts))
        .bind(i64::from(r.sends))
        .bind(to_unix(r.last_sent_at))
        .bind(r.verified_at.map(to_unix))
        .bind(r.completed_user.map(|u| u.as_uuid()))
        .bind(r.id.as_uuid())
        .bind(r.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_self_registrations_since(
        &mut self,
        email: &EmailAddress,
        since: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM self_registrations WHERE lower(email) = lower(?) AND created_at >= ?",
        )
        .bind(email.as_str().to_owned())
        .bind(to_unix(since))
        .fetch_one(self.handle.conn())
        .await
        .map_err(db_err)
    }
}

#[async_trait]
impl SettingsStore for SqliteTx {
    async fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key.to_owned())
            .fetch_optional(self.handle.conn())
            .await
            .map_err(db_err)
    }

    async fn put_setting(
        &mut self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
