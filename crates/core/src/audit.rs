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

/// Who reads the log: a platform administrator sees every event, a tenant admin only the
/// events filed under their tenant (the filter is forced, whatever the query says).
pub enum AuditReader<'a> {
    Platform(&'a PlatformAdmin),
    Tenant(&'a crate::tenants::TenantAdmin),
}

/// Events matching `query`, newest first, at most 1000 per page.
pub async fn search(
    app: &App,
    reader: AuditReader<'_>,
    mut query: tessera_store::AuditQuery,
) -> Result<Vec<AuditRecord>, CoreError> {
    if let AuditReader::Tenant(cap) = reader {
        query.tenant = Some(cap.tenant_id());
    }
    query.limit = query.limit.clamp(1, 1000);
    Ok(app.db.read().await?.audit_query(&query).await?)
}

/// The records as CSV (RFC 4180), one row each. A cell that a spreadsheet would run as a
/// formula is prefixed with `'`.
pub fn to_csv(records: &[AuditRecord]) -> String {
    fn cell(out: &mut String, value: &str) {
        let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{value}")
        } else {
            value.to_owned()
        };
        if value.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&value.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&value);
        }
    }
    let mut out = String::from("seq,at,actor,action,target,outcome,source_ip,tenant,detail\r\n");
    for r in records {
        let e = &r.event;
        let at =
            e.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        let tenant = e.tenant.map(|t| t.to_string()).unwrap_or_default();
        let fields = [
            r.seq.to_string(),
            at,
            e.actor.clone(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.outcome.as_str().to_owned(),
            e.source_ip.clone().unwrap_or_default(),
            tenant,
            e.detail.clone(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, f);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_domain::audit::{Actor, AuditEvent, Outcome};

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let event = AuditEvent::new(
            tessera_domain::clock::from_unix(0),
            &Actor::Cli,
            "app.create",
            Outcome::Success,
        )
        .target("=HYPERLINK(\"x\")")
        .detail(serde_json::json!({"a": "b,c"}));
        let record = AuditRecord {
            seq: 7,
            event,
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let csv = to_csv(&[record]);
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.starts_with("7,1970-01-01T00:00:00Z,cli,app.create,"),
            "{row}"
        );
        assert!(row.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{row}");
        assert!(row.ends_with("\"{\"\"a\"\":\"\"b,c\"\"}\""), "{row}");
    }
}
