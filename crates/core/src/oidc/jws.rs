//! Compact JWS (RFC 7515) with RS256 and ES256, signed by key pairs parsed once and kept
//! in memory (re-parsing a PKCS#8 key per token would double the cost of an ES256 token).

use crate::CoreError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_domain::oauth::SigningAlg;

enum Pair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A private key ready to sign, with its `kid`.
pub struct Signer {
    pub kid: String,
    pub alg: SigningAlg,
    pair: Pair,
}

impl Signer {
    /// A new key pair; returns it with its PKCS#8 encoding (to seal and store).
    pub fn generate(alg: SigningAlg, kid: String) -> Result<(Self, Vec<u8>), CoreError> {
        let fail = |what: &str| CoreError::Internal(format!("{what} key generation failed"));
        match alg {
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| fail("P-256"))?;
                let pkcs8 = pair
                    .to_pkcs8v1()
                    .map_err(|_| fail("P-256"))?
                    .as_ref()
                    .to_vec();
                Ok((
                    Self {
                        kid,
                        alg,
                        pair: Pair::Es256(pair),
                    },
                    pkcs8,
                ))
            }
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| fail("RSA"))?;
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(|_| fail("RSA"))?;
                let pkcs8 = der.as_ref().to_vec();
                Ok((
                    Self {
                        kid,
                        alg,
                        pair: Pair::Rs256(pair),
                    },
                    pkcs8,
                ))
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::generate().map_err(|_| fail("Ed25519"))?;
                let pkcs8 = pair
                    .to_pkcs8()
                    .map_err(|_| fail("Ed25519"))?
                    .as_ref()
                    .to_vec();
                Ok((
                    Self {
                        kid,
                        alg,
                        pair: Pair::EdDsa(pair),
                    },
                    pkcs8,
                ))
            }
        }
    }

    pub fn from_pkcs8(alg: SigningAlg, kid: String, pkcs8: &[u8]) -> Result<Self, CoreError> {
        let bad = |e: String| CoreError::Internal(format!("signing key {kid}: {e}"));
        let pair = match alg {
            SigningAlg::ES256 => Pair::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|e| bad(e.to_string()))?,
            ),
            SigningAlg::RS256 => {
                Pair::Rs256(RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| bad(e.to_string()))?)
            }
            SigningAlg::EdDSA => {
                Pair::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| bad(e.to_string()))?)
            }
        };
        Ok(Self { kid, alg, pair })
    }

    /// The public half as a JWK (RFC 7517), with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Value {
        match &self.pair {
            Pair::Es256(p) => {
                let point = p.public_key().as_ref();
                // Uncompressed SEC1 point: 0x04 ‖ X (32) ‖ Y (32).
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(32.min(point.len().saturating_sub(1)));
                json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                        "kid": self.kid, "alg": "ES256", "use": "sig" })
            }
            Pair::Rs256(p) => {
                let public = p.public_key();
                json!({ "kty": "RSA",
                        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                        "kid": self.kid, "alg": "RS256", "use": "sig" })
            }
            Pair::EdDsa(p) => json!({ "kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(p.public_key().as_ref()),
                "kid": self.kid, "alg": "EdDSA", "use": "sig" }),
        }
    }

    /// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, CoreError> {
        let header = json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(json_err)?);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(json_err)?));
        let rng = SystemRandom::new();
        let sig = match &self.pair {
            Pair::Es256(p) => p
                .sign(&rng, out.as_bytes())
                .map_err(|_| CoreError::Internal("ES256 signing failed".into()))?
                .as_ref()
                .to_vec(),
            Pair::Rs256(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                    .map_err(|_| CoreError::Internal("RS256 signing failed".into()))?;
                sig
            }
            Pair::EdDsa(p) => p.sign(out.as_bytes()).as_ref().to_vec(),
        };
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(out)
    }
}

fn json_err(e: serde_json::Error) -> CoreError {
    CoreError::Internal(format!("JSON: {e}"))
}

/// A public key to verify with, from a published JWK.
#[derive(Clone, Debug)]
pub enum Verifier {
    Es256(Vec<u8>),
    EdDsa(Vec<u8>),
    Rs256 { n: Vec<u8>, e: Vec<u8> },
}

impl Verifier {
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        let b64 = |k: &str| {
            jwk.get(k)
                .and_then(Value::as_str)
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        };
        match jwk.get("kty").and_then(Value::as_str)? {
            "EC" => {
                let mut point = vec![4u8];
                point.extend(b64("x")?);
                point.extend(b64("y")?);
                Some(Self::Es256(point))
            }
            "RSA" => Some(Self::Rs256 {
                n: b64("n")?,
                e: b64("e")?,
            }),
            "OKP" if jwk.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                Some(Self::EdDsa(b64("x")?))
            }
            _ => None,
        }
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Es256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok(),
            Self::Rs256 { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            Self::EdDsa(x) => UnparsedPublicKey::new(&ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// A JWS whose signature checked out, with its header values and claims.
#[derive(Debug)]
pub struct Verified {
    pub kid: String,
    pub typ: Option<String>,
    pub claims: Value,
}

/// The `kid` of a compact JWS, without verifying anything.
pub fn peek_kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// Verifies with the key `lookup` returns for the header's `kid` and `alg`.
pub fn verify(token: &str, lookup: impl Fn(&str, &str) -> Option<Verifier>) -> Option<Verified> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let alg = header.get("alg")?.as_str()?;
    // A kid is optional (RFC 7515); keys are then matched by algorithm alone.
    let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
    let verifier = lookup(kid, alg)?;
    let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
    let signed_len = h.len() + 1 + p.len();
    if !verifier.verify(token.get(..signed_len)?.as_bytes(), &signature) {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    Some(Verified {
        kid: kid.to_owned(),
        typ: header.get("typ").and_then(Value::as_str).map(str::to_owned),
        claims,
    })
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the SHA-256 of the access token.
/// The hash follows the ID token's algorithm: SHA-256 for RS256/ES256, SHA-512 for EdDSA
/// with Ed25519 (the convention of OIDC client libraries).
pub fn at_hash(access_token: &str, alg: SigningAlg) -> String {
    let (algorithm, half) = match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => (&aws_lc_rs::digest::SHA256, 16),
        SigningAlg::EdDSA => (&aws_lc_rs::digest::SHA512, 32),
    };
    let d = aws_lc_rs::digest::digest(algorithm, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..half])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify_and_reject_tampering() {
        for alg in SigningAlg::ALL {
            let (signer, pkcs8) = Signer::generate(alg, format!("k-{}", alg.as_str())).unwrap();
            let reloaded = Signer::from_pkcs8(alg, signer.kid.clone(), &pkcs8).unwrap();
            let jwk = reloaded.public_jwk();
            let token = signer
                .sign("JWT", &json!({ "sub": "ada", "n": 1 }))
                .unwrap();
            let lookup = |kid: &str, a: &str| {
                (kid == signer.kid && a == alg.as_str())
                    .then(|| Verifier::from_jwk(&jwk))
                    .flatten()
            };
            let ok = verify(&token, lookup).unwrap();
            assert_eq!(ok.claims["sub"], "ada");
            assert_eq!(peek_kid(&token).as_deref(), Some(signer.kid.as_str()));
            // Change one claim: the signature must fail.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"eve","n":1}"#);
            parts[1] = &forged;
            assert!(
                verify(&parts.join("."), lookup).is_none(),
                "{alg:?} accepted a forged payload"
            );
            assert!(verify(&token, |_, _| None).is_none());
        }
    }

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core A.3's example token and its at_hash.
        assert_eq!(
            at_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                SigningAlg::RS256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
