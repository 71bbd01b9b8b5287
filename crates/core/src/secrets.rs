//! The node-shared secret key and what is derived from it: the key that seals signing
//! keys at rest (AES-256-GCM) and the key that HMACs client secrets.

use crate::CoreError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_domain::Random;

pub struct SecretKeys {
    sealing: LessSafeKey,
    client_secret_mac: hmac::Key,
    code_mac: hmac::Key,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKeys(<redacted>)")
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> Result<[u8; 32], CoreError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera-v1").extract(master);
    let info = [label];
    let okm = prk
        .expand(&info, Len(32))
        .map_err(|_| CoreError::Internal("hkdf expand".into()))?;
    let mut out = [0u8; 32];
    okm.fill(&mut out)
        .map_err(|_| CoreError::Internal("hkdf fill".into()))?;
    Ok(out)
}

impl SecretKeys {
    /// From the 32-byte master secret (`secret_key` setting, base64url).
    pub fn from_master(master: &[u8; 32]) -> Result<Self, CoreError> {
        let sealing = UnboundKey::new(&AES_256_GCM, &derive(master, b"seal signing keys")?)
            .map_err(|_| CoreError::Internal("aes key".into()))?;
        let mac = derive(master, b"client secret hmac")?;
        let code = derive(master, b"one-time code hmac")?;
        Ok(Self {
            sealing: LessSafeKey::new(sealing),
            client_secret_mac: hmac::Key::new(hmac::HMAC_SHA256, &mac),
            code_mac: hmac::Key::new(hmac::HMAC_SHA256, &code),
        })
    }

    /// Parses the setting's value: 32 bytes, base64url without padding (43 characters).
    pub fn parse_master(encoded: &str) -> Result<[u8; 32], String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded.trim())
            .map_err(|_| "must be 32 random bytes in base64url (43 characters); create one with `tessera admin secret-key`".to_string())?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| format!("must be 32 bytes; this is {} bytes", bytes.len()))
    }

    pub fn generate_master(random: &dyn Random) -> String {
        let mut b = [0u8; 32];
        random.fill(&mut b);
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Encrypts: a fresh 96-bit nonce, then ciphertext and tag.
    pub fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
        random: &dyn Random,
    ) -> Result<Vec<u8>, CoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        self.sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buf,
            )
            .map_err(|_| CoreError::Internal("seal".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what `seal` produced with the same context; fails if it was altered or
    /// sealed under another secret key.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CoreError> {
        if sealed.len() < NONCE_LEN {
            return Err(CoreError::Internal("sealed value too short".into()));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CoreError::Internal("nonce".into()))?;
        let mut buf = rest.to_vec();
        let plain = self.sealing.open_in_place(nonce, Aad::from(context), &mut buf).map_err(|_| {
            CoreError::Internal(
                "a sealed signing key cannot be opened: the secret key differs from the one it was sealed with".into(),
            )
        })?;
        Ok(plain.to_vec())
    }

    /// HMAC-SHA256 of a client secret: what the database stores.
    pub fn client_secret_hmac(&self, secret: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.client_secret_mac, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// HMAC of a short code bound to what it is for (`context`, e.g. a request id), so a
    /// stolen table cannot be reversed by trying every code and a code works nowhere else.
    pub fn code_mac(&self, context: &[u8], code: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.code_mac);
        ctx.update(&(context.len() as u64).to_be_bytes());
        ctx.update(context);
        ctx.update(code.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    pub fn code_matches(&self, context: &[u8], presented: &str, stored: &[u8; 32]) -> bool {
        constant_time::verify_slices_are_equal(&self.code_mac(context, presented.trim()), stored)
            .is_ok()
    }

    pub fn client_secret_matches(&self, presented: &str, stored: &[u8; 32]) -> bool {
        constant_time::verify_slices_are_equal(&self.client_secret_hmac(presented), stored).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tessera_domain::SeededRandom;

    #[test]
    fn sealing_round_trips_and_detects_tampering_and_other_keys() {
        let r = SeededRandom::new(1);
        let k = SecretKeys::from_master(&[7; 32]).unwrap();
        let sealed = k.seal(b"private key", b"kid-1", &r).unwrap();
        assert_eq!(k.open(&sealed, b"kid-1").unwrap(), b"private key");
        assert!(k.open(&sealed, b"kid-2").is_err(), "context is bound");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(k.open(&bad, b"kid-1").is_err());
        let other = SecretKeys::from_master(&[8; 32]).unwrap();
        assert!(other.open(&sealed, b"kid-1").is_err());
    }

    #[test]
    fn client_secret_hmacs_depend_on_the_master() {
        let a = SecretKeys::from_master(&[1; 32]).unwrap();
        let b = SecretKeys::from_master(&[2; 32]).unwrap();
        let stored = a.client_secret_hmac("s3cret");
        assert!(a.client_secret_matches("s3cret", &stored));
        assert!(!a.client_secret_matches("s3cret!", &stored));
        assert!(!b.client_secret_matches("s3cret", &stored));
        let encoded = SecretKeys::generate_master(&SeededRandom::new(3));
        assert_eq!(SecretKeys::parse_master(&encoded).unwrap().len(), 32);
        assert!(SecretKeys::parse_master("short").is_err());
    }
}
