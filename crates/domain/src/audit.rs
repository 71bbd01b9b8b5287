//! Audit events and the hash chain that makes an edited or deleted row detectable.
//!
//! Each stored event carries `hash = SHA-256(prev_hash ‖ seq ‖ fields)`, so changing any
//! field of any row, or removing a row, breaks every hash after it.

use crate::UserId;
use aws_lc_rs::digest;
use serde::Serialize;
use time::OffsetDateTime;

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    /// A background job of Tessera itself.
    System,
    /// An operator at the `tessera admin` command line.
    Cli,
    /// Someone not signed in (a failed sign-in, a setup link).
    Anonymous,
    /// An API client acting with its own access token (client_credentials), by client_id.
    Client(String),
}

impl Actor {
    pub fn encode(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::System => "system".into(),
            Self::Cli => "cli".into(),
            Self::Anonymous => "anonymous".into(),
            Self::Client(client_id) => format!("client:{client_id}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// A state change (or refused attempt) worth keeping. `detail` is canonical JSON text and
/// is stored as text, so the bytes hashed are the bytes kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub source_ip: Option<String>,
    pub detail: String,
    /// The tenant the change belongs to, so that its tenant admins see it.
    pub tenant: Option<crate::TenantId>,
}

impl AuditEvent {
    pub fn new(at: OffsetDateTime, actor: &Actor, action: &str, outcome: Outcome) -> Self {
        Self {
            at: at.replace_nanosecond(0).unwrap_or(at),
            actor: actor.encode(),
            action: action.to_owned(),
            target: None,
            outcome,
            source_ip: None,
            detail: "{}".into(),
            tenant: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn source_ip(mut self, ip: Option<String>) -> Self {
        self.source_ip = ip;
        self
    }

    /// Files the event under a tenant (its tenant admins' audit view shows it).
    pub fn tenant(mut self, tenant: crate::TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Attaches structured detail. Never put secrets here.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail.to_string();
        self
    }
}

/// An event as stored: its place in the chain and its hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    #[serde(skip)]
    pub prev_hash: [u8; 32],
    #[serde(skip)]
    pub hash: [u8; 32],
}

/// The hash before the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

pub fn chain_hash(prev: &[u8; 32], seq: i64, event: &AuditEvent) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"tessera-audit-v1");
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&event.at.unix_timestamp().to_be_bytes());
    for field in [
        Some(event.actor.as_str()),
        Some(event.action.as_str()),
        event.target.as_deref(),
        Some(event.outcome.as_str()),
        event.source_ip.as_deref(),
        Some(event.detail.as_str()),
    ] {
        // Length-prefixed, with a distinct marker for absent values, so no two different
        // field lists can produce the same byte string.
        match field {
            Some(s) => {
                ctx.update(&[1]);
                ctx.update(&(s.len() as u64).to_be_bytes());
                ctx.update(s.as_bytes());
            }
            None => ctx.update(&[0]),
        }
    }
    // Hashed only when present, so records written before tenants were recorded keep
    // their hashes.
    if let Some(tenant) = event.tenant {
        ctx.update(b"tenant");
        ctx.update(tenant.as_uuid().as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Why a chain does not verify, naming the first bad row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// The row's stored hash does not match its contents: it was edited.
    Altered { seq: i64 },
    /// The row does not follow the one before it: a row was removed or inserted.
    Broken { seq: i64, expected_seq: i64 },
}

/// Walks records in `seq` order; call `push` for each, then `finish`.
#[derive(Debug)]
pub struct ChainVerifier {
    prev_hash: [u8; 32],
    next_seq: i64,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev_hash: GENESIS,
            next_seq: 1,
            checked: 0,
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if record.seq != self.next_seq || record.prev_hash != self.prev_hash {
            return Err(ChainBreak::Broken {
                seq: record.seq,
                expected_seq: self.next_seq,
            });
        }
        if chain_hash(&record.prev_hash, record.seq, &record.event) != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        self.prev_hash = record.hash;
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let event = AuditEvent::new(
                    from_unix(1000 + seq),
                    &Actor::Cli,
                    "tenant.create",
                    Outcome::Success,
                )
                .target(format!("tenant:{seq}"));
                let hash = chain_hash(&prev, seq, &event);
                let r = AuditRecord {
                    seq,
                    event,
                    prev_hash: prev,
                    hash,
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in records {
            v.push(r)?;
        }
        Ok(v.checked())
    }

    #[test]
    fn a_clean_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn an_edited_row_is_named() {
        let mut c = chain(5);
        c[2].event.action = "tenant.delete".into();
        assert_eq!(verify(&c), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_removed_row_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c),
            Err(ChainBreak::Broken {
                seq: 3,
                expected_seq: 2
            })
        );
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let e = AuditEvent::new(from_unix(1), &Actor::System, "x", Outcome::Success);
        let mut f = e.clone();
        f.target = Some(String::new());
        assert_ne!(chain_hash(&GENESIS, 1, &e), chain_hash(&GENESIS, 1, &f));
    }
}
