//! `tessera admin` commands of the account lifecycle: invite, invitations, settings, user
//! actions and the lifecycle jobs.

use crate::admin::{explain, print_json};
use crate::cli::{AdminCommand, InvitationCommand, JobsCommand, SettingsCommand, UserCommand};
use serde_json::json;
use tessera_core::App;
use tessera_core::admin::{PlatformAdmin, find_user};
use tessera_core::lifecycle::accounts::{self, UserFilter};
use tessera_core::lifecycle::invitations::{self, InvitationRequest, Sponsor};
use tessera_core::lifecycle::{jobs, settings};
use tessera_domain::invitation::{Invitation, InvitationStatus};
use tessera_domain::lifecycle::parse_patterns;
use tessera_domain::user::User;
use tessera_domain::{DomainError, InvitationId};

fn print_invitation(i: &Invitation, now: time::OffsetDateTime) {
    println!(
        "{}  {:<10} {:<40} expires {}",
        i.id,
        i.status_at(now).as_str(),
        i.email.as_str(),
        i.expires_at
    );
}

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

fn invitation_id(s: &str) -> Result<InvitationId, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an invitation id (see `tessera admin invitation list`)"))
}

pub async fn dispatch(
    app: &App,
    cap: &PlatformAdmin,
    as_json: bool,
    command: AdminCommand,
) -> Result<(), String> {
    let now = app.clock.now();
    match command {
        AdminCommand::Invite {
            email,
            sponsor,
            offshore,
            odc,
            seed,
        } => {
            let sponsor = Sponsor::named_at_cli(app, &sponsor)
                .await
                .map_err(explain)?;
            let request = InvitationRequest {
                email,
                offshore,
                odc,
                seed,
            };
            let i = invitations::invite(app, &sponsor, &request, None)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(i));
            }
            println!(
                "invited {} (invitation {}); the link is in the email (see `tessera admin outbox list`)",
                i.email, i.id
            );
            Ok(())
        }
        AdminCommand::Invitation(InvitationCommand::List { status, limit }) => {
            let status = match status.as_deref() {
                None => None,
                Some(s) => Some(InvitationStatus::parse(s).ok_or_else(|| {
                    "--status: use sent, registered, expired or revoked".to_string()
                })?),
            };
            let admin_sponsor = sponsor_for_operator();
            let list = invitations::list(app, &admin_sponsor, status, None, limit)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(list));
            }
            for i in &list {
                print_invitation(i, now);
            }
            Ok(())
        }
        AdminCommand::Invitation(InvitationCommand::Resend { id }) => {
            let i = invitations::resend(app, &sponsor_for_operator(), invitation_id(&id)?, None)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(i));
            }
            print_invitation(&i, now);
            Ok(())
        }
        AdminCommand::Invitation(InvitationCommand::Revoke { id }) => {
            let i = invitations::revoke(app, &sponsor_for_operator(), invitation_id(&id)?, None)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(i));
            }
            print_invitation(&i, now);
            Ok(())
        }
        AdminCommand::Settings(SettingsCommand::Show) => {
            let s = settings::current(app).await.map_err(explain)?;
            print_json(&json!(s))
        }
        AdminCommand::Settings(SettingsCommand::Set {
            agency_domains,
            no_inbox,
            invitation_validity_days,
            activation_window_days,
            seed_invitation_validity_days,
            reminder_days_before,
        }) => {
            let mut s = settings::current(app).await.map_err(explain)?;
            if let Some(v) = agency_domains {
                s.agency_domains =
                    parse_patterns(&v).map_err(|m| format!("--agency-domains: {m}"))?;
            }
            if let Some(v) = no_inbox {
                s.no_inbox = parse_patterns(&v).map_err(|m| format!("--no-inbox: {m}"))?;
            }
            if let Some(v) = invitation_validity_days {
                s.invitation_validity_days = v;
            }
            if let Some(v) = activation_window_days {
                s.activation_window_days = v;
            }
            if let Some(v) = seed_invitation_validity_days {
                s.seed_invitation_validity_days = v;
            }
            if let Some(v) = reminder_days_before {
                s.reminder_days_before = v
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        d.parse::<u32>().map_err(|_| {
                            format!("--reminder-days-before: {d:?} is not a number of days")
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            let saved = settings::save(app, cap, s, None).await.map_err(explain)?;
            print_json(&json!(saved))
        }
        AdminCommand::Jobs(JobsCommand::Run) => {
            let r = jobs::run_due(app).await.map_err(explain)?;
            if as_json {
                return print_json(&json!({
                    "invitations_expired": r.invitations_expired,
                    "reminders_sent": r.reminders_sent,
                    "accounts_terminated": r.accounts_terminated,
                }));
            }
            println!(
                "invitations expired: {}, reminders sent: {}, accounts terminated: {}",
                r.invitations_expired, r.reminders_sent, r.accounts_terminated
            );
            Ok(())
        }
        AdminCommand::User(UserCommand::Search {
            text,
            state,
            user_type,
            agency,
            limit,
        }) => {
            let filter = UserFilter {
                text,
                state,
                user_type,
                agency,
                after: String::new(),
            };
            let users = accounts::search(app, cap, &filter, limit)
                .await
                .map_err(explain)?;
            if as_json {
                return print_json(&json!(users));
            }
            print_users(&users);
            Ok(())
        }
        AdminCommand::User(action) => {
            let (key, result) = match action {
                UserCommand::ResendOnboarding { user } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (user, accounts::resend_onboarding(app, cap, id, None).await)
                }
                UserCommand::ExtendDeadline { user, days } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (
                        user,
                        accounts::extend_deadline(app, cap, id, days, None).await,
                    )
                }
                UserCommand::Suspend { user } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (user, accounts::suspend(app, cap, id, None).await)
                }
                UserCommand::Reactivate { user } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (user, accounts::reactivate(app, cap, id, None).await)
                }
                UserCommand::ResetMfa { user } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (user, accounts::reset_mfa(app, cap, id, None).await)
                }
                UserCommand::Terminate { user } => {
                    let id = find_user(app, cap, &user).await.map_err(explain)?.id;
                    (user, accounts::terminate(app, cap, id, None).await)
                }
                other => return Err(format!("not a lifecycle command: {other:?}")),
            };
            let u = result.map_err(explain)?;
            if as_json {
                return print_json(&json!(u));
            }
            println!("{key}: {}", u.state.as_str());
            Ok(())
        }
        other => Err(explain(
            DomainError::InvalidState(format!("not a lifecycle command: {other:?}")).into(),
        )),
    }
}

/// The operator at the command line manages every invitation, like an administrator.
fn sponsor_for_operator() -> Sponsor {
    Sponsor::operator_at_cli()
}
