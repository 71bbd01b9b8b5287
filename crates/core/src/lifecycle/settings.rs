//! Reading and changing the lifecycle settings (agency domains, no-inbox patterns, windows).

use crate::admin::PlatformAdmin;
use crate::{App, CoreError};
use tessera_domain::DomainError;
use tessera_domain::audit::{AuditEvent, Outcome};
use tessera_domain::lifecycle::LifecycleSettings;
use tessera_store::Tx;

/// The stored settings, or the defaults when an administrator never saved any.
pub async fn load(tx: &mut dyn Tx) -> Result<LifecycleSettings, CoreError> {
    match tx.setting(LifecycleSettings::KEY).await? {
        None => Ok(LifecycleSettings::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            CoreError::Internal(format!("stored lifecycle settings do not parse: {e}"))
        }),
    }
}

pub async fn current(app: &App) -> Result<LifecycleSettings, CoreError> {
    load(app.db.read().await?.as_mut()).await
}

/// Validates and stores new settings; one audit event records old and new values.
pub async fn save(
    app: &App,
    admin: &PlatformAdmin,
    new: LifecycleSettings,
    source_ip: Option<String>,
) -> Result<LifecycleSettings, CoreError> {
    let new = new.normalise();
    let errors = new.validate();
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors).into());
    }
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let old = load(tx.as_mut()).await?;
    let json = serde_json::to_string(&new)
        .map_err(|e| CoreError::Internal(format!("settings do not serialise: {e}")))?;
    tx.put_setting(LifecycleSettings::KEY, &json, now).await?;
    app.audit(
        tx.as_mut(),
        AuditEvent::new(now, admin.actor(), "settings.lifecycle", Outcome::Success)
            .source_ip(source_ip)
            .detail(serde_json::json!({ "before": old, "after": new })),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}
