//! Versioned policy documents: administrators publish, users accept each applicable
//! current version (in the wizard, and again at sign-in after a new version).

use crate::admin::PlatformAdmin;
use crate::signin::flow::{self, Step, advance, require};
use crate::{App, CoreError};
use pulldown_cmark::{Event, Options, Parser, Tag};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::policy::{PolicyAcceptance, PolicyDocument, PolicyKind};
use tessera_domain::user::User;
use tessera_domain::{DomainError, FieldErrors};
use tessera_store::{StoreError, Tx};

/// Current versions that apply to the user and that they have not accepted, in the order
/// the wizard asks (privacy, terms, MDM).
pub async fn pending_for(tx: &mut dyn Tx, user: &User) -> Result<Vec<PolicyDocument>, CoreError> {
    let accepted = tx.acceptances_of(user.id).await?;
    let mut pending: Vec<PolicyDocument> = tx
        .current_policies()
        .await?
        .into_iter()
        .filter(|d| d.kind.applies_to(user.device_onboarding))
        .filter(|d| {
            !accepted
                .iter()
                .any(|a| a.kind == d.kind && a.version == d.version)
        })
        .collect();
    pending.sort_by_key(|d| d.kind);
    Ok(pending)
}

/// The next document the signing-in user must accept, rendered.
pub async fn next_for_flow(
    app: &App,
    cookie: &str,
) -> Result<Option<(PolicyDocument, String)>, CoreError> {
    let current = require(app, cookie).await?;
    let user = current.proven_user()?;
    let mut r = app.db.read().await?;
    Ok(pending_for(r.as_mut(), user)
        .await?
        .into_iter()
        .next()
        .map(|d| {
            let html = render_markdown(&d.body);
            (d, html)
        }))
}

/// Records the acceptance of one version ("I have read and accept" must be ticked).
pub async fn accept_in_flow(
    app: &App,
    cookie: &str,
    kind: &str,
    version: i32,
    ticked: bool,
    source_ip: Option<String>,
) -> Result<Step, CoreError> {
    let now = app.clock.now();
    let current = flow::require_step(app, cookie, Step::AcceptPolicies).await?;
    let user = current.proven_user()?.clone();
    let kind = PolicyKind::parse(kind).ok_or(DomainError::NotFound("policy"))?;
    let mut tx = app.db.begin().await?;
    let pending = pending_for(tx.as_mut(), &user).await?;
    // Only the first pending document, so they are accepted in the wizard's order.
    let Some(doc) = pending
        .first()
        .filter(|d| d.kind == kind && d.version == version)
    else {
        // Already accepted, or a newer version appeared: show what is current.
        drop(tx);
        return flow::next_step(app, &current).await;
    };
    if !ticked {
        return Err(DomainError::field(
            "accept",
            format!(
                "Tick the box to confirm you have read and accept the {}.",
                doc.title
            ),
        )
        .into());
    }
    tx.record_acceptance(&PolicyAcceptance {
        user_id: user.id,
        kind,
        version,
        accepted_at: now,
    })
    .await?;
    advance(tx.as_mut(), &current.flow, |_| {}).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::User(user.id),
            "policy.accepted",
            Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .source_ip(source_ip)
        .detail(serde_json::json!({ "kind": kind.as_str(), "version": version })),
    )
    .await?;
    tx.commit().await?;
    flow::next_step(app, &require(app, cookie).await?).await
}

/// Publishes the next version of a document; everyone it applies to accepts it again.
pub async fn publish(
    app: &App,
    admin: &PlatformAdmin,
    kind: &str,
    title: &str,
    body: &str,
    source_ip: Option<String>,
) -> Result<PolicyDocument, CoreError> {
    let mut errors = FieldErrors::new();
    let kind = PolicyKind::parse(kind);
    if kind.is_none() {
        errors.add("kind", "Choose the kind of policy.");
    }
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 120 {
        errors.add("title", "Enter a title of at most 120 characters.");
    }
    if body.trim().is_empty() {
        errors.add("body", "Enter the policy text.");
    } else if body.len() > 200_000 {
        errors.add("body", "The text can have at most 200,000 characters.");
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Err(DomainError::Invalid(errors).into());
    };
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let latest = tx
        .policy_versions(kind)
        .await?
        .first()
        .map_or(0, |d| d.version);
    let doc = PolicyDocument {
        kind,
        version: latest + 1,
        title: title.to_owned(),
        body: body.replace("\r\n", "\n"),
        published_at: now,
        published_by: admin.actor().encode(),
    };
    tx.insert_policy(&doc).await.map_err(|e| match e {
        StoreError::Duplicate { .. } => CoreError::Domain(DomainError::InvalidState(
            "Another version was published at the same moment. Reload and try again.".into(),
        )),
        other => other.into(),
    })?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, admin.actor(), "policy.published", Outcome::Success)
            .target(format!("policy:{}:{}", kind.as_str(), doc.version))
            .source_ip(source_ip)
            .detail(serde_json::json!({ "kind": kind.as_str(), "version": doc.version, "title": doc.title })),
    )
    .await?;
    tx.commit().await?;
    Ok(doc)
}

/// Every version of every kind, newest first per kind.
pub async fn all_versions(app: &App, _: &PlatformAdmin) -> Result<Vec<PolicyDocument>, CoreError> {
    let mut r = app.db.read().await?;
    let mut all = Vec::new();
    for kind in PolicyKind::ALL {
        all.extend(r.policy_versions(kind).await?);
    }
    Ok(all)
}

fn demote(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel::{H1, H2, H3, H4, H5, H6};
    match level {
        H1 => H2,
        H2 => H3,
        H3 => H4,
        H4 => H5,
        H5 | H6 => H6,
    }
}

/// Markdown to HTML that cannot carry script: raw HTML is shown as text, and links and
/// images keep only http(s), mailto and relative targets.
pub fn render_markdown(markdown: &str) -> String {
    let safe_url = |u: &str| {
        let lower = u.trim().to_ascii_lowercase();
        lower.starts_with("https://")
            || lower.starts_with("http://")
            || lower.starts_with("mailto:")
            || lower.starts_with('/')
            || lower.starts_with('#')
            || !lower.contains(':')
    };
    let events = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        // The page has its own <h1>: the document's headings start one level lower.
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(pulldown_cmark::TagEnd::Heading(level)) => {
            Event::End(pulldown_cmark::TagEnd::Heading(demote(level)))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: "#".into(),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: "#".into(),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_without_script() {
        let html = render_markdown(
            "# Terms\n\n**Bold** and [ok](https://x.gov.sg) [bad](javascript:alert(1))\n\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>",
        );
        assert!(
            html.contains("<h2>Terms</h2>"),
            "headings sit under the page's own h1"
        );
        assert!(html.contains("<strong>Bold</strong>"));
        assert!(html.contains("href=\"https://x.gov.sg\""));
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
