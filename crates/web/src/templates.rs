//! Page templates: embedded in the binary, overridable file by file from a theme folder.

use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::HashMap;
use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// The templates `every_template_renders` has sample data for (pages added since are
/// rendered by the integration and browser tests that drive them).
#[cfg(test)]
const SAMPLED: &[&str] = &[
    "base.html",
    "macros.html",
    "setup.html",
    "setup_invalid.html",
    "signin.html",
    "home.html",
    "admin_home.html",
    "outbox_list.html",
    "outbox_message.html",
    "error.html",
    "form_post.html",
    "device.html",
    "device_confirm.html",
    "device_done.html",
    "logout.html",
    "logout_done.html",
    "consent.html",
    "account_apps.html",
    "account.html",
    "account_password.html",
    "account_mfa_add.html",
    "register.html",
    "register_closed.html",
    "register_done.html",
    "get_started.html",
    "get_started_code.html",
    "get_started_details.html",
    "my_request.html",
    "invitations.html",
    "admin_users.html",
    "admin_user.html",
    "admin_settings.html",
    "reset_start.html",
    "reset_code.html",
    "reset_authenticator.html",
    "reset_password.html",
    "setup_push.html",
    "push_not_yet.html",
    "push_wait.html",
    "push_ended.html",
    "account_passkeys.html",
    "signin_step_up.html",
    "choose_account.html",
    "admin_policies.html",
    "signin_password.html",
    "signin_code.html",
    "setup_authenticator.html",
    "setup_phone.html",
    "setup_password.html",
    "setup_policies.html",
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Built-in templates, with any file of the same name in `override_dir` taking their
    /// place (theming without a rebuild). Theme files are read and checked here, so a
    /// broken one stops start-up; each template is compiled on its first use, so an idle
    /// server holds none of the ~60 pages it has not shown (~1.6 MB of heap).
    pub fn new(override_dir: Option<PathBuf>) -> Result<Self, String> {
        let mut themed = HashMap::new();
        if let Some(dir) = &override_dir {
            let check = Environment::new();
            for (name, _) in BUILT_IN {
                let path = dir.join(name);
                if !path.is_file() {
                    continue;
                }
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
                check
                    .template_from_named_str(name, &source)
                    .map_err(|e| format!("template {name}: {e}"))?;
                themed.insert(*name, source);
            }
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_loader(move |name| {
            Ok(themed.get(name).cloned().or_else(|| {
                BUILT_IN
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, source)| (*source).to_owned())
            }))
        });
        Ok(Self { env })
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        BUILT_IN.iter().map(|(n, _)| *n)
    }

    pub fn render(&self, name: &str, context: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use minijinja::context;

    /// Renders every template with a full context, so a broken template fails here, not
    /// in front of a user.
    #[test]
    fn every_template_renders() {
        let t = Templates::new(None).unwrap();
        let user = context! { username => "ada", display_name => "Ada Lovelace", is_platform_admin => true };
        let message = context! {
            id => "0190", created_at => "2026-11-23 10:00", channel => "email", recipient => "a@b.gov.sg",
            subject => "Welcome to Tessera", status => "pending", attempts => 0, last_error => "",
            delivered_at => "", body => "Hello"
        };
        let ctx = context! {
            page_title => "Test", current_user => user, request_id => "rid-123",
            token => "tok", values => context!{ username => "ada", given_name => "A", family_name => "L", mobile => "9", department => "D", reporting_officer_name => "", reporting_officer_email => "", company_address => "", email => "", offshore => true, odc => false, seed => true, agency_domains => "*.gov.sg", no_inbox => "", invitation_validity_days => "5", activation_window_days => "30", seed_invitation_validity_days => "30", reminder_days_before => "7, 1", lockout_max_failures => "5", lockout_minutes => "15" }, errors => context!{ username => "Taken." },
            form_error => "", notice => "", next => "", reason => "used",
            stats => context!{ users => 1, tenants => 0, outbox_pending => 1, outbox_failed => 0 },
            delivery_mode => "outbox only", messages => vec![message.clone()], message => message,
            status => 500, title => "Something went wrong", message_text => "x",
            action => "https://app.example.gov.sg/cb", fields => vec![context!{ name => "code", value => "c" }],
            scopes => vec!["openid", "profile"], apps => vec![context!{ client_id => "c", name => "Docs", scope => "openid", granted_at => "2026-11-23" }],
            user_code => "BCDF-GHJK", error => "", app_name => "Docs portal", scope => "openid",
            signed_in => true, id_token_hint => "", post_logout_redirect_uri => "", state => "", client_id => "",
            invitation => context!{ email => "v@vendor.com", sponsor_name => "Ada Lim", needs_offshore_details => true, expires => "28 November 2026 (UTC)" },
            countries => vec![context!{ code => "+65", name => "Singapore", selected => true }],
            sponsor_name => "Ada Lim", sponsor_email => "ada@tech.gov.sg", username => "vendor1", email => "v@vendor.com",
            deadline => "23 December 2026 (UTC)", device_onboarding => true, low_assurance => true,
            account => context!{ username => "ada", display_name => "Ada Lim", email => "ada@tech.gov.sg", state => "pending", deadline => "23 December 2026 (UTC)" },
            invitations => vec![context!{ id => "0190", email => "v@vendor.com", status => "sent", offshore => true, seed => true, sends => 1, created_at => "x", expires_at => "y", may_resend => true, may_revoke => true }],
            filter => "", filters => context!{ q => "", state => "", type => "", agency => "", after => "" },
            users => vec![context!{ id => "0190", username => "ada", display_name => "Ada", email => "a@b.gov.sg", user_type => "officer", state => "pending", platform_admin => false, deadline => "x" }],
            user => context!{ id => "0190", username => "ada", display_name => "Ada", email => "a@b.gov.sg", agency => "b.gov.sg", user_type => "vendor", state => "pending", platform_admin => false, department => "D", mobile => "+6591234567", deadline => "x", created_at => "y", device_onboarding => true, offshore => true, in_odc => false, reporting_officer => "R", reporting_officer_email => "r@b.gov.sg", company_address => "1 Road" },
            step => context!{ number => 1, of => 4 }, qr_svg => "<svg></svg>", key_text => "ABCD EFGH", uri => "otpauth://totp/x",
            mobile => "+6591234567", sent_to => "+6591234567",
            profile => context!{ given_name => "Ada", family_name => "Lim", department => "D" }, phone => context!{ current => "+6591234567", verified => true, pending => "+6598765432", value => "" }, mfa_methods => vec![context!{ id => "0190", label => "Phone", added_at => "x" }], mfa_error => "", sessions => vec![context!{ id => "sid1", current => true, created_at => "x", last_seen_at => "y", source_ip => "127.0.0.1", methods => "password" }, context!{ id => "sid2", current => false, created_at => "x", last_seen_at => "y", source_ip => "10.0.0.1", methods => "password" }], other_sessions => 1, enrolment => context!{ id => "0190", qr_svg => "<svg></svg>", key_text => "ABCD", uri => "otpauth://totp/x", label => "" },
            policy => context!{ kind => "terms", version => 2, title => "Terms of Use", html => "<p>Be nice.</p>" },
            number => 42, confirming => false, explanation => "m",
            accounts => vec![context!{ index => 0, display_name => "Ada", username => "ada", email => "a@b.gov.sg" }], another => "/signin?reauth=1",
            kinds => vec![context!{ value => "terms", title => "Terms of Use", selected => true }],
            docs => vec![context!{ kind => "Terms of Use", version => 1, title => "Terms", published_at => "x", published_by => "cli", html => "<p>x</p>" }],
            sponsor => "Ada", history => vec![context!{ at => "x", actor => "cli", action => "user.suspended", outcome => "success" }],
        };
        for name in Templates::names().filter(|n| SAMPLED.contains(n)) {
            if name == "macros.html" {
                continue;
            }
            let html = t
                .render(name, ctx.clone())
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(html.contains("</html>"), "{name} is not a whole page");
        }
        let setup = t.render("setup.html", ctx.clone()).unwrap();
        assert!(setup.contains("Taken.") && setup.contains("aria-invalid=\"true\""));
    }

    #[test]
    fn a_theme_folder_overrides_a_template() {
        let dir = tempdir();
        std::fs::write(
            dir.join("home.html"),
            "themed {{ current_user.display_name }}",
        )
        .unwrap();
        let t = Templates::new(Some(dir.clone())).unwrap();
        let out = t
            .render(
                "home.html",
                context! { current_user => context!{ display_name => "Ada" } },
            )
            .unwrap();
        assert_eq!(out, "themed Ada");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_theme_file_stops_start_up_and_unknown_pages_are_not_found() {
        let dir = tempdir();
        std::fs::write(dir.join("home.html"), "{% if %}").unwrap();
        let err = Templates::new(Some(dir.clone())).err().unwrap();
        assert!(err.contains("home.html"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
        let t = Templates::new(None).unwrap();
        assert!(t.render("no_such_page.html", context! {}).is_err());
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-theme-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
