//! The device key pair: ES256 (P-256, fixed-size r‖s signatures) or Ed25519, kept as
//! PKCS#8 in the key file.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use tessera_domain::push::DeviceKeyAlg;
use zeroize::Zeroizing;

pub enum DeviceKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl DeviceKey {
    /// A new key pair and its PKCS#8 encoding (to store).
    pub fn generate(alg: DeviceKeyAlg) -> Result<(Self, Zeroizing<Vec<u8>>), String> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            DeviceKeyAlg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            DeviceKeyAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .map_err(|_| format!("cannot generate an {} key pair", alg.as_str()))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let key = Self::from_pkcs8(alg, &pkcs8)?;
        Ok((key, pkcs8))
    }

    pub fn from_pkcs8(alg: DeviceKeyAlg, pkcs8: &[u8]) -> Result<Self, String> {
        match alg {
            DeviceKeyAlg::Es256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map(Self::Es256)
            }
            DeviceKeyAlg::EdDsa => Ed25519KeyPair::from_pkcs8(pkcs8).map(Self::EdDsa),
        }
        .map_err(|e| format!("the private key is not a valid {} key: {e}", alg.as_str()))
    }

    pub fn alg(&self) -> DeviceKeyAlg {
        match self {
            Self::Es256(_) => DeviceKeyAlg::Es256,
            Self::EdDsa(_) => DeviceKeyAlg::EdDsa,
        }
    }

    /// What the server stores: the uncompressed SEC1 point (65 bytes) for ES256, the 32
    /// raw bytes for Ed25519.
    pub fn public_key(&self) -> Vec<u8> {
        match self {
            Self::Es256(k) => k.public_key().as_ref().to_vec(),
            Self::EdDsa(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `message`: 64 bytes r‖s for ES256, 64 bytes for Ed25519.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Es256(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "cannot sign with the ES256 device key".to_owned()),
            Self::EdDsa(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
    use tessera_domain::{PushChallengeId, PushDeviceId};

    fn ids() -> (PushChallengeId, PushDeviceId) {
        (
            "0190a0b0-0000-7000-8000-000000000001".parse().unwrap(),
            "0190a0b0-0000-7000-8000-000000000002".parse().unwrap(),
        )
    }

    #[test]
    fn signatures_verify_for_both_algorithms_and_survive_pkcs8() {
        let (challenge, device) = ids();
        let message = tessera_domain::push::response_message(challenge, 42, "approve", device);
        for alg in [DeviceKeyAlg::Es256, DeviceKeyAlg::EdDsa] {
            let (key, pkcs8) = DeviceKey::generate(alg).unwrap();
            assert_eq!(key.alg(), alg);
            let public = key.public_key();
            let verifier: &dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
                DeviceKeyAlg::Es256 => {
                    assert_eq!(public.len(), 65);
                    assert_eq!(public[0], 0x04, "uncompressed SEC1 point");
                    &ECDSA_P256_SHA256_FIXED
                }
                DeviceKeyAlg::EdDsa => {
                    assert_eq!(public.len(), 32);
                    &ED25519
                }
            };
            let signature = key.sign(&message).unwrap();
            assert_eq!(signature.len(), 64);
            let public_key = UnparsedPublicKey::new(verifier, &public);
            public_key.verify(&message, &signature).unwrap();
            // Another message, or another number, does not verify.
            let other = tessera_domain::push::response_message(challenge, 43, "approve", device);
            assert!(public_key.verify(&other, &signature).is_err());

            // Reloaded from its PKCS#8 it is the same key.
            let reloaded = DeviceKey::from_pkcs8(alg, &pkcs8).unwrap();
            assert_eq!(reloaded.public_key(), public);
            public_key
                .verify(&message, &reloaded.sign(&message).unwrap())
                .unwrap();
        }
    }

    #[test]
    fn a_key_of_the_other_algorithm_is_refused() {
        let (_, pkcs8) = DeviceKey::generate(DeviceKeyAlg::Es256).unwrap();
        let err = DeviceKey::from_pkcs8(DeviceKeyAlg::EdDsa, &pkcs8)
            .err()
            .unwrap();
        assert!(err.contains("not a valid EdDSA key"), "{err}");
        let err = DeviceKey::from_pkcs8(DeviceKeyAlg::Es256, b"junk")
            .err()
            .unwrap();
        assert!(err.contains("not a valid ES256 key"), "{err}");
    }
}
