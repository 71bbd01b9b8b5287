//! The audit log as people read it: filters (actor, target, action, time), newest first
//! with an "Older" cursor, and CSV/JSON export of the same selection. Platform
//! administrators see every event at `/admin/audit`; a tenant admin sees only the events
//! filed under their tenant at `/tenant/{slug}/audit` (the core forces that filter).

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::{WebError, urlencode};
use crate::extract::{Admin, Session, user_context};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tessera_core::CoreError;
use tessera_core::audit::{AuditReader, search, to_csv};
use tessera_core::signin::SignedIn;
use tessera_core::tenants::{TenantAdmin, administer};
use tessera_domain::audit::AuditRecord;
use tessera_domain::user::Username;
use tessera_domain::{FieldErrors, UserId};
use tessera_store::AuditQuery;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

/// Events per page.
const PAGE: u32 = 50;
/// The most rows one export holds.
const EXPORT_MAX: usize = 10_000;
/// Rows read per query while exporting.
const EXPORT_CHUNK: u32 = 1000;

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/audit", get(platform))
        .route("/tenant/{slug}/audit", get(tenant))
}

/// The filter form, as typed (and as the links carry it).
#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
struct Filter {
    actor: String,
    target: String,
    action: String,
    since: String,
    until: String,
    before: String,
    format: String,
}

impl Filter {
    /// The filters as a query string, without the cursor and the format.
    fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("target", &self.target),
            ("action", &self.action),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Page,
    Csv,
    Json,
}

/// A date (`YYYY-MM-DD`) or a date and time (`YYYY-MM-DDTHH:MM[:SS]`, as a
/// `datetime-local` field sends it), in UTC. A bare date means its start, or with
/// `end_of_day` the start of the next day (so "until 2026-11-23" includes that day).
fn parse_time(input: &str, end_of_day: bool) -> Result<OffsetDateTime, String> {
    let text = input.trim();
    let bad =
        || format!("{text:?} is not a date. Use YYYY-MM-DD, or YYYY-MM-DDTHH:MM for a time (UTC).");
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = Date::parse(text, date_format) {
        let start = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
        return Ok(if end_of_day {
            start + time::Duration::DAY
        } else {
            start
        });
    }
    let text_t = text.replacen(' ', "T", 1);
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(&text_t, minutes)
        .or_else(|_| PrimitiveDateTime::parse(&text_t, seconds))
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| bad())
}

fn valid_action(action: &str) -> bool {
    !action.is_empty()
        && action.len() <= 100
        && !action.starts_with('.')
        && action
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

/// Checks the typed filters. An actor may be given as the log writes it (`user:<id>`,
/// `client:<client_id>`, `cli`, `system`, `anonymous`) or as a username.
async fn to_query(state: &WebState, f: &Filter) -> Result<(AuditQuery, Format), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut query = AuditQuery::default();
    let actor = f.actor.trim();
    if !actor.is_empty() {
        let encoded = match actor.split_once(':') {
            Some(("user", id)) if id.parse::<UserId>().is_ok() => Some(actor.to_owned()),
            Some(("client", id)) if !id.is_empty() => Some(actor.to_owned()),
            None if matches!(actor, "cli" | "system" | "anonymous") => Some(actor.to_owned()),
            None => match Username::parse(actor) {
                Ok(name) => user_by_name(state, &name)
                    .await
                    .map(|id| format!("user:{id}")),
                Err(_) => None,
            },
            Some(_) => None,
        };
        match encoded {
            Some(a) => query.actor = Some(a),
            None => errors.add(
                "actor",
                format!(
                    "There is no actor {actor:?}. Enter a username, or the actor as the log shows it: user:<id>, client:<client_id>, cli or system."
                ),
            ),
        }
    }
    let target = f.target.trim();
    if !target.is_empty() {
        if target.len() > 200 || target.chars().any(char::is_control) {
            errors.add(
                "target",
                "A target is at most 200 characters, like user:<id> or app:<id>.",
            );
        } else {
            query.target = Some(target.to_owned());
        }
    }
    let action = f.action.trim();
    if !action.is_empty() {
        if valid_action(action) {
            query.action = Some(action.to_owned());
        } else {
            errors.add(
                "action",
                format!("{action:?} is not an action. Enter one like app.create, or a prefix ending in a dot like app."),
            );
        }
    }
    if !f.since.trim().is_empty() {
        query.since = errors.check("since", parse_time(&f.since, false));
    }
    if !f.until.trim().is_empty() {
        query.until = errors.check("until", parse_time(&f.until, true));
    }
    if let (Some(s), Some(u)) = (query.since, query.until)
        && u <= s
    {
        errors.add("until", "The end of the period is before its start.");
    }
    if !f.before.trim().is_empty() {
        match f.before.trim().parse::<i64>() {
            Ok(n) if n > 0 => query.before = Some(n),
            _ => errors.add(
                "before",
                "The page cursor is not a number; start again from the first page.",
            ),
        }
    }
    let format = match f.format.trim() {
        "" | "html" => Format::Page,
        "csv" => Format::Csv,
        "json" => Format::Json,
        other => {
            errors.add("format", format!("Export as csv or json, not {other:?}."));
            Format::Page
        }
    };
    if errors.is_empty() {
        Ok((query, format))
    } else {
        Err(errors)
    }
}

