//! Storage behind narrow per-aggregate traits. A state change runs in one [`Tx`]: every
//! trait's writes, the audit event and the outbox message commit together or not at all.

use async_trait::async_trait;
pub use tenancy::{AuditQuery, IdempotencyRecord, TenancyStore};
use tessera_domain::audit::{AuditEvent, AuditRecord};
use tessera_domain::code_challenge::{CodeChallenge, CodePurpose};
use tessera_domain::invitation::{Invitation, InvitationStatus};
use tessera_domain::lockout::{LockoutPolicy, LockoutState};
use tessera_domain::mfa::TotpCredential;
use tessera_domain::oauth::grant::Authentication;
use tessera_domain::oauth::grant::{
    CodeRedemption, DeviceGrant, DevicePoll, PushedRequest, RefreshUse,
};
use tessera_domain::oauth::{
    AuthorizationCode, OAuthClient, RefreshToken, SigningAlg, SigningKeyRecord,
};
use tessera_domain::outbox::{Channel, DeliveryStatus, OutboxMessage};
use tessera_domain::policy::{PolicyAcceptance, PolicyDocument, PolicyKind};
use tessera_domain::push::{PushChallenge, PushDevice, PushEnrolment};
use tessera_domain::secret::SecretHash;
use tessera_domain::self_registration::SelfRegistration;
use tessera_domain::session::PortalSession;
use tessera_domain::signin_flow::SignInFlow;
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_domain::{
    AppId, CredentialId, InvitationId, OutboxMessageId, PushChallengeId, PushDeviceId, TenantId,
    UserId,
};
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod conformance_flows;
#[cfg(feature = "conformance")]
pub mod conformance_lifecycle;
#[cfg(feature = "conformance")]
pub mod conformance_oauth;
#[cfg(feature = "conformance")]
pub mod conformance_passkeys;
#[cfg(feature = "conformance")]
pub mod conformance_push;
#[cfg(feature = "conformance")]
pub mod conformance_signin;
#[cfg(feature = "conformance")]
pub mod conformance_tenancy;
#[cfg(feature = "conformance")]
pub mod conformance_tenancy_requests;
pub mod tenancy;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule the database enforces.
    #[error("{field} is already taken")]
    Duplicate { field: &'static str },
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A row that does not decode into the domain (a bug or manual tampering).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The schema is missing, older or newer than this binary.
    #[error("{0}")]
    Schema(String),
    #[error("database error: {0}")]
    Backend(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Where the database's schema stands relative to this binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Highest migration applied to the database (0 for an empty one).
    pub database_version: i64,
    /// Highest migration this binary knows.
    pub binary_version: i64,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.database_version == self.binary_version
    }
}

#[async_trait]
pub trait Database: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// A read-write transaction. Dropping it without `commit` rolls back.
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError>;
    /// A read-only handle outside a transaction, for lookups on hot paths. Writes through
    /// it are refused by the database.
    async fn read(&self) -> Result<Box<dyn Tx>, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies pending migrations; refuses a database newer than the binary.
    async fn migrate(&self) -> Result<SchemaStatus, StoreError>;
    async fn schema_status(&self) -> Result<SchemaStatus, StoreError>;
    async fn close(&self);
    /// Connections open and idle in the pool, for metrics.
    fn pool_usage(&self) -> Option<(u32, u32)> {
        None
    }
}

