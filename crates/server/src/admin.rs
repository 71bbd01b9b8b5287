//! `tessera admin …`: the operator's commands, each with text or `--json` output.

use crate::cli::{
    AdminArgs, AdminCommand, AppCommand, AuditCommand, KeysCommand, OutboxCommand, TenantCommand,
    UserCommand,
};
use crate::config::Settings;
use crate::runtime::{build_app, init_logging, open_database, require_current_schema};
use serde_json::json;
use std::io::Read;
use tessera_core::admin::{self, PlatformAdmin};
use tessera_core::audit::{self as audit_flow, Verification};
use tessera_core::oidc::clients::{self, NewApp};
use tessera_core::oidc::keys;
use tessera_core::setup::{AdminForm, bootstrap_admin};
use tessera_core::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::ChainBreak;
use zeroize::Zeroizing;

pub async fn run(settings: Settings, args: AdminArgs) -> Result<(), String> {
    init_logging(&settings.config.log_format, "warn", false);
    let db = open_database(&settings).await?;
    require_current_schema(db.as_ref()).await?;
    let app = build_app(&settings, db.clone())?;
    let result = dispatch(&app, args.json, args.command).await;
    db.close().await;
    result
}

pub(crate) fn explain(e: CoreError) -> String {
    match e {
        CoreError::Domain(DomainError::Invalid(errors)) => errors
            .iter()
            .map(|(f, m)| format!("--{}: {m}", f.replace('_', "-")))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

pub(crate) fn print_json(value: &serde_json::Value) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn dispatch(app: &App, as_json: bool, command: AdminCommand) -> Result<(), String> {
    let cap = PlatformAdmin::operator_at_cli();
    match command {
        AdminCommand::Bootstrap {
            username,
            email,
            given_name,
            family_name,
            mobile,
            password_stdin: _,
        } => {
            let mut password = Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            let password = Zeroizing::new(password.trim_end_matches(['\r', '\n']).to_owned());
            let form = AdminForm {
                username,
                given_name,
                family_name,
                email,
                mobile,
                password: password.to_string(),
                password_confirm: password.to_string(),
            };
            let user = bootstrap_admin(app, &form).await.map_err(explain)?;
            if as_json {
                print_json(&json!({ "id": user.id, "username": user.username }))
            } else {
                println!(
                    "created platform administrator {} ({})",
                    user.username, user.id
                );
                Ok(())
            }
        }
        AdminCommand::Tenant(TenantCommand::Create { slug, name }) => {
            let tenant = admin::create_tenant(app, &cap, &slug, &name)
                .await
                .map_err(explain)?;
            if as_json {
                print_json(&json!(tenant))
            } else {
                println!("created tenant {} ({})", tenant.slug, tenant.id);
                Ok(())
            }
        }
        AdminCommand::Tenant(TenantCommand::List) => {
            let tenants = admin::list_tenants(app, &cap).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(tenants));
            }
            println!("{:<24} {:<40} ID", "SLUG", "NAME");
            for t in tenants {
                println!("{:<24} {:<40} {}", t.slug, t.display_name, t.id);
            }
            Ok(())
        }
        AdminCommand::Group(_)
        | AdminCommand::App(
            AppCommand::List { tenant: Some(_) }
            | AppCommand::Show { .. }
            | AppCommand::Delete { .. }
            | AppCommand::AddSecret { .. }
            | AppCommand::RotateSecret { .. }
            | AppCommand::RevokeSecret { .. }
            | AppCommand::Access { .. },
        )
        | AdminCommand::Tenant(
            TenantCommand::AddAdmin { .. }
            | TenantCommand::RemoveAdmin { .. }
            | TenantCommand::Admins { .. }
            | TenantCommand::Requests { .. }
            | TenantCommand::Approve { .. }
            | TenantCommand::Reject { .. },
        ) => crate::admin_tenants::dispatch(app, &cap, as_json, command).await,
        AdminCommand::Invite { .. }
        | AdminCommand::Invitation(_)
        | AdminCommand::Settings(_)
        | AdminCommand::Jobs(_)
        | AdminCommand::User(
            UserCommand::Search { .. }
            | UserCommand::ResendOnboarding { .. }
            | UserCommand::ExtendDeadline { .. }
            | UserCommand::Suspend { .. }
            | UserCommand::Reactivate { .. }
            | UserCommand::Terminate { .. }
            | UserCommand::ResetMfa { .. },
        ) => crate::admin_lifecycle::dispatch(app, &cap, as_json, command).await,
        AdminCommand::User(UserCommand::List { after, limit }) => {
            let users = admin::list_users(app, &cap, after.as_deref(), limit)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(users));
            }
            println!(
                "{:<24} {:<11} {:<8} {:<6} EMAIL",
                "USERNAME", "STATE", "TYPE", "ADMIN"
            );
            for u in users {
                println!(
                    "{:<24} {:<11} {:<8} {:<6} {}",
                    u.username.as_str(),
                    u.state.as_str(),
                    u.user_type.as_str(),
                    if u.platform_admin { "yes" } else { "no" },
                    u.email
                );
            }
            Ok(())
        }
        AdminCommand::User(UserCommand::Show { user }) => {
            let u = admin::find_user(app, &cap, &user).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(u));
            }
            println!("id:         {}", u.id);
            println!("username:   {}", u.username);
            println!("name:       {}", u.display_name());
            println!("email:      {}", u.email);
            println!(
                "mobile:     {}",
                u.mobile.as_ref().map(|m| m.as_str()).unwrap_or("-")
            );
            println!("department: {}", u.department);
            println!("type:       {}", u.user_type.as_str());
            println!("state:      {}", u.state.as_str());
            println!("admin:      {}", u.platform_admin);
            Ok(())
        }
        AdminCommand::Audit(AuditCommand::List { limit, before }) => {
            let records = audit_flow::newest(app, &cap, before, limit)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(records));
            }
            for r in records {
                println!(
                    "{:>6}  {}  {:<10} {:<24} {:<28} {}",
                    r.seq,
                    r.event.at,
                    r.event.outcome.as_str(),
                    r.event.action,
                    r.event.actor,
                    r.event.target.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        AdminCommand::Audit(AuditCommand::Verify) => {
            match audit_flow::verify_chain(app, &cap).await.map_err(explain)? {
                Verification::Intact { events } => {
                    if as_json {
                        print_json(&json!({ "ok": true, "events": events }))
                    } else {
                        println!("audit log intact: {events} events verified");
                        Ok(())
                    }
                }
                Verification::Broken(b) => {
                    let (seq, what) = match b {
                        ChainBreak::Altered { seq } => {
                            (seq, "was altered after it was written".to_owned())
                        }
                        ChainBreak::Broken { seq, expected_seq } => (
                            seq,
                            format!(
                                "does not follow the row before it (expected row {expected_seq}): a row was removed or inserted"
                            ),
                        ),
                    };
                    if as_json {
                        print_json(&json!({ "ok": false, "seq": seq, "problem": what }))?;
                    }
                    Err(format!("audit log verification failed: row {seq} {what}"))
                }
            }
        }
        AdminCommand::App(AppCommand::Create {
            tenant,
            name,
            redirect_uris,
            public,
            grants,
            scopes,
            id_token_alg,
            require_par,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            jwks_file,
            jwks_uri,
            consent_required,
            resources,
            require_phishing_resistant,
            description,
        }) => {
            let jwks = match jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let new = NewApp {
                tenant,
                name,
                redirect_uris,
                public,
                grant_types: grants,
                scopes,
                id_token_alg,
                require_par,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                jwks,
                jwks_uri,
                consent_required,
                resources,
                require_phishing_resistant,
                description,
                ..NewApp::default()
            };
            let created = clients::create_app(app, &cap, new).await.map_err(explain)?;
            let c = &created.client;
            if as_json {
                return print_json(&json!({
                    "client_id": c.client_id,
                    "client_secret": created.secret,
                    "name": c.name,
                    "kind": c.kind,
                    "redirect_uris": c.redirect_uris,
                    "grant_types": c.grant_types,
                    "scopes": c.allowed_scopes,
                }));
            }
            println!("client_id:     {}", c.client_id);
            if let Some(s) = &created.secret {
                println!(
                    "client_secret: {s}\n(shown once: store it now; Tessera keeps only a hash)"
                );
            }
            Ok(())
        }
        AdminCommand::App(AppCommand::List { tenant: None }) => {
            let apps = clients::list_apps(app, &cap).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(apps));
            }
            for a in apps {
                println!("{:<24} {:<13} {}", a.client_id, a.kind.as_str(), a.name);
            }
            Ok(())
        }
        AdminCommand::Keys(KeysCommand::List) => {
            let set = keys::current(app).await.map_err(explain)?;
            if as_json {
                let rows: Vec<_> = set
                    .records
                    .iter()
                    .map(|k| {
                        json!({
                            "kid": k.kid,
                            "alg": k.alg.as_str(),
                            "created_at": k.created_at.unix_timestamp(),
                            "signing": k.retired_at.is_none(),
                            "published_until": k.expires_at.map(|t| t.unix_timestamp()),
                        })
                    })
                    .collect();
                return print_json(&json!(rows));
            }
            for k in &set.records {
                let status = match k.expires_at {
                    None => "signing".to_owned(),
                    Some(t) => format!("retired; published until {t}"),
                };
                println!("{:<24} {:<6} {status}", k.kid, k.alg.as_str());
            }
            Ok(())
        }
        AdminCommand::Keys(KeysCommand::Rotate) => {
            let kids = keys::rotate(app, cap.actor()).await.map_err(explain)?;
            if as_json {
                print_json(&json!({ "new_kids": kids }))
            } else {
                println!("new signing keys: {}", kids.join(", "));
                Ok(())
            }
        }
        AdminCommand::Outbox(OutboxCommand::Test { to }) => {
            let id = admin::send_test_email(app, &cap, &to, None)
                .await
                .map_err(explain)?;
            if as_json {
                print_json(&json!({ "id": id }))
            } else {
                println!("queued test email {id} to {to}");
                Ok(())
            }
        }
        AdminCommand::Outbox(OutboxCommand::List { limit }) => {
            let messages = admin::list_outbox(app, &cap, None, limit)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(messages));
            }
            for m in messages {
                println!(
                    "{}  {:<5} {:<9} {:>2}  {:<32} {}",
                    m.id,
                    m.channel.as_str(),
                    m.status.as_str(),
                    m.attempts,
                    m.recipient,
                    m.subject
                );
            }
            Ok(())
        }
    }
}
