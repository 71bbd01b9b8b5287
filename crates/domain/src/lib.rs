//! Tessera's domain model: the things an identity platform talks about, with their rules,
//! independent of HTTP and of any database.

pub mod audit;
pub mod clock;
pub mod code_challenge;
pub mod error;
pub mod ids;
pub mod invitation;
pub mod lifecycle;
pub mod lockout;
pub mod mfa;
pub mod oauth;
pub mod outbox;
pub mod policy;
pub mod push;
pub mod random;
pub mod secret;
pub mod self_registration;
pub mod session;
pub mod setup;
pub mod signin_flow;
pub mod tenancy;
pub mod tenant;
pub mod user;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::{DomainError, FieldErrors};
pub use ids::{
    AccessRequestId, AppId, CodeChallengeId, CredentialId, GroupId, InvitationId, OutboxMessageId,
    PushChallengeId, PushDeviceId, SelfRegistrationId, TenantId, UserId,
};
pub use random::{OsRandom, Random, SeededRandom};