async fn user_by_name(state: &WebState, name: &Username) -> Option<UserId> {
    let mut r = state.app.db.read().await.ok()?;
    r.user_by_username(name).await.ok().flatten().map(|u| u.id)
}

/// Who reads, and where their view lives.
enum Reader {
    Platform(Admin),
    Tenant(TenantAdmin),
}

impl Reader {
    fn audit(&self) -> AuditReader<'_> {
        match self {
            Self::Platform(a) => AuditReader::Platform(&a.cap),
            Self::Tenant(t) => AuditReader::Tenant(t),
        }
    }

    fn path(&self) -> String {
        match self {
            Self::Platform(_) => "/admin/audit".into(),
            Self::Tenant(t) => format!("/tenant/{}/audit", t.tenant().slug),
        }
    }
}

async fn platform(
    State(state): State<WebState>,
    admin: Admin,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    let who = admin.who.clone();
    view(&state, &who, Reader::Platform(admin), f).await
}

async fn tenant(
    State(state): State<WebState>,
    Session(who): Session,
    Path(slug): Path<String>,
    Query(f): Query<Filter>,
) -> Result<Response, WebError> {
    let cap = administer(&state.app, &who, &slug).await?;
    view(&state, &who, Reader::Tenant(cap), f).await
}

async fn view(
    state: &WebState,
    who: &SignedIn,
    reader: Reader,
    f: Filter,
) -> Result<Response, WebError> {
    let (query, format) = match to_query(state, &f).await {
        Ok(q) => q,
        Err(errors) => {
            return audit_page(
                state,
                who,
                &reader,
                &f,
                &[],
                None,
                &errors,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match format {
        Format::Page => {
            let mut records = search(
                &state.app,
                reader.audit(),
                AuditQuery {
                    limit: PAGE + 1,
                    ..query
                },
            )
            .await?;
            let older = if records.len() > PAGE as usize {
                records.truncate(PAGE as usize);
                records.last().map(|r| r.seq)
            } else {
                None
            };
            audit_page(
                state,
                who,
                &reader,
                &f,
                &records,
                older,
                &FieldErrors::new(),
                StatusCode::OK,
            )
            .await
        }
        Format::Csv | Format::Json => {
            let records = export(state, &reader, query).await?;
            let (body, content_type, name) = if format == Format::Csv {
                (to_csv(&records), "text/csv; charset=utf-8", "audit.csv")
            } else {
                (
                    serde_json::to_string(&records)
                        .map_err(|e| WebError::Template(format!("audit JSON: {e}")))?,
                    "application/json",
                    "audit.json",
                )
            };
            let mut r = body.into_response();
            let headers = r.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
    }
}

/// Up to [`EXPORT_MAX`] matching records, newest first, read in chunks.
async fn export(
    state: &WebState,
    reader: &Reader,
    query: AuditQuery,
) -> Result<Vec<AuditRecord>, CoreError> {
    let mut out: Vec<AuditRecord> = Vec::new();
    let mut before = query.before;
    while out.len() < EXPORT_MAX {
        let want = EXPORT_CHUNK.min((EXPORT_MAX - out.len()) as u32);
        let chunk = search(
            &state.app,
            reader.audit(),
            AuditQuery {
                before,
                limit: want,
                ..query.clone()
            },
        )
        .await?;
        let done = chunk.len() < want as usize;
        before = chunk.last().map(|r| r.seq);
        out.extend(chunk);
        if done || before.is_none() {
            break;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn audit_page(
    state: &WebState,
    who: &SignedIn,
    reader: &Reader,
    f: &Filter,
    records: &[AuditRecord],
    older: Option<i64>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, WebError> {
    let names = actor_names(state, records).await?;
    let tenants: HashMap<String, String> = match reader {
        Reader::Platform(a) => tessera_core::admin::list_tenants(&state.app, &a.cap)
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), t.slug))
            .collect(),
        Reader::Tenant(_) => HashMap::new(),
    };
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            let e = &r.event;
            let tenant = e.tenant.map(|t| t.to_string()).unwrap_or_default();
            context! {
                seq => r.seq,
                at => when(e.at),
                actor => e.actor.clone(),
                actor_name => names.get(&e.actor).cloned().unwrap_or_default(),
                action => e.action.clone(),
                target => e.target.clone().unwrap_or_default(),
                target_name => e.target.as_ref().and_then(|t| names.get(t)).cloned().unwrap_or_default(),
                outcome => e.outcome.as_str(),
                source_ip => e.source_ip.clone().unwrap_or_default(),
                detail => if e.detail == "{}" { String::new() } else { e.detail.clone() },
                tenant => tenants.get(&tenant).cloned().unwrap_or(tenant),
            }
        })
        .collect();
    let path = reader.path();
    let qs = f.query_string();
    let with = |extra: &str| {
        if qs.is_empty() {
            format!("{path}?{extra}")
        } else {
            format!("{path}?{qs}&{extra}")
        }
    };
    let (title, tenant) = match reader {
        Reader::Platform(_) => ("Audit log".to_owned(), None),
        Reader::Tenant(t) => (
            format!("Audit log — {}", t.tenant().display_name),
            Some(
                context! { slug => t.tenant().slug.clone(), name => t.tenant().display_name.clone() },
            ),
        ),
    };
    let filtered = !qs.is_empty();
    page(
        state,
        status,
        "admin_audit.html",
        context! {
            page_title => title,
            current_user => user_context(who),
            tenant,
            action_path => path.clone(),
            filters => minijinja::Value::from(minijinja::value::Serde(f)),
            filtered,
            errors => field_errors(errors),
            form_error => if errors.is_empty() { String::new() } else {
                errors.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ")
            },
            records => rows,
            older => older.map(|seq| with(&format!("before={seq}"))).unwrap_or_default(),
            newest => if f.before.trim().is_empty() { String::new() } else if qs.is_empty() { path.clone() } else { format!("{path}?{qs}") },
            csv => with("format=csv"),
            json => with("format=json"),
            export_max => EXPORT_MAX,
        },
    )
}

/// Usernames for the `user:<id>` actors and targets on the page.
async fn actor_names(
    state: &WebState,
    records: &[AuditRecord],
) -> Result<HashMap<String, String>, CoreError> {
    let mut names = HashMap::new();
    let mut r = state.app.db.read().await?;
    for e in records.iter().map(|r| &r.event) {
        for key in std::iter::once(&e.actor).chain(e.target.iter()) {
            if names.contains_key(key) {
                continue;
            }
            if let Some(id) = key
                .strip_prefix("user:")
                .and_then(|i| i.parse::<UserId>().ok())
                && let Some(u) = r.user_by_id(id).await?
            {
                names.insert(key.clone(), u.username.as_str().to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_parse_as_dates_or_datetime_local() {
        let day = parse_time("2026-11-23", false).unwrap();
        assert_eq!(day.unix_timestamp(), 1_795_392_000);
        let end = parse_time("2026-11-23", true).unwrap();
        assert_eq!(end.unix_timestamp(), 1_795_392_000 + 86_400);
        let t = parse_time("2026-11-23T01:30", false).unwrap();
        assert_eq!(t.unix_timestamp(), 1_795_392_000 + 5400);
        assert!(parse_time("2026-11-23T01:30:15", false).is_ok());
        assert!(parse_time("23/11/2026", false).is_err());
        assert!(parse_time("2026-13-01", false).is_err());
    }

    #[test]
    fn actions_are_names_or_prefixes() {
        assert!(valid_action("app.create"));
        assert!(valid_action("app."));
        assert!(!valid_action("app.*"));
        assert!(!valid_action("DROP TABLE"));
        assert!(!valid_action(".x"));
    }
}
