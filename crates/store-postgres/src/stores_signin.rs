//! The sign-in stores on PostgreSQL: TOTP keys, sign-ins in progress, lockout counters,
//! SMS code challenges and policies. Compare-and-set updates and single-use deletes rely on
//! READ COMMITTED re-checking a waiting statement's WHERE clause against the committed row:
//! the loser changes nothing and gets `false`. A lockout counter is read with `FOR UPDATE`,
//! so concurrent failures of one subject are counted one after the other.

use crate::PostgresTx;
use async_trait::async_trait;
use tessera_domain::clock::to_unix;
use tessera_domain::code_challenge::{CodeChallenge, CodePurpose};
use tessera_domain::lockout::{LockoutPolicy, LockoutState};
use tessera_domain::mfa::TotpCredential;
use tessera_domain::policy::{PolicyAcceptance, PolicyDocument, PolicyKind};
use tessera_domain::secret::SecretHash;
use tessera_domain::signin_flow::SignInFlow;
use tessera_domain::{CredentialId, UserId};
use tessera_store::{
    CodeChallengeStore, CredentialStore, LockoutStore, PolicyStore, SignInFlowStore, StoreError,
};
use tessera_store_sql::{
    AcceptanceRow, CodeChallengeRow, LockoutRow, PolicyRow, SignInFlowRow, TotpRow,
    acceptance_columns, code_challenge_columns, convert_all, db_err, join, map_err, policy_columns,
    sign_in_flow_columns, totp_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl CredentialStore for PostgresTx {
    async fn insert_totp(&mut self, c: &TotpCredential) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO totp_credentials (",
            totp_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(c.id.as_uuid())
        .bind(c.user_id.as_uuid())
        .bind(c.sealed_secret.clone())
        .bind(c.label.clone())
        .bind(to_unix(c.created_at))
        .bind(c.confirmed_at.map(to_unix))
        .bind(c.last_used_step)
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn totp_of_user(&mut self, user: UserId) -> Result<Vec<TotpCredential>, StoreError> {
        let rows = sqlx::query_as::<_, TotpRow>(concat!(
            "SELECT ",
            totp_columns!(),
            " FROM totp_credentials WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(TotpCredential::from).collect())
    }

    async fn update_totp(&mut self, c: &TotpCredential) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE totp_credentials SET label = $1, confirmed_at = $2, last_used_step = $3, ",
            "version = version + 1 WHERE id = $4 AND user_id = $5 AND version = $6"
        ))
        .bind(c.label.clone())
        .bind(c.confirmed_at.map(to_unix))
        .bind(c.last_used_step)
        .bind(c.id.as_uuid())
        .bind(c.user_id.as_uuid())
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp(&mut self, user: UserId, id: CredentialId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM totp_credentials WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SignInFlowStore for PostgresTx {
    async fn insert_sign_in_flow(&mut self, f: &SignInFlow) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sign_in_flows (",
            sign_in_flow_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(f.token_hash.as_bytes().to_vec())
        .bind(f.username.clone())
        .bind(f.user_id.map(|u| u.as_uuid()))
        .bind(to_unix(f.created_at))
        .bind(to_unix(f.expires_at))
        .bind(f.password_at.map(to_unix))
        .bind(f.second_factor_at.map(to_unix))
        .bind(join(&f.amr))
        .bind(f.return_to.clone())
        .bind(f.version)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("token")))?;
        Ok(())
    }

    async fn sign_in_flow(&mut self, token: &SecretHash) -> Result<Option<SignInFlow>, StoreError> {
        sqlx::query_as::<_, SignInFlowRow>(concat!(
            "SELECT ",
            sign_in_flow_columns!(),
            " FROM sign_in_flows WHERE token_hash = $1"
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(SignInFlow::try_from)
        .transpose()
    }

    async fn update_sign_in_flow(&mut self, f: &SignInFlow) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE sign_in_flows SET user_id = $1, password_at = $2, second_factor_at = $3, ",
            "amr = $4, return_to = $5, expires_at = $6, version = version + 1 ",
            "WHERE token_hash = $7 AND version = $8"
        ))
        .bind(f.user_id.map(|u| u.as_uuid()))
        .bind(f.password_at.map(to_unix))
        .bind(f.second_factor_at.map(to_unix))
        .bind(join(&f.amr))
        .bind(f.return_to.clone())
        .bind(to_unix(f.expires_at))
        .bind(f.token_hash.as_bytes().to_vec())
        .bind(f.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_sign_in_flow(&mut self, token: &SecretHash) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sign_in_flows WHERE token_hash = $1")
            .bind(token.as_bytes().to_vec())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_sign_in_flows_expired_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sign_in_flows WHERE expires_at < $1")
            .bind(to_unix(cutoff))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl LockoutStore for PostgresTx {
    async fn record_failure(
        &mut self,
        subject: &str,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<LockoutState, StoreError> {
        // Make sure the row exists (waiting for a concurrent inserter to finish), then lock
        // it: concurrent failures of one subject queue here and each counts on the row the
        // previous one committed.
        sqlx::query(concat!(
            "INSERT INTO lockouts (subject, failures, window_started_at, locked_until, updated_at) ",
            "VALUES ($1, 0, $2, NULL, $2) ON CONFLICT (subject) DO NOTHING"
        ))
        .bind(subject.to_owned())
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        let current = sqlx::query_as::<_, LockoutRow>(
            "SELECT failures, window_started_at, locked_until FROM lockouts WHERE subject = $1 FOR UPDATE",
        )
        .bind(subject.to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        let next = LockoutRow::after_failure(current, policy, now);
        if current != Some(next) {
            sqlx::query(concat!(
                "INSERT INTO lockouts (subject, failures, window_started_at, locked_until, updated_at) ",
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject) DO UPDATE SET ",
                "failures = excluded.failures, window_started_at = excluded.window_started_at, ",
                "locked_until = excluded.locked_until, updated_at = excluded.updated_at"
            ))
            .bind(subject.to_owned())
            .bind(next.failures)
            .bind(next.window_started_at)
            .bind(next.locked_until)
            .bind(to_unix(now))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        }
        next.state()
    }

    async fn lockout(&mut self, subject: &str) -> Result<LockoutState, StoreError> {
        sqlx::query_as::<_, LockoutRow>(
            "SELECT failures, window_started_at, locked_until FROM lockouts WHERE subject = $1",
        )
        .bind(subject.to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map_or(
            Ok(LockoutState {
                failures: 0,
                locked_until: None,
            }),
            |row| row.state(),
        )
    }

    async fn clear_lockout(&mut self, subject: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE subject = $1")
            .bind(subject.to_owned())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl CodeChallengeStore for PostgresTx {
    async fn insert_code_challenge(&mut self, c: &CodeChallenge) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO code_challenges (",
            code_challenge_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(c.id.as_uuid())
        .bind(c.purpose.as_str())
        .bind(c.user_id.as_uuid())
        .bind(c.target.clone())
        .bind(c.code_mac.to_vec())
        .bind(to_unix(c.created_at))
        .bind(to_unix(c.expires_at))
        .bind(i64::from(c.attempts))
        .bind(i64::from(c.sends))
        .bind(to_unix(c.last_sent_at))
        .bind(c.verified_at.map(to_unix))
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn latest_code_challenge(
        &mut self,
        user: UserId,
        purpose: CodePurpose,
    ) -> Result<Option<CodeChallenge>, StoreError> {
        sqlx::query_as::<_, CodeChallengeRow>(concat!(
            "SELECT ",
            code_challenge_columns!(),
            " FROM code_challenges WHERE user_id = $1 AND purpose = $2",
            " ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(user.as_uuid())
        .bind(purpose.as_str())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(CodeChallenge::try_from)
        .transpose()
    }

    async fn update_code_challenge(&mut self, c: &CodeChallenge) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE code_challenges SET target = $1, code_mac = $2, expires_at = $3, attempts = $4, ",
            "sends = $5, last_sent_at = $6, verified_at = $7, version = version + 1 ",
            "WHERE id = $8 AND version = $9"
        ))
        .bind(c.target.clone())
        .bind(c.code_mac.to_vec())
        .bind(to_unix(c.expires_at))
        .bind(i64::from(c.attempts))
        .bind(i64::from(c.sends))
        .bind(to_unix(c.last_sent_at))
        .bind(c.verified_at.map(to_unix))
        .bind(c.id.as_uuid())
        .bind(c.version)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl PolicyStore for PostgresTx {
    async fn insert_policy(&mut self, d: &PolicyDocument) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO policy_documents (",
            policy_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(d.kind.as_str())
        .bind(d.version)
        .bind(d.title.clone())
        .bind(d.body.clone())
        .bind(to_unix(d.published_at))
        .bind(d.published_by.clone())
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("version")))?;
        Ok(())
    }

    async fn current_policies(&mut self) -> Result<Vec<PolicyDocument>, StoreError> {
        let rows = sqlx::query_as::<_, PolicyRow>(concat!(
            "SELECT ",
            policy_columns!(),
            " FROM policy_documents d WHERE version =",
            " (SELECT MAX(version) FROM policy_documents m WHERE m.kind = d.kind)"
        ))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        let mut documents: Vec<PolicyDocument> = convert_all(rows)?;
        // In the order of `PolicyKind::ALL`, whatever the database's collation.
        documents.sort_by_key(|d| d.kind);
        Ok(documents)
    }

    async fn policy_versions(
        &mut self,
        kind: PolicyKind,
    ) -> Result<Vec<PolicyDocument>, StoreError> {
        let rows = sqlx::query_as::<_, PolicyRow>(concat!(
            "SELECT ",
            policy_columns!(),
            " FROM policy_documents WHERE kind = $1 ORDER BY version DESC"
        ))
        .bind(kind.as_str())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn record_acceptance(&mut self, a: &PolicyAcceptance) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO policy_acceptances (",
            acceptance_columns!(),
            ") VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, kind, version) DO NOTHING"
        ))
        .bind(a.user_id.as_uuid())
        .bind(a.kind.as_str())
        .bind(a.version)
        .bind(to_unix(a.accepted_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn acceptances_of(&mut self, user: UserId) -> Result<Vec<PolicyAcceptance>, StoreError> {
        let rows = sqlx::query_as::<_, AcceptanceRow>(concat!(
            "SELECT ",
            acceptance_columns!(),
            " FROM policy_acceptances WHERE user_id = $1 ORDER BY accepted_at, kind, version"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }
}
