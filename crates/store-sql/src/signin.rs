//! Row shapes for sign-in and onboarding: TOTP keys, sign-ins in progress, lockout
//! counters, SMS code challenges, policy documents and their acceptances. The lockout
//! arithmetic lives here too, so both backends count failures by the same rule.

use crate::{corrupt, count, hash32, split};
use tessera_domain::clock::{from_unix, to_unix};
use tessera_domain::code_challenge::{CodeChallenge, CodePurpose};
use tessera_domain::lockout::{LockoutPolicy, LockoutState};
use tessera_domain::mfa::TotpCredential;
use tessera_domain::policy::{PolicyAcceptance, PolicyDocument, PolicyKind};
use tessera_domain::secret::SecretHash;
use tessera_domain::signin_flow::SignInFlow;
use tessera_domain::{CodeChallengeId, CredentialId, UserId};
use tessera_store::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct TotpRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub sealed_secret: Vec<u8>,
    pub label: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_step: i64,
    pub version: i64,
}

impl From<TotpRow> for TotpCredential {
    fn from(r: TotpRow) -> Self {
        TotpCredential {
            id: CredentialId::from_uuid(r.id),
            user_id: UserId::from_uuid(r.user_id),
            sealed_secret: r.sealed_secret,
            label: r.label,
            created_at: from_unix(r.created_at),
            confirmed_at: r.confirmed_at.map(from_unix),
            last_used_step: r.last_used_step,
            version: r.version,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct SignInFlowRow {
    pub token_hash: Vec<u8>,
    pub username: String,
    pub user_id: Option<Uuid>,
    pub created_at: i64,
    pub expires_at: i64,
    pub password_at: Option<i64>,
    pub second_factor_at: Option<i64>,
    pub amr: String,
    pub return_to: String,
    pub version: i64,
}

impl TryFrom<SignInFlowRow> for SignInFlow {
    type Error = StoreError;
    fn try_from(r: SignInFlowRow) -> Result<Self, StoreError> {
        Ok(SignInFlow {
            token_hash: SecretHash(hash32("sign_in_flows.token_hash", &r.token_hash)?),
            username: r.username,
            user_id: r.user_id.map(UserId::from_uuid),
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            password_at: r.password_at.map(from_unix),
            second_factor_at: r.second_factor_at.map(from_unix),
            amr: split(&r.amr),
            return_to: r.return_to,
            version: r.version,
        })
    }
}

/// A subject's failure counter as stored.
#[derive(sqlx::FromRow, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutRow {
    pub failures: i64,
    pub window_started_at: i64,
    pub locked_until: Option<i64>,
}

impl LockoutRow {
    /// The counter after one more failure at `now`, by the rule of
    /// `LockoutStore::record_failure`: unchanged while locked; a lapsed lock or a window
    /// older than `policy.window` starts a new window; reaching `policy.max_failures`
    /// starts a lock of `policy.lock_for` and resets the count.
    pub fn after_failure(
        current: Option<Self>,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Self {
        let now = to_unix(now);
        if let Some(row) = current
            && row.locked_until.is_some_and(|until| now < until)
        {
            return row;
        }
        let base = match current {
            Some(row)
                if row.locked_until.is_none()
                    && now.saturating_sub(row.window_started_at)
                        < policy.window.whole_seconds() =>
            {
                row
            }
            _ => Self {
                failures: 0,
                window_started_at: now,
                locked_until: None,
            },
        };
        let failures = base.failures.saturating_add(1);
        if failures >= i64::from(policy.max_failures) {
            Self {
                failures: 0,
                window_started_at: now,
                locked_until: Some(now.saturating_add(policy.lock_for.whole_seconds())),
            }
        } else {
            Self { failures, ..base }
        }
    }

    pub fn state(&self) -> Result<LockoutState, StoreError> {
        Ok(LockoutState {
            failures: count("lockouts.failures", self.failures)?,
            locked_until: self.locked_until.map(from_unix),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CodeChallengeRow {
    pub id: Uuid,
    pub purpose: String,
    pub user_id: Uuid,
    pub target: String,
    pub code_mac: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
    pub sends: i64,
    pub last_sent_at: i64,
    pub verified_at: Option<i64>,
    pub version: i64,
}

impl TryFrom<CodeChallengeRow> for CodeChallenge {
    type Error = StoreError;
    fn try_from(r: CodeChallengeRow) -> Result<Self, StoreError> {
        Ok(CodeChallenge {
            id: CodeChallengeId::from_uuid(r.id),
            purpose: CodePurpose::parse(&r.purpose)
                .ok_or_else(|| corrupt("code_challenges.purpose", &r.purpose))?,
            user_id: UserId::from_uuid(r.user_id),
            target: r.target,
            code_mac: hash32("code_challenges.code_mac", &r.code_mac)?,
            created_at: from_unix(r.created_at),
            expires_at: from_unix(r.expires_at),
            attempts: count("code_challenges.attempts", r.attempts)?,
            sends: count("code_challenges.sends", r.sends)?,
            last_sent_at: from_unix(r.last_sent_at),
            verified_at: r.verified_at.map(from_unix),
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PolicyRow {
    pub kind: String,
    pub version: i32,
    pub title: String,
    pub body: String,
    pub published_at: i64,
    pub published_by: String,
}

impl TryFrom<PolicyRow> for PolicyDocument {
    type Error = StoreError;
    fn try_from(r: PolicyRow) -> Result<Self, StoreError> {
        Ok(PolicyDocument {
            kind: PolicyKind::parse(&r.kind)
                .ok_or_else(|| corrupt("policy_documents.kind", &r.kind))?,
            version: r.version,
            title: r.title,
            body: r.body,
            published_at: from_unix(r.published_at),
            published_by: r.published_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AcceptanceRow {
    pub user_id: Uuid,
    pub kind: String,
    pub version: i32,
    pub accepted_at: i64,
}

impl TryFrom<AcceptanceRow> for PolicyAcceptance {
    type Error = StoreError;
    fn try_from(r: AcceptanceRow) -> Result<Self, StoreError> {
        Ok(PolicyAcceptance {
            user_id: UserId::from_uuid(r.user_id),
            kind: PolicyKind::parse(&r.kind)
                .ok_or_else(|| corrupt("policy_acceptances.kind", &r.kind))?,
            version: r.version,
            accepted_at: from_unix(r.accepted_at),
        })
    }
}

#[macro_export]
macro_rules! totp_columns {
    () => {
        "id, user_id, sealed_secret, label, created_at, confirmed_at, last_used_step, version"
    };
}
#[macro_export]
macro_rules! sign_in_flow_columns {
    () => {
        "token_hash, username, user_id, created_at, expires_at, password_at, second_factor_at, amr, return_to, version"
    };
}
#[macro_export]
macro_rules! code_challenge_columns {
    () => {
        "id, purpose, user_id, target, code_mac, created_at, expires_at, attempts, sends, last_sent_at, verified_at, version"
    };
}
#[macro_export]
macro_rules! policy_columns {
    () => {
        "kind, version, title, body, published_at, published_by"
    };
}
#[macro_export]
macro_rules! acceptance_columns {
    () => {
        "user_id, kind, version, accepted_at"
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures: 3,
        lock_for: Duration::minutes(15),
        window: Duration::minutes(10),
    };

    fn at(s: i64) -> OffsetDateTime {
        from_unix(1_800_000_000 + s)
    }

    fn fail(row: Option<LockoutRow>, s: i64) -> LockoutRow {
        LockoutRow::after_failure(row, &POLICY, at(s))
    }

    #[test]
    fn failures_count_within_the_window_then_lock() {
        let one = fail(None, 0);
        assert_eq!((one.failures, one.locked_until), (1, None));
        assert_eq!(one.window_started_at, to_unix(at(0)));
        let two = fail(Some(one), 599);
        assert_eq!((two.failures, two.window_started_at), (2, to_unix(at(0))));
        let locked = fail(Some(two), 599);
        assert_eq!(locked.failures, 0);
        assert_eq!(locked.locked_until, Some(to_unix(at(599 + 900))));
        // While locked nothing changes, up to the last second of the lock.
        assert_eq!(fail(Some(locked), 600), locked);
        assert_eq!(fail(Some(locked), 599 + 899), locked);
        // After the lock, counting starts afresh.
        let after = fail(Some(locked), 599 + 900);
        assert_eq!(after.failures, 1);
        assert_eq!(after.locked_until, None);
        assert_eq!(after.window_started_at, to_unix(at(599 + 900)));
    }

    #[test]
    fn an_old_window_is_forgotten() {
        let two = fail(Some(fail(None, 0)), 1);
        let later = fail(Some(two), 600);
        assert_eq!(
            (later.failures, later.window_started_at),
            (1, to_unix(at(600)))
        );
        assert_eq!(later.locked_until, None);
    }

    #[test]
    fn one_allowed_failure_locks_at_once() {
        let strict = LockoutPolicy {
            max_failures: 1,
            ..POLICY
        };
        let row = LockoutRow::after_failure(None, &strict, at(0));
        assert_eq!(row.locked_until, Some(to_unix(at(900))));
        assert_eq!(row.state().map(|s| s.is_locked(at(899))).ok(), Some(true));
    }
}
