//! The per-aggregate store traits on a SQLite connection.

use crate::SqliteTx;
use async_trait::async_trait;
use tessera_domain::audit::{AuditEvent, AuditRecord, GENESIS, chain_hash};
use tessera_domain::clock::to_unix;
use tessera_domain::outbox::{Channel, DeliveryStatus, OutboxMessage};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::PortalSession;
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_domain::{OutboxMessageId, UserId};
use tessera_store::{
    AuditStore, OutboxStore, SessionStore, SetupLinkStore, StoreError, TenantStore, UserQuery,
    UserStore,
};
use tessera_store_sql::{
    AuditRow, OutboxRow, SessionRow, TenantRow, UserRow, agency_patterns, audit_columns,
    contains_pattern, convert_all, db_err, join, map_err, offshore_columns, outbox_columns,
    session_columns, user_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl UserStore for SqliteTx {
    async fn insert_user(&mut self, u: &User) -> Result<(), StoreError> {
        let (offshore, in_odc, officer_name, officer_email, company) = offshore_columns(u);
        sqlx::query(concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(u.id.as_uuid())
        .bind(u.username.as_str().to_owned())
        .bind(u.given_name.clone())
        .bind(u.family_name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(u.mobile.as_ref().map(|m| m.as_str().to_owned()))
        .bind(u.department.clone())
        .bind(u.user_type.as_str())
        .bind(u.state.as_str())
        .bind(u.platform_admin)
        .bind(u.password_hash.clone())
        .bind(u.password_is_initial)
        .bind(u.sponsor.map(|s| s.as_uuid()))
        .bind(offshore)
        .bind(in_odc)
        .bind(officer_name)
        .bind(officer_email)
        .bind(company)
        .bind(u.device_onboarding)
        .bind(u.activation_deadline.map(to_unix))
        .bind(i64::from(u.reminders_sent))
        .bind(u.phone_verified_at.map(to_unix))
        .bind(to_unix(u.created_at))
        .bind(to_unix(u.updated_at))
        .bind(u.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("username")))?;
        Ok(())
    }

    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(User::try_from)
        .transpose()
    }

    async fn user_by_username(&mut self, username: &Username) -> Result<Option<User>, StoreError> {
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = ?"
        ))
        .bind(username.as_str().to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(User::try_from)
        .transpose()
    }

    async fn list_users(
        &mut self,
        after: Option<&Username>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username > ? ORDER BY username LIMIT ?"
        ))
        .bind(after.map(|u| u.as_str().to_owned()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn count_users(&mut self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.handle.conn())
            .await
            .map_err(db_err)
    }

    async fn platform_admin_exists(&mut self) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM users WHERE platform_admin = 1 LIMIT 1")
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn update_user(&mut self, u: &User) -> Result<bool, StoreError> {
        let (offshore, in_odc, officer_name, officer_email, company) = offshore_columns(u);
        let done = sqlx::query(concat!(
            "UPDATE users SET given_name = ?, family_name = ?, email = ?, mobile = ?, ",
            "department = ?, user_type = ?, state = ?, platform_admin = ?, password_hash = ?, ",
            "password_is_initial = ?, sponsor = ?, offshore = ?, offshore_in_odc = ?, ",
            "reporting_officer_name = ?, reporting_officer_email = ?, company_address = ?, ",
            "device_onboarding = ?, activation_deadline = ?, reminders_sent = ?, ",
            "phone_verified_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?"
        ))
        .bind(u.given_name.clone())
        .bind(u.family_name.clone())
        .bind(u.email.as_str().to_owned())
        .bind(u.mobile.as_ref().map(|m| m.as_str().to_owned()))
        .bind(u.department.clone())
        .bind(u.user_type.as_str())
        .bind(u.state.as_str())
        .bind(u.platform_admin)
        .bind(u.password_hash.clone())
        .bind(u.password_is_initial)
        .bind(u.sponsor.map(|s| s.as_uuid()))
        .bind(offshore)
        .bind(in_odc)
        .bind(officer_name)
        .bind(officer_email)
        .bind(company)
        .bind(u.device_onboarding)
        .bind(u.activation_deadline.map(to_unix))
        .bind(i64::from(u.reminders_sent))
        .bind(u.phone_verified_at.map(to_unix))
        .bind(to_unix(u.updated_at))
        .bind(u.id.as_uuid())
        .bind(u.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn users_by_email(&mut self, email: &EmailAddress) -> Result<Vec<User>, StoreError> {
        // SQLite's lower() folds ASCII only; addresses are ASCII in practice.
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE lower(email) = lower(?) ORDER BY username"
        ))
        .bind(email.as_str().to_owned())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn search_users(&mut self, q: &UserQuery) -> Result<Vec<User>, StoreError> {
        // One static statement; an absent filter is a NULL parameter that matches every
        // row. SQLite's LIKE ignores the case of ASCII letters.
        let text = q.text.as_deref().map(contains_pattern);
        let (agency, subdomain) = q.agency.as_deref().map(agency_patterns).unzip();
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username > ?1",
            " AND (?2 IS NULL OR username LIKE ?2 ESCAPE '\\' OR given_name LIKE ?2 ESCAPE '\\'",
            " OR family_name LIKE ?2 ESCAPE '\\' OR email LIKE ?2 ESCAPE '\\')",
            " AND (?3 IS NULL OR state = ?3)",
            " AND (?4 IS NULL OR user_type = ?4)",
            " AND (?5 IS NULL OR email LIKE ?5 ESCAPE '\\' OR email LIKE ?6 ESCAPE '\\')",
            " ORDER BY username LIMIT ?7"
        ))
        .bind(
            q.after
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
        )
        .bind(text)
        .bind(q.state.map(UserState::as_str))
        .bind(q.user_type.map(UserType::as_str))
        .bind(agency)
        .bind(subdomain)
        .bind(i64::from(q.limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn pending_users_due(
        &mut self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE state = 'pending' AND activation_deadline <= ?",
            " ORDER BY activation_deadline, id LIMIT ?"
        ))
        .bind(to_unix(cutoff))
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }
}

