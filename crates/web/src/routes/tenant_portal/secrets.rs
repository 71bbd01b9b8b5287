//! An app's client secrets: another one added, a rotation (the old ones keep working for
//! an overlap the admin chooses, at most 30 days), revoking one. A new secret is shown on
//! the page that answers the form, once.

use super::apps::{AppPage, RotateForm, app_page};
use super::capability;
use crate::WebState;
use crate::error::WebError;
use crate::extract::Session;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use tessera_core::CoreError;
use tessera_core::tenants::apps;
use tessera_domain::{DomainError, FieldErrors};
use time::Duration;

/// The overlap as typed: a whole number of seconds, minutes, hours or days. Core checks
/// the 30-day limit.
fn overlap(f: &RotateForm) -> Result<Duration, FieldErrors> {
    let mut errors = FieldErrors::new();
    let n = f.overlap.trim().parse::<i64>().ok().filter(|n| *n >= 0);
    let unit = match f.overlap_unit.as_str() {
        "seconds" => Some(Duration::SECOND),
        "minutes" => Some(Duration::MINUTE),
        "hours" => Some(Duration::HOUR),
        "days" => Some(Duration::DAY),
        _ => None,
    };
    match (n, unit) {
        // Anything past 30 days is refused by core; a huge number must not overflow first.
        (Some(n), Some(unit)) => Ok(unit.saturating_mul(i32::try_from(n).unwrap_or(i32::MAX))),
        (None, _) => {
            errors.add("overlap", "Enter a whole number, 0 or more.");
            Err(errors)
        }
        (_, None) => {
            errors.add("overlap", "Choose seconds, minutes, hours or days.");
            Err(errors)
        }
    }
}

/// Makes a secret and answers with the app page showing it, or the page with the message.
async fn make(
    state: &WebState,
    who: &tessera_core::signin::SignedIn,
    slug: &str,
    key: &str,
    rotation: Option<RotateForm>,
) -> Result<Response, WebError> {
    let cap = capability(state, who, slug).await?;
    let client = apps::get(&state.app, &cap, key).await?;
    let parsed = match &rotation {
        Some(f) => overlap(f).map(Some),
        None => Ok(None),
    };
    let result = match parsed {
        Ok(o) => apps::new_secret(&state.app, &cap, key, o).await,
        Err(e) => Err(DomainError::Invalid(e).into()),
    };
    let notice = if rotation.is_some() {
        "The secret was rotated: the new one works now, the others until the overlap ends."
    } else {
        "An additional secret was made; the others keep working."
    };
    let rotate = rotation.unwrap_or_default();
    match result {
        Ok((_, secret)) => {
            app_page(
                state,
                who,
                &cap,
                &client,
                StatusCode::OK,
                AppPage {
                    secret: Some(&secret),
                    rotate,
                    notice,
                    ..AppPage::default()
                },
            )
            .await
        }
        Err(CoreError::Domain(DomainError::Invalid(e))) => {
            app_page(
                state,
                who,
                &cap,
                &client,
                StatusCode::UNPROCESSABLE_ENTITY,
                AppPage {
                    rotate,
                    rotate_errors: e,
                    ..AppPage::default()
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub(super) async fn add(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Response, WebError> {
    make(&state, &who, &slug, &key, None).await
}

pub(super) async fn rotate(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key)): Path<(String, String)>,
    Form(f): Form<RotateForm>,
) -> Result<Response, WebError> {
    make(&state, &who, &slug, &key, Some(f)).await
}

pub(super) async fn revoke(
    State(state): State<WebState>,
    Session(who): Session,
    Path((slug, key, secret)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let cap = capability(&state, &who, &slug).await?;
    let secret: i64 = secret.parse().map_err(|_| WebError::NotFound)?;
    let client = apps::get(&state.app, &cap, &key).await?;
    apps::revoke_secret(&state.app, &cap, &key, secret).await?;
    Ok(Redirect::to(&format!(
        "/tenant/{}/apps/{}?notice=secret_revoked",
        cap.tenant().slug,
        client.id
    ))
    .into_response())
}
