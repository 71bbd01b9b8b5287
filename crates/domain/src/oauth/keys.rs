//! Token signing keys as stored: the private half sealed, the public half as a JWK.

use serde::Serialize;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: SigningAlg,
    /// PKCS#8 private key, encrypted with the node-shared secret key (AES-256-GCM).
    pub sealed_private: Vec<u8>,
    /// The public key as a JWK (JSON text), exactly as published.
    pub public_jwk: String,
    pub created_at: OffsetDateTime,
    /// When a newer key took over signing; None while this key signs.
    pub retired_at: Option<OffsetDateTime>,
    /// When it leaves the JWKS: after every token it signed has expired.
    pub expires_at: Option<OffsetDateTime>,
}