#[async_trait]
impl TenantStore for SqliteTx {
    async fn insert_tenant(&mut self, t: &Tenant) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tenants (id, slug, display_name, created_at) VALUES (?, ?, ?, ?)")
            .bind(t.id.as_uuid())
            .bind(t.slug.clone())
            .bind(t.display_name.clone())
            .bind(to_unix(t.created_at))
            .execute(self.handle.conn())
            .await
            .map_err(|e| map_err(e, Some("slug")))?;
        Ok(())
    }

    async fn tenant_by_slug(&mut self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, slug, display_name, created_at FROM tenants WHERE slug = ?",
        )
        .bind(slug.to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(Tenant::from))
    }

    async fn list_tenants(&mut self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query_as::<_, TenantRow>(
            "SELECT id, slug, display_name, created_at FROM tenants ORDER BY slug",
        )
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn count_tenants(&mut self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(self.handle.conn())
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl SessionStore for SqliteTx {
    async fn insert_session(&mut self, s: &PortalSession) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO portal_sessions (",
            session_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(s.token_hash.as_bytes().to_vec())
        .bind(s.user_id.as_uuid())
        .bind(to_unix(s.created_at))
        .bind(to_unix(s.last_seen_at))
        .bind(to_unix(s.expires_at))
        .bind(s.source_ip.clone())
        .bind(s.assurance.as_str())
        .bind(join(&s.amr))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn session_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<PortalSession>, StoreError> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM portal_sessions WHERE token_hash = ?"
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(PortalSession::try_from)
        .transpose()
    }

    async fn touch_session(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE portal_sessions SET last_seen_at = ? WHERE token_hash = ?")
            .bind(to_unix(now))
            .bind(token.as_bytes().to_vec())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&mut self, token: &SecretHash) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM portal_sessions WHERE token_hash = ?")
            .bind(token.as_bytes().to_vec())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<PortalSession>, StoreError> {
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM portal_sessions WHERE user_id = ? ORDER BY created_at DESC, token_hash"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn delete_sessions_of_user(&mut self, user: UserId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM portal_sessions WHERE user_id = ?")
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn delete_sessions_expired_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM portal_sessions WHERE expires_at < ?")
            .bind(to_unix(cutoff))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl SetupLinkStore for SqliteTx {
    async fn insert_setup_link(
        &mut self,
        token: &SecretHash,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO setup_links (token_hash, created_at, expires_at) VALUES (?, ?, ?)",
        )
        .bind(token.as_bytes().to_vec())
        .bind(to_unix(created_at))
        .bind(to_unix(expires_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn consume_setup_link(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE setup_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(to_unix(now))
        .bind(token.as_bytes().to_vec())
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn setup_link_is_valid(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM setup_links WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(token.as_bytes().to_vec())
        .bind(to_unix(now))
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn revoke_setup_links(&mut self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE setup_links SET used_at = ? WHERE used_at IS NULL")
            .bind(to_unix(now))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl AuditStore for SqliteTx {
    async fn append_audit(&mut self, e: &AuditEvent) -> Result<AuditRecord, StoreError> {
        // Every write transaction holds SQLite's single write lock (BEGIN IMMEDIATE), so
        // reading the chain's head and appending cannot interleave with another writer.
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (
                seq + 1,
                <[u8; 32]>::try_from(hash.as_slice())
                    .map_err(|_| StoreError::Corrupt("audit_events.hash is not 32 bytes".into()))?,
            ),
            None => (1, GENESIS),
        };
        let hash = chain_hash(&prev_hash, seq, e);
        sqlx::query(concat!(
            "INSERT INTO audit_events (",
            audit_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(seq)
        .bind(to_unix(e.at))
        .bind(e.actor.clone())
        .bind(e.action.clone())
        .bind(e.target.clone())
        .bind(e.outcome.as_str())
        .bind(e.source_ip.clone())
        .bind(e.detail.clone())
        .bind(prev_hash.to_vec())
        .bind(hash.to_vec())
        .bind(e.tenant.map(|t| t.as_uuid()))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(AuditRecord {
            seq,
            event: e.clone(),
            prev_hash,
            hash,
        })
    }

    async fn audit_after(
        &mut self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn audit_for_target(
        &mut self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE target = ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(target.to_owned())
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn audit_newest(
        &mut self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE seq < ? ORDER BY seq DESC LIMIT ?"
        ))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }
}

#[async_trait]
impl OutboxStore for SqliteTx {
    async fn enqueue_message(&mut self, m: &OutboxMessage) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO outbox (",
            outbox_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(m.id.as_uuid())
        .bind(m.channel.as_str())
        .bind(m.recipient.clone())
        .bind(m.subject.clone())
        .bind(m.body.clone())
        .bind(m.status.as_str())
        .bind(m.attempts)
        .bind(to_unix(m.created_at))
        .bind(to_unix(m.next_attempt_at))
        .bind(m.last_error.clone())
        .bind(m.delivered_at.map(to_unix))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn claim_due_messages(
        &mut self,
        channels: &[Channel],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query_as::<_, OutboxRow>(concat!(
            "UPDATE outbox SET attempts = attempts + 1, claimed_until = ?1 WHERE id IN (",
            "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?2 ",
            "AND (claimed_until IS NULL OR claimed_until <= ?2) ",
            "AND ((channel = 'email' AND ?3) OR (channel = 'sms' AND ?4) OR (channel = 'backchannel_logout' AND ?6)) ",
            "ORDER BY next_attempt_at, id LIMIT ?5) RETURNING ",
            outbox_columns!()
        ))
        .bind(to_unix(lease_until))
        .bind(to_unix(now))
        .bind(channels.contains(&Channel::Email))
        .bind(channels.contains(&Channel::Sms))
        .bind(i64::from(limit))
        .bind(channels.contains(&Channel::BackchannelLogout))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn mark_delivered(
        &mut self,
        id: OutboxMessageId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?, claimed_until = NULL, last_error = NULL WHERE id = ?",
        )
        .bind(to_unix(now))
        .bind(id.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn mark_attempt_failed(
        &mut self,
        id: OutboxMessageId,
        status: DeliveryStatus,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = ?, next_attempt_at = ?, last_error = ?, claimed_until = NULL WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(to_unix(next_attempt_at))
        .bind(error.to_owned())
        .bind(id.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn outbox_message(
        &mut self,
        id: OutboxMessageId,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        sqlx::query_as::<_, OutboxRow>(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE id = ?"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(OutboxMessage::try_from)
        .transpose()
    }

    async fn list_outbox(
        &mut self,
        before: Option<OutboxMessageId>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = match before {
            Some(before) => {
                sqlx::query_as::<_, OutboxRow>(concat!(
                    "SELECT ",
                    outbox_columns!(),
                    " FROM outbox WHERE id < ? ORDER BY id DESC LIMIT ?"
                ))
                .bind(before.as_uuid())
                .bind(i64::from(limit))
                .fetch_all(self.handle.conn())
                .await
            }
            None => {
                sqlx::query_as::<_, OutboxRow>(concat!(
                    "SELECT ",
                    outbox_columns!(),
                    " FROM outbox ORDER BY id DESC LIMIT ?"
                ))
                .bind(i64::from(limit))
                .fetch_all(self.handle.conn())
                .await
            }
        }
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn count_outbox(&mut self, status: DeliveryStatus) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = ?")
            .bind(status.as_str())
            .fetch_one(self.handle.conn())
            .await
            .map_err(db_err)
    }
}
