//! Reading and verifying the audit log's hash chain.

use crate::admin::PlatformAdmin;
use crate::{App, CoreError};
use tessera_domain::audit::{AuditRecord, ChainBreak, ChainVerifier};

/// The outcome of walking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { events: u64 },
    Broken(ChainBreak),
}

pub async fn verify_chain(app: &App, _: &PlatformAdmin) -> Result<Verification, CoreError> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    let mut r = app.db.read().await?;
    loop {
        let page = r.audit_after(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            if let Err(b) = verifier.push(record) {
                return Ok(Verification::Broken(b));
            }
        }
    }
    Ok(Verification::Intact {
        events: verifier.checked(),
    })
}

pub async fn newest(
    app: &App,
    _: &PlatformAdmin,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, CoreError> {
    Ok(app
        .db
        .read()
        .await?
        .audit_newest(before, limit.clamp(1, 1000))
        .await?)
}
