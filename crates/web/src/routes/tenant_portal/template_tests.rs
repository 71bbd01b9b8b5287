//! Renders every tenant page in each of its states with the context its handler gives, so
//! a broken template fails here (the shared sample context does not cover these pages).
#![allow(clippy::unwrap_used)]

use minijinja::context;

/// Every tenant page renders in the strict environment with the context its handler
/// gives, in each of its states.
#[test]
fn every_tenant_template_renders() {
    let t = crate::Templates::new(None).unwrap();
    let user =
        context! { username => "tina", display_name => "Tina Tan", is_platform_admin => false };
    let tenant = context! { slug => "docs", name => "Docs Agency" };
    let app = context! {
        id => "0190", client_id => "cid", name => "Docs portal", description => "d", kind => "confidential",
        confidential => true, uses_keys => false, uses_secrets => true, grants => vec!["authorization_code"],
        redirect_uris => vec!["https://x.gov.sg/cb"], created_at => "x", listed_only => true,
        require_phishing_resistant => true,
    };
    let values = context! {
        name => "n", description => "d", redirect_uri => "", post_logout_redirect_uri => "", kind => "public",
        grant => vec!["refresh_token"], scope => "", access_token_ttl => "300", refresh_idle_ttl => "",
        refresh_absolute_ttl => "", id_token_alg => "RS256", backchannel_logout_uri => "", consent_required => "on",
        require_par => "", resource => "", jwks_uri => "", jwks => "",
        audience => "listed", users => "tina", offshore_allowed => "on", username => "oscar",
        require_phishing_resistant => "",
    };
    let choices = context! {
        grants => vec![context! { value => "authorization_code", label => "Authorization code", checked => true }],
        algs => vec![context! { value => "RS256", selected => true }],
    };
    let errors = context! { name => "Bad.", kind => "Bad.", grant => "Bad.", users => "Bad.", group => "Bad.", user_type => "Bad.", audience => "Bad.", username => "Bad." };
    for creating in [true, false] {
        for secret in ["", "s3cret"] {
            let ctx = context! {
                current_user => user.clone(), tenant => tenant.clone(), app => app.clone(), creating, secret,
                secrets => vec![context! { id => 1, created_at => "x", expires_at => "", valid => true }],
                values => values.clone(), choices => choices.clone(), errors => errors.clone(), form_error => "Check.",
                rotate => context! { overlap => "24", overlap_unit => "hours" }, rotate_errors => context! { overlap => "Bad." },
                rotate_error => "Check.", delete_error => "Tick.", notice => "Saved.",
            };
            let html = t.render("tenant_app.html", ctx).unwrap();
            assert!(html.contains("</html>"));
            assert_eq!(
                html.contains("id=\"client-secret\""),
                !creating && !secret.is_empty()
            );
        }
    }
    let ctx = context! {
        current_user => user, tenant, app, values, errors, form_error => "", notice => "", inactive => vec!["old"],
        tenants => vec![context! { slug => "docs", name => "Docs" }], is_platform_admin => false,
        apps => vec![context! { id => "0190", name => "Docs", client_id => "cid", kind => "public" }],
        groups => vec![context! { id => "0191", name => "Finance", description => "", checked => true }],
        user_types => vec![context! { value => "officer", label => "Officers", checked => false }],
        pending => 2, admins => vec![context! { name => "Tina Tan", email => "tina@agency.gov.sg" }],
        group => context! { id => "0191", name => "Finance", description => "F" },
        members => vec![context! { id => "0192", username => "oscar", name => "Oscar", email => "o@a.gov.sg", state => "active" }],
        delete_error => "",
    };
    let pages = [
        "tenant_list.html",
        "tenant_home.html",
        "tenant_app_access.html",
        "tenant_groups.html",
        "tenant_group.html",
    ];
    for name in pages {
        let html = t
            .render(name, ctx.clone())
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(html.contains("</html>"), "{name}");
    }
}
