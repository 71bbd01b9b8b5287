//! `tessera admin` commands of tenant administration: tenant admins, apps (secrets,
//! access rules), groups and access requests — the portal's tenant pages, for scripts.

use crate::admin::{explain, print_json};
use crate::cli::{AdminCommand, AppCommand, GroupCommand, TenantCommand};
use serde_json::json;
use tessera_core::App;
use tessera_core::admin::PlatformAdmin;
use tessera_core::tenants::{self, TenantAdmin, access, apps, groups};
use tessera_domain::tenancy::AccessRequestStatus;
use tessera_domain::user::User;
use tessera_domain::{AccessRequestId, DomainError};

fn print_users(users: &[User]) {
    println!("{:<24} {:<11} {:<8} EMAIL", "USERNAME", "STATE", "TYPE");
    for u in users {
        println!(
            "{:<24} {:<11} {:<8} {}",
            u.username.as_str(),
            u.state.as_str(),
            u.user_type.as_str(),
            u.email
        );
    }
}

fn user_rows(users: &[User]) -> serde_json::Value {
    json!(
        users
            .iter()
            .map(|u| json!({ "id": u.id, "username": u.username, "email": u.email, "state": u.state.as_str() }))
            .collect::<Vec<_>>()
    )
}

fn request_id(s: &str) -> Result<AccessRequestId, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not an access request id (see `tessera admin tenant requests`)")
    })
}

async fn tenant(app: &App, cap: &PlatformAdmin, slug: &str) -> Result<TenantAdmin, String> {
    TenantAdmin::by_platform(app, cap, slug)
        .await
        .map_err(explain)
}

fn done(as_json: bool, value: serde_json::Value, text: &str) -> Result<(), String> {
    if as_json {
        print_json(&value)
    } else {
        println!("{text}");
        Ok(())
    }
}

pub async fn dispatch(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    command: AdminCommand,
) -> Result<(), String> {
    match command {
        AdminCommand::Tenant(c) => tenant_command(app, cap, as_json, c).await,
        AdminCommand::App(c) => app_command(app, cap, as_json, c).await,
        AdminCommand::Group(c) => group_command(app, cap, as_json, c).await,
        _ => Err("not a tenant administration command".into()),
    }
}

async fn tenant_command(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    command: TenantCommand,
) -> Result<(), String> {
    match command {
        TenantCommand::AddAdmin { tenant, user } => {
            let u = tenants::add_admin(app, cap, &tenant, &user)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!({ "tenant": tenant, "admin": u.username }),
                &format!("{} now administers {tenant}", u.username),
            )
        }
        TenantCommand::RemoveAdmin { tenant, user } => {
            tenants::remove_admin(app, cap, &tenant, &user)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!({ "tenant": tenant, "removed": user }),
                &format!("{user} no longer administers {tenant}"),
            )
        }
        TenantCommand::Admins { tenant: slug } => {
            let t = tenant(app, cap, &slug).await?;
            let admins = tenants::admins(app, &t).await.map_err(explain)?;
            if as_json {
                return print_json(&user_rows(&admins));
            }
            print_users(&admins);
            Ok(())
        }
        TenantCommand::Requests {
            tenant: slug,
            status,
        } => {
            let status = AccessRequestStatus::parse(&status)
                .ok_or("--status: use pending, approved or rejected")?;
            let t = tenant(app, cap, &slug).await?;
            let requests = access::list(app, &t, Some(status)).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(requests));
            }
            println!("{:<36}  {:<9} {:<36}  USER", "ID", "STATUS", "APP");
            for r in requests {
                println!(
                    "{}  {:<9} {}  {}",
                    r.id,
                    r.status.as_str(),
                    r.app_id,
                    r.user_id
                );
            }
            Ok(())
        }
        TenantCommand::Approve {
            tenant: slug,
            request,
        } => decide(app, cap, as_json, &slug, &request, true).await,
        TenantCommand::Reject {
            tenant: slug,
            request,
        } => decide(app, cap, as_json, &slug, &request, false).await,
        TenantCommand::Create { .. } | TenantCommand::List => {
            Err("handled by the admin dispatcher".into())
        }
    }
}

async fn decide(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    slug: &str,
    request: &str,
    approve: bool,
) -> Result<(), String> {
    let t = tenant(app, cap, slug).await?;
    let r = access::decide(app, &t, request_id(request)?, approve, None)
        .await
        .map_err(explain)?;
    done(
        as_json,
        json!(r),
        &format!("request {} {}", r.id, r.status.as_str()),
    )
}

