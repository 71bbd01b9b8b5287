//! Configuration: defaults, then a TOML file (`--config`), then `TESSERA_*` variables.
//! Every error names the setting the way the operator wrote it (`TESSERA_LISTEN`, or
//! `listen` in the file), in one line.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting; `tessera.example.toml` documents each.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub issuer: String,
    pub listen: String,
    pub database_url: String,
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    pub sms_webhook_url: Option<String>,
    pub templates_dir: Option<PathBuf>,
    pub log_format: String,
    pub log_level: String,
    pub outbox_lease_seconds: u32,
    pub secret_key: Option<String>,
}

/// The keys `TESSERA_*` variables may set; other `TESSERA_*` variables are ignored (test
/// harnesses and wrappers use the prefix too).
const KEYS: &[&str] = &[
    "issuer",
    "listen",
    "database_url",
    "smtp_url",
    "smtp_from",
    "sms_webhook_url",
    "templates_dir",
    "log_format",
    "log_level",
    "outbox_lease_seconds",
    "secret_key",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".into(),
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./tessera-data/tessera.db".into(),
            smtp_url: None,
            smtp_from: "Tessera <tessera@localhost>".into(),
            sms_webhook_url: None,
            templates_dir: None,
            log_format: "text".into(),
            log_level: "info".into(),
            outbox_lease_seconds: 90,
            secret_key: None,
        }
    }
}

/// A configuration that passed every check.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: Config,
    pub listen: SocketAddr,
    pub issuer: url::Url,
    figment: Figment,
}

impl Settings {
    /// How to name `key` in a message: the variable or file key that set it.
    pub fn origin(&self, key: &str) -> String {
        origin(&self.figment, key)
    }

    pub fn delivery_mode(&self) -> String {
        match (&self.config.smtp_url, &self.config.sms_webhook_url) {
            (None, None) => "outbox only (no SMTP or SMS webhook configured)".into(),
            (Some(_), None) => "email by SMTP; SMS held in the outbox".into(),
            (None, Some(_)) => "SMS by webhook; email held in the outbox".into(),
            (Some(_), Some(_)) => "email by SMTP, SMS by webhook".into(),
        }
    }
}

fn origin(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(md) if md.name.contains("environment") => format!("TESSERA_{}", key.to_uppercase()),
        Some(md) => match &md.source {
            Some(src) => format!("{key} in {src}"),
            None => key.to_owned(),
        },
        None => key.to_owned(),
    }
}

pub fn load(file: Option<&Path>) -> Result<Settings, String> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(format!(
                "configuration file {} does not exist",
                file.display()
            ));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment.merge(Env::prefixed("TESSERA_").only(KEYS));
    let config: Config = figment.extract().map_err(|e| describe(&figment, e))?;
    validate(config, figment)
}

fn describe(figment: &Figment, e: figment::Error) -> String {
    let e = e
        .into_iter()
        .next()
        .unwrap_or_else(|| figment::Error::from("unknown error".to_string()));
    match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let place = e
                .metadata
                .as_ref()
                .and_then(|md| md.source.as_ref())
                .map(|s| format!(" in {s}"))
                .unwrap_or_default();
            format!(
                "unknown setting `{field}`{place}; see tessera.example.toml for the settings there are"
            )
        }
        kind => {
            let key = e.path.join(".");
            let name = if key.is_empty() {
                "configuration".to_owned()
            } else {
                origin(figment, &key)
            };
            format!("{name}: {kind}")
        }
    }
}

fn validate(config: Config, figment: Figment) -> Result<Settings, String> {
    let bad = |key: &str, why: String| format!("{}: {why}", origin(&figment, key));

    let issuer = url::Url::parse(&config.issuer).map_err(|e| {
        bad(
            "issuer",
            format!("not a valid URL ({e}): {:?}", config.issuer),
        )
    })?;
    if !matches!(issuer.scheme(), "http" | "https")
        || issuer.host_str().is_none()
        || issuer.query().is_some()
        || issuer.fragment().is_some()
    {
        return Err(bad(
            "issuer",
            format!(
                "must be an http(s) URL without query or fragment, e.g. https://id.example.gov.sg; got {:?}",
                config.issuer
            ),
        ));
    }
    let listen: SocketAddr = config.listen.parse().map_err(|_| {
        bad(
            "listen",
            format!(
                "must be an address and port such as 127.0.0.1:8080 or 0.0.0.0:8080; got {:?}",
                config.listen
            ),
        )
    })?;
    let db = &config.database_url;
    let db_ok = if db.starts_with("sqlite:") {
        true
    } else if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        url::Url::parse(db).is_ok_and(|u| u.host_str().is_some())
    } else {
        false
    };
    if !db_ok {
        return Err(bad(
            "database_url",
            "must be sqlite://PATH or postgres://USER@HOST:PORT/DATABASE".into(),
        ));
    }
    if let Some(smtp) = &config.smtp_url {
        let ok = url::Url::parse(smtp)
            .is_ok_and(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some());
        if !ok {
            return Err(bad(
                "smtp_url",
                format!(
                    "must be smtp://HOST:PORT or smtps://HOST:PORT; got {:?}",
                    redact_url(smtp)
                ),
            ));
        }
    }
    if let Some(sms) = &config.sms_webhook_url {
        let ok = url::Url::parse(sms)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok {
            return Err(bad(
                "sms_webhook_url",
                format!("must be an http(s) URL; got {:?}", redact_url(sms)),
            ));
        }
    }
    if !matches!(config.log_format.as_str(), "text" | "json") {
        return Err(bad(
            "log_format",
            format!("must be text or json; got {:?}", config.log_format),
        ));
    }
    if !(5..=3600).contains(&config.outbox_lease_seconds) {
        return Err(bad(
            "outbox_lease_seconds",
            format!(
                "must be between 5 and 3600; got {}",
                config.outbox_lease_seconds
            ),
        ));
    }
    if let Some(key) = &config.secret_key {
        tessera_core::secrets::SecretKeys::parse_master(key).map_err(|m| bad("secret_key", m))?;
    }
    if let Some(dir) = &config.templates_dir
        && !dir.is_dir()
    {
        return Err(bad(
            "templates_dir",
            format!("{} is not a folder", dir.display()),
        ));
    }
    Ok(Settings {
        config,
        listen,
        issuer,
        figment,
    })
}

/// A URL fit for logs: any password removed.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) if raw.contains('@') => "<unparseable URL>".into(),
        Err(_) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://tessera:s3cret@db:5432/t"),
            "postgres://tessera:***@db:5432/t"
        );
        assert_eq!(
            redact_url("sqlite://./tessera-data/tessera.db"),
            "sqlite://./tessera-data/tessera.db"
        );
    }
}
