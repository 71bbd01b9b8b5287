//! Newtype identifiers, so that a `UserId` can never be passed where a `TenantId` is meant.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUID v7) identifier for the given instant.
            pub fn new_at(now: time::OffsetDateTime, random: &dyn crate::Random) -> Self {
                Self(crate::random::uuid_v7(now, random))
            }
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a person's account. Never reused, also after termination.
    UserId
);
id_type!(
    /// Identifies a tenant: a service on the platform that owns apps.
    TenantId
);
id_type!(
    /// Identifies one message in the transactional outbox.
    OutboxMessageId
);
id_type!(
    /// Identifies an app (an OAuth client) internally; apps show `client_id` to the world.
    AppId
);
id_type!(
    /// Identifies an invitation; its link carries a separate secret, never this id.
    InvitationId
);
id_type!(
    /// Identifies an officer's self-registration request (email, code, then the form).
    SelfRegistrationId
);
id_type!(
    /// Identifies one second-factor credential (an authenticator app's TOTP key).
    CredentialId
);
id_type!(
    /// Identifies a code sent by SMS (phone check, password reset, mobile change).
    CodeChallengeId
);
id_type!(
    /// Identifies an enrolled push authenticator (a phone app's device key).
    PushDeviceId
);
id_type!(
    /// Identifies one number-matching push challenge.
    PushChallengeId
);
id_type!(
    /// Identifies a group of users inside one tenant (used by access rules and invitations).
    GroupId
);
id_type!(
    /// Identifies a user's request to use an app that refused them.
    AccessRequestId
);