async fn app_command(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    command: AppCommand,
) -> Result<(), String> {
    match command {
        AppCommand::List { tenant: Some(slug) } => {
            let t = tenant(app, cap, &slug).await?;
            let list = apps::list(app, &t).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(list));
            }
            for a in list {
                println!("{:<24} {:<13} {}", a.client_id, a.kind.as_str(), a.name);
            }
            Ok(())
        }
        AppCommand::Show {
            tenant: slug,
            app: key,
        } => {
            let t = tenant(app, cap, &slug).await?;
            let client = apps::get(app, &t, &key).await.map_err(explain)?;
            let secrets = apps::secrets(app, &t, &key).await.map_err(explain)?;
            if as_json {
                return print_json(&json!({ "app": client, "secrets": secrets }));
            }
            println!("client_id:    {}", client.client_id);
            println!("name:         {}", client.name);
            println!("kind:         {}", client.kind.as_str());
            println!("redirect_uris: {}", client.redirect_uris.join(" "));
            println!(
                "access:       {}",
                serde_json::to_string(&client.access).map_err(|e| e.to_string())?
            );
            for s in secrets {
                let until = s
                    .expires_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "no expiry".into());
                println!(
                    "secret {:<6} created {}  expires {until}",
                    s.id, s.created_at
                );
            }
            Ok(())
        }
        AppCommand::Delete {
            tenant: slug,
            app: key,
        } => {
            let t = tenant(app, cap, &slug).await?;
            apps::delete(app, &t, &key).await.map_err(explain)?;
            done(
                as_json,
                json!({ "deleted": key }),
                &format!("deleted app {key}"),
            )
        }
        AppCommand::AddSecret {
            tenant: slug,
            app: key,
        } => new_secret(app, cap, as_json, &slug, &key, None).await,
        AppCommand::RotateSecret {
            tenant: slug,
            app: key,
            overlap_seconds,
        } => {
            new_secret(
                app,
                cap,
                as_json,
                &slug,
                &key,
                Some(time::Duration::seconds(overlap_seconds)),
            )
            .await
        }
        AppCommand::RevokeSecret {
            tenant: slug,
            app: key,
            secret,
        } => {
            let t = tenant(app, cap, &slug).await?;
            apps::revoke_secret(app, &t, &key, secret)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!({ "revoked": secret }),
                &format!("revoked secret {secret}"),
            )
        }
        AppCommand::Access {
            tenant: slug,
            app: key,
            listed_only,
            users,
            groups,
            user_types,
            no_offshore,
            require_phishing_resistant,
        } => {
            let t = tenant(app, cap, &slug).await?;
            let edit = apps::AccessEdit {
                listed_only,
                users,
                groups,
                user_types,
                offshore_allowed: !no_offshore,
                require_phishing_resistant,
            };
            let client = apps::set_access(app, &t, &key, edit)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!({ "access": client.access, "require_phishing_resistant": client.require_phishing_resistant }),
                &format!("access rules of {} set", client.client_id),
            )
        }
        AppCommand::Create { .. } | AppCommand::List { tenant: None } => {
            Err("handled by the admin dispatcher".into())
        }
    }
}

async fn new_secret(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    slug: &str,
    key: &str,
    overlap: Option<time::Duration>,
) -> Result<(), String> {
    let t = tenant(app, cap, slug).await?;
    let (info, secret) = apps::new_secret(app, &t, key, overlap)
        .await
        .map_err(explain)?;
    if as_json {
        return print_json(&json!({ "id": info.id, "client_secret": secret }));
    }
    println!("client_secret: {secret}\n(shown once: store it now; Tessera keeps only a hash)");
    Ok(())
}

async fn group_command(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    command: GroupCommand,
) -> Result<(), String> {
    match command {
        GroupCommand::Create {
            tenant: slug,
            name,
            description,
        } => {
            let t = tenant(app, cap, &slug).await?;
            let g = groups::create(app, &t, &name, &description)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!(g),
                &format!("created group {} ({})", g.name, g.id),
            )
        }
        GroupCommand::List { tenant: slug } => {
            let t = tenant(app, cap, &slug).await?;
            let list = groups::list(app, &t).await.map_err(explain)?;
            if as_json {
                return print_json(&json!(list));
            }
            for g in list {
                println!("{}  {}", g.id, g.name);
            }
            Ok(())
        }
        GroupCommand::Delete {
            tenant: slug,
            group,
        } => {
            let t = tenant(app, cap, &slug).await?;
            groups::delete(app, &t, &group).await.map_err(explain)?;
            done(
                as_json,
                json!({ "deleted": group }),
                &format!("deleted group {group}"),
            )
        }
        GroupCommand::Members {
            tenant: slug,
            group,
        } => {
            let t = tenant(app, cap, &slug).await?;
            let members = groups::members(app, &t, &group).await.map_err(explain)?;
            if as_json {
                return print_json(&user_rows(&members));
            }
            print_users(&members);
            Ok(())
        }
        GroupCommand::AddMember {
            tenant: slug,
            group,
            user,
        } => {
            let t = tenant(app, cap, &slug).await?;
            let u = groups::add_member(app, &t, &group, &user)
                .await
                .map_err(explain)?;
            done(
                as_json,
                json!({ "group": group, "added": u.username }),
                &format!("{} is in {group}", u.username),
            )
        }
        GroupCommand::RemoveMember {
            tenant: slug,
            group,
            user,
        } => {
            let t = tenant(app, cap, &slug).await?;
            groups::remove_member(app, &t, &group, &user)
                .await
                .map_err(|e| match e {
                    tessera_core::CoreError::Domain(DomainError::NotFound(_)) => {
                        format!("{user} is not in {group}")
                    }
                    other => explain(other),
                })?;
            done(
                as_json,
                json!({ "group": group, "removed": user }),
                &format!("{user} left {group}"),
            )
        }
    }
}
