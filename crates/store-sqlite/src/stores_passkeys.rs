//! The passkey store on SQLite: registered credentials with a compare-and-set on the
//! serialized passkey (its signature counter), and ceremony state that one `DELETE …
//! RETURNING` hands to exactly one caller (every write holds SQLite's single write lock).

use crate::SqliteTx;
use async_trait::async_trait;
use tessera_domain::clock::to_unix;
use tessera_domain::secret::SecretHash;
use tessera_domain::{CredentialId, UserId};
use tessera_store::{PasskeyCeremony, PasskeyRecord, PasskeyStore, StoreError};
use tessera_store_sql::{
    PasskeyCeremonyRow, PasskeyRow, convert_all, db_err, join, map_err, passkey_ceremony_columns,
    passkey_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl PasskeyStore for SqliteTx {
    async fn insert_passkey(&mut self, p: &PasskeyRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO passkeys (",
            passkey_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(p.id.as_uuid())
        .bind(p.user_id.as_uuid())
        .bind(p.credential_id.clone())
        .bind(p.passkey_json.clone())
        .bind(p.name.clone())
        .bind(to_unix(p.created_at))
        .bind(p.last_used_at.map(to_unix))
        .bind(p.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("credential_id")))?;
        Ok(())
    }

    async fn passkeys_of_user(&mut self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError> {
        let rows = sqlx::query_as::<_, PasskeyRow>(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = ? ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn passkey_by_credential_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        sqlx::query_as::<_, PasskeyRow>(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = ?"
        ))
        .bind(credential_id.to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(PasskeyRecord::try_from)
        .transpose()
    }

    async fn update_passkey(&mut self, p: &PasskeyRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE passkeys SET passkey_json = ?, name = ?, last_used_at = ?, ",
            "version = version + 1 WHERE id = ? AND version = ?"
        ))
        .bind(p.passkey_json.clone())
        .bind(p.name.clone())
        .bind(p.last_used_at.map(to_unix))
        .bind(p.id.as_uuid())
        .bind(p.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_passkey(&mut self, user: UserId, id: CredentialId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE id = ? AND user_id = ?")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_passkey_ceremony(&mut self, c: &PasskeyCeremony) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO passkey_ceremonies (",
            passkey_ceremony_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(c.token_hash.as_bytes().to_vec())
        .bind(c.user_id.map(|u| u.as_uuid()))
        .bind(c.kind.clone())
        .bind(c.state_json.clone())
        .bind(to_unix(c.expires_at))
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("token")))?;
        Ok(())
    }

    async fn take_passkey_ceremony(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError> {
        let row = sqlx::query_as::<_, PasskeyCeremonyRow>(concat!(
            "DELETE FROM passkey_ceremonies WHERE token_hash = ? RETURNING ",
            passkey_ceremony_columns!()
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        // Ceremonies nobody finished go with any take (their rows are small and short-lived).
        sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= ?")
            .bind(to_unix(now))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        // An expired ceremony is spent all the same: it never works again.
        row.map(PasskeyCeremony::try_from)
            .transpose()
            .map(|c| c.filter(|c| c.expires_at > now))
    }

    async fn update_session_amr(
        &mut self,
        token: &SecretHash,
        old: &[String],
        new: &[String],
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE portal_sessions SET amr = ? WHERE token_hash = ? AND amr = ?")
                .bind(join(new))
                .bind(token.as_bytes().to_vec())
                .bind(join(old))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}
