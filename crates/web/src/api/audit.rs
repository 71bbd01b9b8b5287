//! `/api/v1/audit` (platform administrators: every event) and
//! `/api/v1/tenants/{tenant}/audit` (the events filed under one tenant), newest first,
//! with filters. The cursor carries the last event's sequence number.

use super::auth::ApiAuth;
use super::extract::{ApiPath, ApiQuery};
use super::pagination::{Page, PageQuery, trim_fetched};
use super::problem::{ApiError, ApiResult};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_core::audit::{AuditReader, search};
use tessera_domain::audit::AuditRecord;
use tessera_store::AuditQuery;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Exact actor, as events name it: `user:<id>`, `client:<client_id>`, `cli`.
    pub actor: Option<String>,
    /// Exact target: `user:<id>`, `app:<id>`, `group:<id>`, …
    pub target: Option<String>,
    /// An action, or a prefix ending in `.` (`app.` matches `app.create`).
    pub action: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// The event's place in the log's hash chain.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub source_ip: Option<String>,
    /// The tenant the event is filed under.
    pub tenant: Option<String>,
    /// What else the event recorded.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&AuditRecord> for AuditEventView {
    fn from(r: &AuditRecord) -> Self {
        let e = &r.event;
        let detail = match serde_json::from_str::<serde_json::Value>(&e.detail) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(other) => serde_json::json!({ "value": other }),
            Err(_) if e.detail.is_empty() => serde_json::json!({}),
            Err(_) => serde_json::json!({ "text": e.detail }),
        };
        Self {
            seq: r.seq,
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.as_str().to_owned(),
            source_ip: e.source_ip.clone(),
            tenant: e.tenant.map(|t| t.to_string()),
            detail,
        }
    }
}

fn query(filter: AuditFilter, page: &PageQuery) -> Result<AuditQuery, ApiError> {
    let mut errors = BTreeMap::new();
    let mut time = |field: &str, value: Option<String>| match value.filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match OffsetDateTime::parse(&v, &Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.insert(
                    field.to_owned(),
                    "Give a time in RFC 3339 form, such as 2026-11-23T09:00:00Z.".to_owned(),
                );
                None
            }
        },
    };
    let since = time("since", filter.since);
    let until = time("until", filter.until);
    let limit = match page.limit() {
        Ok(l) => l,
        Err(_) => {
            errors.insert("limit".into(), "The limit is between 1 and 200.".into());
            1
        }
    };
    let before = match page.after::<i64>() {
        Ok(b) => b,
        Err(_) => {
            errors.insert(
                "cursor".into(),
                "This cursor is not one Tessera gave out.".into(),
            );
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let text = |v: Option<String>| v.filter(|v| !v.is_empty());
    Ok(AuditQuery {
        tenant: None,
        actor: text(filter.actor),
        target: text(filter.target),
        action: text(filter.action),
        since,
        until,
        before,
        // One more than asked: it says whether there is a next page.
        limit: limit + 1,
    })
}

fn page_of(records: Vec<AuditRecord>, page: &PageQuery) -> ApiResult<Page<AuditEventView>> {
    let (records, next_cursor) = trim_fetched(records, page.limit()?, |r| r.seq);
    Ok(Page {
        items: records.iter().map(AuditEventView::from).collect(),
        next_cursor,
    })
}

/// Every audit event, newest first (platform administrators).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditFilter, PageQuery),
    responses((status = 200, description = "A page of events, newest first", body = Page<AuditEventView>))
)]
pub async fn platform_audit(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiQuery(filter): ApiQuery<AuditFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AuditEventView>>> {
    let admin = auth.platform()?;
    let q = query(filter, &page)?;
    let records = search(&state.app, AuditReader::Platform(&admin), q).await?;
    Ok(Json(page_of(records, &page)?))
}

/// The events filed under one tenant, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/audit",
    tag = "audit",
    params(
        ("tenant" = String, Path, description = "The tenant's handle (slug) or id"),
        AuditFilter,
        PageQuery,
    ),
    responses((status = 200, description = "A page of the tenant's events, newest first", body = Page<AuditEventView>))
)]
pub async fn tenant_audit(
    State(state): State<WebState>,
    auth: ApiAuth,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AuditEventView>>> {
    let cap = auth.tenant(&state, &tenant).await?;
    let q = query(filter, &page)?;
    let records = search(&state.app, AuditReader::Tenant(&cap), q).await?;
    Ok(Json(page_of(records, &page)?))
}