/// One unit of work across every aggregate.
#[async_trait]
pub trait Tx:
    UserStore
    + TenantStore
    + SessionStore
    + SetupLinkStore
    + AuditStore
    + OutboxStore
    + ClientStore
    + SigningKeyStore
    + GrantStore
    + PushedRequestStore
    + DeviceGrantStore
    + SessionClientStore
    + ConsentStore
    + InvitationStore
    + SelfRegistrationStore
    + SettingsStore
    + CredentialStore
    + SignInFlowStore
    + LockoutStore
    + CodeChallengeStore
    + PolicyStore
    + PushStore
    + PasskeyStore
    + TenancyStore
    + Send
{
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserStore: Send {
    /// Fails with `Duplicate { field: "username" }` when the name is taken (any case).
    async fn insert_user(&mut self, user: &User) -> Result<(), StoreError>;
    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>, StoreError>;
    async fn user_by_username(&mut self, username: &Username) -> Result<Option<User>, StoreError>;
    /// Users ordered by username, after the given one (keyset pagination).
    async fn list_users(
        &mut self,
        after: Option<&Username>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
    async fn count_users(&mut self) -> Result<i64, StoreError>;
    async fn platform_admin_exists(&mut self) -> Result<bool, StoreError>;
    /// Compare-and-set: writes every field but `id`, `username` and `created_at` if the
    /// stored version still equals `user.version`, and stores `user.version + 1`. False
    /// (and nothing written) when another writer got there first.
    async fn update_user(&mut self, user: &User) -> Result<bool, StoreError>;
    /// Accounts with this address, compared without regard to case, any state.
    async fn users_by_email(&mut self, email: &EmailAddress) -> Result<Vec<User>, StoreError>;
    /// Filtered users ordered by username, after `query.after` (keyset pagination).
    async fn search_users(&mut self, query: &UserQuery) -> Result<Vec<User>, StoreError>;
    /// Pending accounts whose activation deadline is at or before `cutoff`, soonest first.
    async fn pending_users_due(
        &mut self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
}

/// Filters for the administrators' user list. Every filter is optional.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Case-insensitive substring of username, given name, family name or email.
    pub text: Option<String>,
    pub state: Option<UserState>,
    pub user_type: Option<UserType>,
    /// Email domain: exactly this domain or a subdomain of it (`tech.gov.sg` matches
    /// `x@tech.gov.sg` and `x@a.tech.gov.sg`).
    pub agency: Option<String>,
    pub after: Option<Username>,
    pub limit: u32,
}

#[async_trait]
pub trait InvitationStore: Send {
    async fn insert_invitation(&mut self, invitation: &Invitation) -> Result<(), StoreError>;
    async fn invitation_by_id(
        &mut self,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError>;
    /// The invitation whose current link has this hash (a resent link replaces the hash).
    async fn invitation_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<Invitation>, StoreError>;
    /// Compare-and-set on `version`, like [`UserStore::update_user`]: writes token hash,
    /// status, registered user, sends, expiry and updated_at.
    async fn update_invitation(&mut self, invitation: &Invitation) -> Result<bool, StoreError>;
    /// Newest first, before the given id (keyset pagination).
    async fn list_invitations(
        &mut self,
        query: &InvitationQuery,
    ) -> Result<Vec<Invitation>, StoreError>;
    /// Invitations still `sent` whose expiry is at or before `now`, oldest first.
    async fn invitations_past_expiry(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Invitation>, StoreError>;
}

#[derive(Clone, Debug, Default)]
pub struct InvitationQuery {
    pub sponsor: Option<UserId>,
    pub status: Option<InvitationStatus>,
    pub before: Option<InvitationId>,
    pub limit: u32,
}

#[async_trait]
pub trait SelfRegistrationStore: Send {
    async fn insert_self_registration(
        &mut self,
        request: &SelfRegistration,
    ) -> Result<(), StoreError>;
    async fn self_registration_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<SelfRegistration>, StoreError>;
    /// Compare-and-set on `version`: writes code, attempts, sends, times and the user.
    async fn update_self_registration(
        &mut self,
        request: &SelfRegistration,
    ) -> Result<bool, StoreError>;
    /// Requests for this address (any case) created at or after `since`.
    async fn count_self_registrations_since(
        &mut self,
        email: &EmailAddress,
        since: OffsetDateTime,
    ) -> Result<i64, StoreError>;
}

/// Second-factor credentials (TOTP keys; passkeys arrive with their own issue).
#[async_trait]
pub trait CredentialStore: Send {
    async fn insert_totp(&mut self, credential: &TotpCredential) -> Result<(), StoreError>;
    /// Confirmed and unconfirmed keys of one user, oldest first.
    async fn totp_of_user(&mut self, user: UserId) -> Result<Vec<TotpCredential>, StoreError>;
    /// Compare-and-set on `version`: writes label, confirmed_at and last_used_step. Two
    /// nodes accepting the same code race here; exactly one wins, so a code works once.
    async fn update_totp(&mut self, credential: &TotpCredential) -> Result<bool, StoreError>;
    /// Removes one key of that user; false if there was none.
    async fn delete_totp(&mut self, user: UserId, id: CredentialId) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait SignInFlowStore: Send {
    async fn insert_sign_in_flow(&mut self, flow: &SignInFlow) -> Result<(), StoreError>;
    async fn sign_in_flow(&mut self, token: &SecretHash) -> Result<Option<SignInFlow>, StoreError>;
    /// Compare-and-set on `version`: writes user_id, password_at, second_factor_at, amr,
    /// return_to and expires_at.
    async fn update_sign_in_flow(&mut self, flow: &SignInFlow) -> Result<bool, StoreError>;
    /// True for exactly one caller (finishing a flow is single-use).
    async fn delete_sign_in_flow(&mut self, token: &SecretHash) -> Result<bool, StoreError>;
    async fn delete_sign_in_flows_expired_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// Failure counters for brute-force protection, shared by every node.
#[async_trait]
pub trait LockoutStore: Send {
    /// Counts one failure for `subject`, atomically under concurrency: failures older than
    /// `policy.window` are forgotten first; reaching `policy.max_failures` starts a lock of
    /// `policy.lock_for` and resets the count. While locked, nothing changes. Returns the
    /// state after counting.
    async fn record_failure(
        &mut self,
        subject: &str,
        policy: &LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<LockoutState, StoreError>;
    /// The state now (no row: zero failures, not locked).
    async fn lockout(&mut self, subject: &str) -> Result<LockoutState, StoreError>;
    /// Forgets the subject's failures and lock (after a success or an administrator's reset).
    async fn clear_lockout(&mut self, subject: &str) -> Result<(), StoreError>;
}

#[async_trait]
pub trait CodeChallengeStore: Send {
    async fn insert_code_challenge(&mut self, challenge: &CodeChallenge) -> Result<(), StoreError>;
    /// The newest challenge of one user for one purpose.
    async fn latest_code_challenge(
        &mut self,
        user: UserId,
        purpose: CodePurpose,
    ) -> Result<Option<CodeChallenge>, StoreError>;
    /// Compare-and-set on `version`: writes target, code_mac, expires_at, attempts, sends,
    /// last_sent_at and verified_at.
    async fn update_code_challenge(
        &mut self,
        challenge: &CodeChallenge,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait PolicyStore: Send {
    /// Fails with `Duplicate { field: "version" }` when that kind already has the version.
    async fn insert_policy(&mut self, document: &PolicyDocument) -> Result<(), StoreError>;
    /// The newest version of each kind that has any.
    async fn current_policies(&mut self) -> Result<Vec<PolicyDocument>, StoreError>;
    /// Every version of one kind, newest first.
    async fn policy_versions(
        &mut self,
        kind: PolicyKind,
    ) -> Result<Vec<PolicyDocument>, StoreError>;
    /// Idempotent: accepting the same version twice keeps the first time.
    async fn record_acceptance(&mut self, acceptance: &PolicyAcceptance) -> Result<(), StoreError>;
    async fn acceptances_of(&mut self, user: UserId) -> Result<Vec<PolicyAcceptance>, StoreError>;
}

/// Push authenticators: enrolment tokens, device keys, number-matching challenges. All
/// state is here, so a challenge made on one node can be answered through another.
#[async_trait]
pub trait PushStore: Send {
    async fn insert_push_enrolment(&mut self, enrolment: &PushEnrolment) -> Result<(), StoreError>;
    /// Registers `device` with the enrolment of `token` if it is unused and unexpired at
    /// `now`: inserts the device and marks the token used, for exactly one caller.
    async fn register_push_device(
        &mut self,
        token: &SecretHash,
        device: &PushDevice,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn push_device(&mut self, id: PushDeviceId) -> Result<Option<PushDevice>, StoreError>;
    /// A user's devices, oldest first.
    async fn push_devices_of_user(&mut self, user: UserId) -> Result<Vec<PushDevice>, StoreError>;
    /// Compare-and-set on `version`: writes name, confirmed_at and last_used_at.
    async fn update_push_device(&mut self, device: &PushDevice) -> Result<bool, StoreError>;
    async fn delete_push_device(
        &mut self,
        user: UserId,
        id: PushDeviceId,
    ) -> Result<bool, StoreError>;
    async fn insert_push_challenge(&mut self, challenge: &PushChallenge) -> Result<(), StoreError>;
    async fn push_challenge(
        &mut self,
        id: PushChallengeId,
    ) -> Result<Option<PushChallenge>, StoreError>;
    /// Pending, unexpired challenges of a user at `now`, oldest first.
    async fn open_push_challenges(
        &mut self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<PushChallenge>, StoreError>;
    /// Compare-and-set on `version`: writes status, wrong_numbers, decided_at, decided_by.
    async fn update_push_challenge(
        &mut self,
        challenge: &PushChallenge,
    ) -> Result<bool, StoreError>;
    /// Challenges created for a user at or after `since` (rate limit).
    async fn count_push_challenges_since(
        &mut self,
        user: UserId,
        since: OffsetDateTime,
    ) -> Result<i64, StoreError>;
}

/// Administrator settings as named JSON documents (e.g. `lifecycle`).
#[async_trait]
pub trait SettingsStore: Send {
    async fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// Inserts or replaces.
    async fn put_setting(
        &mut self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait TenantStore: Send {
    /// Fails with `Duplicate { field: "slug" }` when the handle is taken.
    async fn insert_tenant(&mut self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant_by_slug(&mut self, slug: &str) -> Result<Option<Tenant>, StoreError>;
    async fn list_tenants(&mut self) -> Result<Vec<Tenant>, StoreError>;
    async fn count_tenants(&mut self) -> Result<i64, StoreError>;
}

#[async_trait]
pub trait SessionStore: Send {
    async fn insert_session(&mut self, session: &PortalSession) -> Result<(), StoreError>;
    async fn session_by_token(
        &mut self,
        token: &SecretHash,
    ) -> Result<Option<PortalSession>, StoreError>;
    async fn touch_session(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Returns whether a session was removed.
    async fn delete_session(&mut self, token: &SecretHash) -> Result<bool, StoreError>;
    /// Live and expired sessions of one account, newest first (for "signed-in sessions").
    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<PortalSession>, StoreError>;
    /// Ends every session of one account (termination, suspension). Returns how many.
    async fn delete_sessions_of_user(&mut self, user: UserId) -> Result<u64, StoreError>;
    async fn delete_sessions_expired_before(
        &mut self,
        cutoff: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait SetupLinkStore: Send {
    async fn insert_setup_link(
        &mut self,
        token: &SecretHash,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Marks the link used if it is unused and unexpired; true for exactly one caller.
    async fn consume_setup_link(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Whether the link is unused and unexpired, without using it.
    async fn setup_link_is_valid(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Kills every unused link (once the first administrator exists).
    async fn revoke_setup_links(&mut self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait AuditStore: Send {
    /// Appends to the hash chain. Concurrent transactions are serialised at this point so
    /// the chain never forks; call it last in a transaction to hold that order briefly.
    async fn append_audit(&mut self, event: &AuditEvent) -> Result<AuditRecord, StoreError>;
    /// Records with `seq > after`, ascending.
    async fn audit_after(&mut self, after: i64, limit: u32)
    -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest records about one target (e.g. `user:<id>`), descending.
    async fn audit_for_target(
        &mut self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest records with `seq < before` (or the newest of all), descending.
    async fn audit_newest(
        &mut self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

#[async_trait]
pub trait OutboxStore: Send {
    async fn enqueue_message(&mut self, message: &OutboxMessage) -> Result<(), StoreError>;
    /// Leases up to `limit` due messages of the given channels until `lease_until` and
    /// counts an attempt on each. Safe with many workers on many nodes: a message is
    /// leased to one worker at a time.
    async fn claim_due_messages(
        &mut self,
        channels: &[Channel],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    async fn mark_delivered(
        &mut self,
        id: OutboxMessageId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn mark_attempt_failed(
        &mut self,
        id: OutboxMessageId,
        status: DeliveryStatus,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError>;
    async fn outbox_message(
        &mut self,
        id: OutboxMessageId,
    ) -> Result<Option<OutboxMessage>, StoreError>;
    /// Newest first, older than `before` when given.
    async fn list_outbox(
        &mut self,
        before: Option<OutboxMessageId>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    async fn count_outbox(&mut self, status: DeliveryStatus) -> Result<i64, StoreError>;
}

#[async_trait]
pub trait ClientStore: Send {
    /// Fails with `Duplicate { field: "client_id" }` when the identifier is taken.
    async fn insert_client(&mut self, client: &OAuthClient) -> Result<(), StoreError>;
    async fn client_by_client_id(
        &mut self,
        client_id: &str,
    ) -> Result<Option<OAuthClient>, StoreError>;
    async fn list_clients(
        &mut self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<OAuthClient>, StoreError>;
    /// Stores the HMAC of a client secret (never the secret).
    async fn insert_client_secret(
        &mut self,
        client: AppId,
        secret_hmac: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError>;
    /// Records a client assertion's `jti`; false if it was seen before (a replay).
    async fn record_assertion_jti(
        &mut self,
        client: AppId,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// HMACs of the client's secrets that are valid at `now`.
    async fn client_secret_hmacs(
        &mut self,
        client: AppId,
        now: OffsetDateTime,
    ) -> Result<Vec<[u8; 32]>, StoreError>;
}

#[async_trait]
pub trait SigningKeyStore: Send {
    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Keys still published at `now` (active and retired-but-unexpired), newest first.
    async fn published_signing_keys(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Retires every active key of `alg` except `keep`: they stop signing now and stay
    /// published until `publish_until`.
    async fn retire_signing_keys(
        &mut self,
        alg: SigningAlg,
        keep: &str,
        now: OffsetDateTime,
        publish_until: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait GrantStore: Send {
    async fn insert_authorization_code(
        &mut self,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError>;
    /// Uses a code: `Redeemed` for exactly one caller while it is unexpired; a second
    /// presentation is `Replayed`, naming the refresh family it started (if any).
    async fn redeem_authorization_code(
        &mut self,
        code_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError>;
    /// Links a redeemed code to the refresh family it started, for replay revocation.
    async fn link_code_to_family(
        &mut self,
        code_hash: &SecretHash,
        family: Uuid,
    ) -> Result<(), StoreError>;
    async fn insert_refresh_token(&mut self, token: &RefreshToken) -> Result<(), StoreError>;
    /// Uses a refresh token for rotation: `Fresh` for exactly one caller while it is
    /// unused, unrevoked and unexpired; a used or revoked one is `Reused`.
    async fn use_refresh_token(
        &mut self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<RefreshUse, StoreError>;
    /// `use_refresh_token`, plus the token's user where the backend reads it in the same
    /// round trip; `None` means the caller reads the user itself.
    async fn use_refresh_token_and_user(
        &mut self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<(RefreshUse, Option<User>), StoreError> {
        Ok((self.use_refresh_token(token_hash, now).await?, None))
    }
    /// The family of a refresh token, for revocation requests.
    async fn refresh_token_family(
        &mut self,
        token_hash: &SecretHash,
    ) -> Result<Option<(Uuid, AppId)>, StoreError>;
    /// Revokes every refresh token of the family and every access token it issued.
    async fn revoke_refresh_family(
        &mut self,
        family: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Remembers a user access token's `jti` so a family revocation can revoke it.
    async fn record_access_token(
        &mut self,
        jti: &str,
        family: Option<Uuid>,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// What a token response leaves behind: its refresh token (if it has one) and its
    /// access token's `jti`. The same rows as `insert_refresh_token` and
    /// `record_access_token`; a backend may write them in one round trip, since every
    /// grant (refresh above all) pays for each one while it holds the write transaction.
    async fn record_issued_tokens(
        &mut self,
        refresh: Option<&RefreshToken>,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some(r) = refresh {
            self.insert_refresh_token(r).await?;
        }
        self.record_access_token(jti, refresh.map(|r| r.family_id), expires_at)
            .await
    }
    async fn revoke_access_token(
        &mut self,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn access_token_revoked(&mut self, jti: &str) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait PushedRequestStore: Send {
    async fn insert_pushed_request(&mut self, request: &PushedRequest) -> Result<(), StoreError>;
    /// The pushed request and whether it has been used.
    async fn pushed_request(
        &mut self,
        hash: &SecretHash,
    ) -> Result<Option<(PushedRequest, bool)>, StoreError>;
    /// Marks it used if unused and unexpired; true for exactly one caller.
    async fn consume_pushed_request(
        &mut self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait DeviceGrantStore: Send {
    /// Fails with `Duplicate { field: "user_code" }` on a (rare) user-code collision.
    async fn insert_device_grant(&mut self, grant: &DeviceGrant) -> Result<(), StoreError>;
    /// A pending, unexpired grant by the code the user typed.
    async fn pending_device_grant(
        &mut self,
        user_code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<DeviceGrant>, StoreError>;
    /// Approves (with the user's authentication) or denies a pending grant; true if it was
    /// still pending.
    async fn decide_device_grant(
        &mut self,
        user_code: &str,
        approval: Option<&Authentication>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The device's poll: an approved grant is spent by exactly one poll.
    async fn poll_device_grant(
        &mut self,
        device_code: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError>;
}

#[async_trait]
pub trait SessionClientStore: Send {
    /// Remembers that the session `sid` signed the user in to `client`.
    async fn record_session_client(
        &mut self,
        sid: &str,
        client: AppId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The apps `sid` reached, forgetting them (a session ends once).
    async fn take_session_clients(&mut self, sid: &str) -> Result<Vec<AppId>, StoreError>;
    async fn client_by_id(&mut self, id: AppId) -> Result<Option<OAuthClient>, StoreError>;
    /// Revokes the session's refresh tokens that were not issued for offline access.
    async fn revoke_online_refresh_for_sid(
        &mut self,
        sid: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// A user's remembered decision to let an app sign them in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub client: AppId,
    pub scope: String,
    pub granted_at: OffsetDateTime,
}

#[async_trait]
pub trait ConsentStore: Send {
    async fn consent(&mut self, user: UserId, client: AppId)
    -> Result<Option<Consent>, StoreError>;
    /// Records (or widens) consent to `scope`.
    async fn grant_consent(
        &mut self,
        user: UserId,
        client: AppId,
        scope: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Forgets the consent and revokes the refresh tokens the app holds for the user;
    /// false if there was none.
    async fn revoke_consent(
        &mut self,
        user: UserId,
        client: AppId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn consents_of(&mut self, user: UserId) -> Result<Vec<Consent>, StoreError>;
}

/// A registered passkey: the credential id the browser names and webauthn-rs's `Passkey`
/// as JSON (its signature counter changes with each use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: CredentialId,
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub passkey_json: String,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub version: i64,
}

/// The server half of a WebAuthn ceremony in progress, named by a random token's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyCeremony {
    pub token_hash: SecretHash,
    /// The account, when known before the ceremony (registration, step-up, second factor).
    pub user_id: Option<UserId>,
    /// What the ceremony is for (`register`, `signin`, `second_factor`, `step_up`…).
    pub kind: String,
    pub state_json: String,
    pub expires_at: OffsetDateTime,
}

/// Passkeys (WebAuthn) and their ceremony state. The state lives here, never in a cookie,
/// so a ceremony started through one node can finish through another, once.
#[async_trait]
pub trait PasskeyStore: Send {
    /// Fails with `Duplicate { field: "credential_id" }` when the credential is known.
    async fn insert_passkey(&mut self, passkey: &PasskeyRecord) -> Result<(), StoreError>;
    /// A user's passkeys, oldest first.
    async fn passkeys_of_user(&mut self, user: UserId) -> Result<Vec<PasskeyRecord>, StoreError>;
    async fn passkey_by_credential_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError>;
    /// Compare-and-set on `version`: writes passkey_json, name and last_used_at.
    async fn update_passkey(&mut self, passkey: &PasskeyRecord) -> Result<bool, StoreError>;
    async fn delete_passkey(&mut self, user: UserId, id: CredentialId) -> Result<bool, StoreError>;
    async fn insert_passkey_ceremony(
        &mut self,
        ceremony: &PasskeyCeremony,
    ) -> Result<(), StoreError>;
    /// Removes and returns the ceremony if it is unexpired at `now`: exactly one caller
    /// gets it. Also removes every ceremony expired by `now`.
    async fn take_passkey_ceremony(
        &mut self,
        token: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<PasskeyCeremony>, StoreError>;
    /// Replaces a session's methods (`amr`, e.g. after a step-up) if they are still `old`.
    async fn update_session_amr(
        &mut self,
        token: &SecretHash,
        old: &[String],
        new: &[String],
    ) -> Result<bool, StoreError>;
}
