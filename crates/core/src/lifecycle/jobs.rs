//! Background jobs of the lifecycle: expire invitations, remind pending users before their
//! activation deadline, terminate those past it. Every change is a compare-and-set in its
//! own transaction, so several nodes may run the jobs at once and each change (and its
//! email) happens exactly once.

use super::provision::human_date;
use crate::{App, CoreError};
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::invitation::{Invitation, InvitationStatus};
use tessera_domain::lifecycle::LifecycleSettings;
use tessera_domain::outbox::NewMessage;
use tessera_domain::user::{User, UserState};
use time::{Duration, OffsetDateTime};

/// How much one pass did (for logs and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobReport {
    pub invitations_expired: u32,
    pub reminders_sent: u32,
    pub accounts_terminated: u32,
}

impl JobReport {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

const BATCH: u32 = 200;

/// One pass of every job, up to a batch of each.
pub async fn run_due(app: &App) -> Result<JobReport, CoreError> {
    let now = app.clock.now();
    let settings = super::settings::current(app).await?;
    let mut report = JobReport::default();
    let due = app
        .db
        .read()
        .await?
        .invitations_past_expiry(now, BATCH)
        .await?;
    for invitation in due {
        if expire_invitation(app, invitation, now).await? {
            report.invitations_expired += 1;
        }
    }
    let horizon = now
        + Duration::days(
            settings
                .reminder_days_before
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .into(),
        );
    let pending = app
        .db
        .read()
        .await?
        .pending_users_due(horizon, BATCH)
        .await?;
    for user in pending {
        let Some(deadline) = user.activation_deadline else {
            continue;
        };
        if deadline <= now {
            if terminate_at_deadline(app, user, now).await? {
                report.accounts_terminated += 1;
            }
        } else if remind(app, &settings, user, deadline, now).await? {
            report.reminders_sent += 1;
        }
    }
    Ok(report)
}

async fn expire_invitation(
    app: &App,
    invitation: Invitation,
    now: OffsetDateTime,
) -> Result<bool, CoreError> {
    let mut tx = app.db.begin().await?;
    let expired = Invitation {
        status: InvitationStatus::Expired,
        updated_at: now,
        ..invitation
    };
    if !tx.update_invitation(&expired).await? {
        return Ok(false);
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::System, "invitation.expired", Outcome::Success)
            .target(format!("invitation:{}", expired.id))
            .detail(serde_json::json!({ "email": expired.email.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Which reminder stage applies `left` before the deadline: the number of scheduled
/// reminders whose day has come.
fn reminder_stage(settings: &LifecycleSettings, left: Duration) -> u32 {
    let reached = settings
        .reminder_days_before
        .iter()
        .filter(|d| left <= Duration::days(i64::from(**d)))
        .count();
    u32::try_from(reached).unwrap_or(u32::MAX)
}

async fn remind(
    app: &App,
    settings: &LifecycleSettings,
    user: User,
    deadline: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, CoreError> {
    let stage = reminder_stage(settings, deadline - now);
    if stage <= user.reminders_sent {
        return Ok(false);
    }
    let mut tx = app.db.begin().await?;
    let reminded = User {
        reminders_sent: stage,
        updated_at: now,
        ..user
    };
    if !tx.update_user(&reminded).await? {
        return Ok(false);
    }
    let days = (deadline - now).whole_days().max(1);
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            reminded.email.as_str(),
            "Activate your Tessera account",
            format!(
                "Hello {},\n\nYour Tessera account {} is not activated yet. Activate it by {} \
                 ({} day{} left) by signing in with your username and the initial password \
                 sent to you by SMS:\n{}\n\nAfter that date the account is terminated.\n",
                reminded.given_name,
                reminded.username,
                human_date(deadline),
                days,
                if days == 1 { "" } else { "s" },
                app.settings.link("/signin"),
            ),
        ),
    )
    .await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(
            now,
            &Actor::System,
            "user.activation_reminder",
            Outcome::Success,
        )
        .target(format!("user:{}", reminded.id))
        .detail(serde_json::json!({ "stage": stage, "deadline": deadline.unix_timestamp() })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn terminate_at_deadline(
    app: &App,
    user: User,
    now: OffsetDateTime,
) -> Result<bool, CoreError> {
    let mut tx = app.db.begin().await?;
    let terminated = User {
        state: UserState::Terminated,
        updated_at: now,
        ..user
    };
    if !tx.update_user(&terminated).await? {
        return Ok(false);
    }
    tx.delete_sessions_of_user(terminated.id).await?;
    app.queue(
        tx.as_mut(),
        NewMessage::email(
            terminated.email.as_str(),
            "Your Tessera account was terminated",
            format!(
                "Hello {},\n\nYour Tessera account {} was not activated by its deadline and has \
                 been terminated. To get access again, ask your sponsor for a new invitation, \
                 or register again if you are a public officer.\n",
                terminated.given_name, terminated.username,
            ),
        ),
    )
    .await?;
    if let Some(sponsor_id) = terminated.sponsor
        && let Some(sponsor) = tx.user_by_id(sponsor_id).await?
    {
        app.queue(
            tx.as_mut(),
            NewMessage::email(
                sponsor.email.as_str(),
                format!("Tessera account {} was terminated", terminated.username),
                format!(
                    "Hello {},\n\nThe Tessera account {} of {} ({}), whom you sponsored, was not \
                     activated by its deadline and has been terminated. Send a new invitation if \
                     they still need access.\n",
                    sponsor.given_name,
                    terminated.username,
                    terminated.display_name(),
                    terminated.email,
                ),
            ),
        )
        .await?;
    }
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, &Actor::System, "user.terminated", Outcome::Success)
            .target(format!("user:{}", terminated.id))
            .detail(serde_json::json!({ "reason": "activation_deadline" })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_stages_count_the_days_reached() {
        let s = LifecycleSettings::default();
        assert_eq!(reminder_stage(&s, Duration::days(10)), 0);
        assert_eq!(reminder_stage(&s, Duration::days(7)), 1);
        assert_eq!(reminder_stage(&s, Duration::hours(30)), 1);
        assert_eq!(reminder_stage(&s, Duration::hours(20)), 2);
    }
}
