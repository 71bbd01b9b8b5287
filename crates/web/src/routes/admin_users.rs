//! Administrators' account pages: the user list (search and filters), a user's page with
//! state, history and actions, and the lifecycle settings.

use super::{field_errors, page, when};
use crate::WebState;
use crate::error::WebError;
use crate::extract::{Admin, ClientIp, user_context};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use tessera_core::CoreError;
use tessera_core::admin::find_user;
use tessera_core::lifecycle::accounts::{self, UserFilter};
use tessera_core::lifecycle::provision::human_date;
use tessera_core::lifecycle::settings;
use tessera_domain::lifecycle::{LifecycleSettings, parse_patterns};
use tessera_domain::user::User;
use tessera_domain::{DomainError, FieldErrors, UserId};

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/users", get(index))
        .route("/admin/users/{id}", get(show))
        .route("/admin/users/{id}/{action}", post(act))
        .route("/admin/settings", get(settings_page).post(settings_save))
}

fn user_row(u: &User) -> minijinja::Value {
    context! {
        id => u.id.to_string(),
        username => u.username.as_str(),
        display_name => u.display_name(),
        email => u.email.as_str(),
        agency => u.agency(),
        user_type => u.user_type.as_str(),
        state => u.state.as_str(),
        platform_admin => u.platform_admin,
        department => u.department.clone(),
        mobile => u.mobile.as_ref().map(|m| m.as_str().to_owned()).unwrap_or_default(),
        deadline => u.activation_deadline.map(human_date).unwrap_or_default(),
        created_at => when(u.created_at),
        device_onboarding => u.device_onboarding,
        offshore => u.offshore.is_some(),
        in_odc => u.offshore.as_ref().is_some_and(|o| o.in_odc),
        reporting_officer => u.offshore.as_ref().and_then(|o| o.reporting_officer_name.clone()).unwrap_or_default(),
        reporting_officer_email => u.offshore.as_ref().and_then(|o| o.reporting_officer_email.as_ref().map(|e| e.to_string())).unwrap_or_default(),
        company_address => u.offshore.as_ref().and_then(|o| o.company_address.clone()).unwrap_or_default(),
    }
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct ListQuery {
    q: String,
    state: String,
    r#type: String,
    agency: String,
    after: String,
}

async fn index(
    State(state): State<WebState>,
    admin: Admin,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let filter = UserFilter {
        text: q.q.clone(),
        state: q.state.clone(),
        user_type: q.r#type.clone(),
        agency: q.agency.clone(),
        after: q.after.clone(),
    };
    let (users, errors) = match accounts::search(&state.app, &admin.cap, &filter, 100).await {
        Ok(users) => (users, FieldErrors::new()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => (Vec::new(), e),
        Err(other) => return Err(other.into()),
    };
    let next = (users.len() == 100)
        .then(|| users.last().map(|u| u.username.to_string()))
        .flatten()
        .unwrap_or_default();
    page(
        &state,
        if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        "admin_users.html",
        context! {
            page_title => "Users",
            current_user => user_context(&admin.who),
            users => users.iter().map(user_row).collect::<Vec<_>>(),
            filters => minijinja::Value::from(minijinja::value::Serde(&q)),
            errors => field_errors(&errors),
            next,
        },
    )
}

async fn user_page(
    state: &WebState,
    admin: &Admin,
    user: &User,
    status: StatusCode,
    notice: &str,
    error: &str,
) -> Result<Response, WebError> {
    let history = accounts::history(&state.app, &admin.cap, user.id, 100).await?;
    let history: Vec<_> = history
        .iter()
        .map(|r| {
            context! {
                at => when(r.event.at),
                actor => r.event.actor.clone(),
                action => r.event.action.clone(),
                outcome => r.event.outcome.as_str(),
            }
        })
        .collect();
    let sponsor = match user.sponsor {
        Some(id) => state
            .app
            .db
            .read()
            .await
            .map_err(CoreError::from)?
            .user_by_id(id)
            .await
            .map_err(CoreError::from)?
            .map(|s| format!("{} ({})", s.display_name(), s.username)),
        None => None,
    };
    page(
        state,
        status,
        "admin_user.html",
        context! {
            page_title => user.display_name(),
            current_user => user_context(&admin.who),
            user => user_row(user),
            sponsor => sponsor.unwrap_or_default(),
            history,
            notice,
            form_error => error,
        },
    )
}

async fn show(
    State(state): State<WebState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let user = find_user(&state.app, &admin.cap, &id).await?;
    user_page(&state, &admin, &user, StatusCode::OK, "", "").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionForm {
    days: String,
}

async fn act(
    State(state): State<WebState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let id: UserId = id.parse().map_err(|_| WebError::NotFound)?;
    let app = &state.app;
    let cap = &admin.cap;
    let result = match action.as_str() {
        "resend-onboarding" => accounts::resend_onboarding(app, cap, id, ip).await,
        "extend" => match f.days.trim().parse::<u32>() {
            Ok(days) => accounts::extend_deadline(app, cap, id, days, ip).await,
            Err(_) => Err(DomainError::field("days", "Enter a number of days, 1 to 365.").into()),
        },
        "suspend" => accounts::suspend(app, cap, id, ip).await,
        "reactivate" => accounts::reactivate(app, cap, id, ip).await,
        "terminate" => accounts::terminate(app, cap, id, ip).await,
        "reset-mfa" => accounts::reset_mfa(app, cap, id, ip).await,
        _ => return Err(WebError::NotFound),
    };
    match result {
        Ok(user) => {
            state.wake_outbox();
            Ok(Redirect::to(&format!("/admin/users/{}?done={action}", user.id)).into_response())
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            let user = find_user(app, cap, &id.to_string()).await?;
            let message = e.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            user_page(
                &state,
                &admin,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                "",
                &message,
            )
            .await
        }
        Err(CoreError::Domain(DomainError::InvalidState(message))) => {
            let user = find_user(app, cap, &id.to_string()).await?;
            user_page(&state, &admin, &user, StatusCode::CONFLICT, "", &message).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
struct SettingsForm {
    agency_domains: String,
    no_inbox: String,
    invitation_validity_days: String,
    activation_window_days: String,
    seed_invitation_validity_days: String,
    reminder_days_before: String,
    lockout_max_failures: String,
    lockout_minutes: String,
}

impl SettingsForm {
    fn from_settings(s: &LifecycleSettings) -> Self {
        let lines = |v: &[tessera_domain::lifecycle::AddressPattern]| {
            v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("\n")
        };
        Self {
            agency_domains: lines(&s.agency_domains),
            no_inbox: lines(&s.no_inbox),
            invitation_validity_days: s.invitation_validity_days.to_string(),
            activation_window_days: s.activation_window_days.to_string(),
            seed_invitation_validity_days: s.seed_invitation_validity_days.to_string(),
            reminder_days_before: s
                .reminder_days_before
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            lockout_max_failures: s.lockout_max_failures.to_string(),
            lockout_minutes: s.lockout_minutes.to_string(),
        }
    }

    fn parse(&self) -> Result<LifecycleSettings, FieldErrors> {
        let mut e = FieldErrors::new();
        let days = |e: &mut FieldErrors, field: &str, v: &str| {
            e.check(
                field,
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| "Enter a whole number of days.".to_string()),
            )
        };
        let agency = e.check("agency_domains", parse_patterns(&self.agency_domains));
        let no_inbox = e.check("no_inbox", parse_patterns(&self.no_inbox));
        let inv = days(
            &mut e,
            "invitation_validity_days",
            &self.invitation_validity_days,
        );
        let act = days(
            &mut e,
            "activation_window_days",
            &self.activation_window_days,
        );
        let seed = days(
            &mut e,
            "seed_invitation_validity_days",
            &self.seed_invitation_validity_days,
        );
        let number = |e: &mut FieldErrors, field: &str, v: &str| {
            e.check(
                field,
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| "Enter a whole number.".to_string()),
            )
        };
        let lock_max = number(&mut e, "lockout_max_failures", &self.lockout_max_failures);
        let lock_minutes = number(&mut e, "lockout_minutes", &self.lockout_minutes);
        let reminders = e.check(
            "reminder_days_before",
            self.reminder_days_before
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<u32>()
                        .map_err(|_| format!("{s:?} is not a number of days."))
                })
                .collect::<Result<Vec<_>, _>>(),
        );
        match (
            agency,
            no_inbox,
            inv,
            act,
            seed,
            reminders,
            lock_max,
            lock_minutes,
        ) {
            (
                Some(agency_domains),
                Some(no_inbox),
                Some(i),
                Some(a),
                Some(s),
                Some(r),
                Some(lockout_max_failures),
                Some(lockout_minutes),
            ) if e.is_empty() => Ok(LifecycleSettings {
                agency_domains,
                no_inbox,
                invitation_validity_days: i,
                activation_window_days: a,
                seed_invitation_validity_days: s,
                reminder_days_before: r,
                lockout_max_failures,
                lockout_minutes,
            }),
            _ => Err(e),
        }
    }
}

fn settings_form(
    state: &WebState,
    admin: &Admin,
    status: StatusCode,
    values: &SettingsForm,
    errors: &FieldErrors,
    notice: &str,
) -> Result<Response, WebError> {
    page(
        state,
        status,
        "admin_settings.html",
        context! {
            page_title => "Lifecycle settings",
            current_user => user_context(&admin.who),
            values => minijinja::Value::from(minijinja::value::Serde(values)),
            errors => field_errors(errors),
            form_error => if errors.is_empty() { "" } else { "Check the fields marked below." },
            notice,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SavedQuery {
    saved: String,
}

async fn settings_page(
    State(state): State<WebState>,
    admin: Admin,
    Query(q): Query<SavedQuery>,
) -> Result<Response, WebError> {
    let current = settings::current(&state.app).await?;
    let notice = if q.saved.is_empty() {
        ""
    } else {
        "Settings saved."
    };
    settings_form(
        &state,
        &admin,
        StatusCode::OK,
        &SettingsForm::from_settings(&current),
        &FieldErrors::new(),
        notice,
    )
}

async fn settings_save(
    State(state): State<WebState>,
    admin: Admin,
    ClientIp(ip): ClientIp,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let parsed = match f.parse() {
        Ok(p) => p,
        Err(e) => {
            return settings_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, &f, &e, "");
        }
    };
    match settings::save(&state.app, &admin.cap, parsed, ip).await {
        Ok(_) => Ok(Redirect::to("/admin/settings?saved=1").into_response()),
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            settings_form(&state, &admin, StatusCode::UNPROCESSABLE_ENTITY, &f, &e, "")
        }
        Err(other) => Err(other.into()),
    }
}
