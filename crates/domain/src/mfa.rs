//! Second factors: TOTP authenticator keys (RFC 6238), with the replay rule that a time
//! step, once used, never works again.

use crate::{CredentialId, UserId};
use aws_lc_rs::{constant_time, hmac};
use time::OffsetDateTime;

/// RFC 6238 defaults every authenticator app supports.
pub const TOTP_STEP_SECONDS: i64 = 30;
pub const TOTP_DIGITS: u32 = 6;
/// Codes of one step before or after now are accepted, for clock drift.
pub const TOTP_SKEW_STEPS: i64 = 1;

/// A user's authenticator-app key. The key is sealed (AES-GCM) by the core before storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpCredential {
    pub id: CredentialId,
    pub user_id: UserId,
    /// The 20-byte key, sealed under the server's secret key.
    pub sealed_secret: Vec<u8>,
    /// What the user calls it ("Authenticator app").
    pub label: String,
    pub created_at: OffsetDateTime,
    /// Set by the first valid code; an unconfirmed key is an enrolment in progress.
    pub confirmed_at: Option<OffsetDateTime>,
    /// The newest time step that signed someone in: it and older steps are refused.
    pub last_used_step: i64,
    pub version: i64,
}

pub fn time_step(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(TOTP_STEP_SECONDS)
}

/// The code for one time step (RFC 4226 dynamic truncation over HMAC-SHA1).
pub fn totp_code(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    format!("{:06}", bin % 10u32.pow(TOTP_DIGITS))
}

/// The step a presented code belongs to, if it is valid now and newer than `last_used`.
pub fn verify_totp(
    secret: &[u8],
    presented: &str,
    now: OffsetDateTime,
    last_used: i64,
) -> Option<i64> {
    let presented: String = presented.chars().filter(|c| !c.is_whitespace()).collect();
    if presented.len() != TOTP_DIGITS as usize || !presented.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = time_step(now);
    let mut found = None;
    // Every candidate is compared, so timing does not tell which step matched.
    for step in (current - TOTP_SKEW_STEPS)..=(current + TOTP_SKEW_STEPS) {
        let expected = totp_code(secret, step);
        if constant_time::verify_slices_are_equal(expected.as_bytes(), presented.as_bytes()).is_ok()
            && step > last_used
        {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding: how authenticator apps take keys.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;

    /// RFC 6238 appendix B, SHA-1, truncated to six digits.
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        assert_eq!(totp_code(secret, 59 / 30), "287082");
        assert_eq!(totp_code(secret, 1_111_111_109 / 30), "081804");
        assert_eq!(totp_code(secret, 2_000_000_000 / 30), "279037");
    }

    #[test]
    fn codes_work_once_within_the_skew() {
        let secret = b"12345678901234567890";
        let now = from_unix(1_111_111_109);
        let step = time_step(now);
        let code = totp_code(secret, step);
        assert_eq!(verify_totp(secret, &code, now, 0), Some(step));
        assert_eq!(verify_totp(secret, &code, now, step), None, "replay");
        let next = totp_code(secret, step + 1);
        assert_eq!(verify_totp(secret, &next, now, step), Some(step + 1));
        let old = totp_code(secret, step - 2);
        assert_eq!(verify_totp(secret, &old, now, 0), None);
        assert_eq!(verify_totp(secret, "12345", now, 0), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri("Tessera", "ada lim", b"12345678901234567890");
        assert!(uri.starts_with(
            "otpauth://totp/Tessera:ada%20lim?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        ));
    }
}
