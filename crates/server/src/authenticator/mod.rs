//! `tessera authenticator`: the reference push authenticator. It enrolls a device key
//! with an enrolment link, lists pending sign-in challenges and answers them with the
//! number the browser shows, signing each request as a mobile app would.

mod client;
mod key;
mod keyfile;
mod uri;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use client::{Challenge, Client, Error};
use key::DeviceKey;
use keyfile::{Device, KeyFile};
use reqwest::StatusCode;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tessera_domain::push::DeviceKeyAlg;
use tessera_domain::{Clock, PushChallengeId, SystemClock};

#[derive(Args, Debug)]
pub struct AuthenticatorArgs {
    /// The key file [default: $TESSERA_AUTHENTICATOR_FILE, else ./tessera-authenticator.json].
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AuthenticatorCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuthenticatorCommand {
    /// Register this device with the enrolment link Tessera shows (as a QR code and as
    /// text): generates a key pair and writes it to the key file (mode 0600).
    Enroll {
        /// tessera-push://enroll?server=…&token=…
        uri: String,
        /// The device's name, shown in the account's list of authenticators.
        #[arg(long)]
        name: Option<String>,
        /// The key algorithm.
        #[arg(long, default_value = "ES256", value_parser = ["ES256", "EdDSA"])]
        alg: String,
        /// Replace an existing key file.
        #[arg(long)]
        force: bool,
    },
    /// Pending sign-in challenges, oldest first.
    List,
    /// Answer a sign-in challenge (the oldest pending one unless --challenge): approve
    /// with the number the browser shows, or deny.
    Approve {
        /// The number shown in the browser; asked for on standard input if not given.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=99))]
        number: Option<u8>,
        /// Deny the sign-in.
        #[arg(long, conflicts_with_all = ["number", "report"])]
        deny: bool,
        /// Deny and report it: you did not start this sign-in.
        #[arg(long, conflicts_with = "number")]
        report: bool,
        /// The challenge to answer (its id, from `list`).
        #[arg(long, value_name = "ID")]
        challenge: Option<String>,
        /// Wait up to this many seconds for a challenge to arrive.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
}

pub async fn run(args: AuthenticatorArgs) -> Result<(), String> {
    let path = keyfile::resolve(args.key_file);
    match args.command {
        AuthenticatorCommand::Enroll {
            uri,
            name,
            alg,
            force,
        } => enroll(&path, &uri, name, &alg, force, args.json).await,
        AuthenticatorCommand::List => list(&path, args.json).await,
        AuthenticatorCommand::Approve {
            number,
            deny,
            report,
            challenge,
            wait,
        } => {
            let decision = if report {
                Decision::Report
            } else if deny {
                Decision::Deny
            } else {
                Decision::Approve(number)
            };
            approve(&path, decision, challenge.as_deref(), wait, args.json).await
        }
    }
}

async fn enroll(
    path: &Path,
    uri: &str,
    name: Option<String>,
    alg: &str,
    force: bool,
    json: bool,
) -> Result<(), String> {
    let enrolment = uri::parse(uri)?;
    let alg = DeviceKeyAlg::parse(alg).ok_or_else(|| format!("unknown algorithm {alg}"))?;
    let name = name.unwrap_or_else(default_name);
    let name = name.trim();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    // Checked before the one-time token is spent.
    keyfile::check_can_write(path, force)?;
    let (key, pkcs8) = DeviceKey::generate(alg)?;
    let client = Client::new(&enrolment.server)?;
    let registered = client
        .register(&enrolment.token, name, alg.as_str(), &key.public_key())
        .await
        .map_err(|e| match e {
            Error::Refused(r) if r.status == StatusCode::GONE => format!(
                "enrolment refused: the link was already used or has expired ({}); ask for a \
                 new one",
                r.message
            ),
            e => e.line("enrolment"),
        })?;
    let contents = KeyFile {
        server: enrolment.server.clone(),
        device_id: registered.device_id.clone(),
        username: registered.username.clone(),
        issuer: registered.issuer.clone(),
        name: name.to_owned(),
        alg: key.alg().as_str().to_owned(),
        private_key: URL_SAFE_NO_PAD.encode(&*pkcs8),
    };
    keyfile::save(path, &contents, force).map_err(|e| {
        format!(
            "{e}; device {} was registered but its key is lost: remove it from the account \
             and enrol again",
            registered.device_id
        )
    })?;
    if json {
        print_json(&serde_json::json!({
            "device_id": registered.device_id,
            "username": registered.username,
            "issuer": registered.issuer,
            "server": enrolment.server,
            "alg": alg.as_str(),
            "key_file": path.display().to_string(),
        }))
    } else {
        println!(
            "enrolled device {} for {} at {}",
            registered.device_id, registered.username, enrolment.server
        );
        println!("key written to {} (mode 0600)", path.display());
        Ok(())
    }
}

fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("tessera authenticator on {host}"),
        None => "tessera authenticator".to_owned(),
    }
}

fn open(path: &Path) -> Result<(Device, Client), String> {
    let device = keyfile::load(path)?.device(path)?;
    let client = Client::new(&uri::check_server(&device.file.server)?)?;
    Ok((device, client))
}

async fn fetch(client: &Client, device: &Device) -> Result<Vec<Challenge>, String> {
    let now = Clock::now(&SystemClock).unix_timestamp();
    client.challenges(device, now).await.map_err(|e| match e {
        Error::Refused(r) if r.status == StatusCode::UNAUTHORIZED => format!(
            "the server did not accept device {} ({}): it may have been removed, or this \
             machine's clock is off",
            device.id, r.message
        ),
        e => e.line("listing challenges"),
    })
}

async fn list(path: &Path, json: bool) -> Result<(), String> {
    let (device, client) = open(path)?;
    let challenges = fetch(&client, &device).await?;
    if json {
        return print_json(&serde_json::json!({ "challenges": challenges }));
    }
    if challenges.is_empty() {
        println!("no pending sign-in challenges");
    }
    for c in &challenges {
        println!("{}", describe(c));
    }
    Ok(())
}

/// One line: id, app, source IP, expiry.
fn describe(c: &Challenge) -> String {
    format!(
        "{}  {}  from {}  expires {}{}",
        c.id,
        c.app_name,
        c.source_ip.as_deref().unwrap_or("unknown address"),
        c.expires_at,
        seconds_left(&c.expires_at)
            .map(|s| format!(" (in {s} s)"))
            .unwrap_or_default()
    )
}

fn seconds_left(rfc3339: &str) -> Option<i64> {
    let at = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((at - Clock::now(&SystemClock)).whole_seconds().max(0))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// With the number, if given on the command line.
    Approve(Option<u8>),
    Deny,
    Report,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve(_) => "approve",
            Self::Deny => "deny",
            Self::Report => "report",
        }
    }

    /// The status that means the answer did what was asked.
    fn expected_status(self) -> &'static str {
        match self {
            Self::Approve(_) => "approved",
            Self::Deny => "denied",
            Self::Report => "reported",
        }
    }
}

async fn approve(
    path: &Path,
    decision: Decision,
    challenge: Option<&str>,
    wait: u64,
    json: bool,
) -> Result<(), String> {
    let (device, client) = open(path)?;
    let (challenge_id, shown) = match challenge {
        Some(id) => (parse_challenge_id(id)?, None),
        None => {
            let c = wait_for_challenge(&client, &device, wait).await?;
            (parse_challenge_id(&c.id)?, Some(c))
        }
    };
    let number = match decision {
        Decision::Approve(Some(n)) => n,
        Decision::Approve(None) => {
            if let Some(c) = &shown {
                eprintln!("sign-in request: {}", describe(c));
            }
            read_number().await?
        }
        // The number is not part of a refusal.
        Decision::Deny | Decision::Report => 0,
    };
    let outcome = client
        .answer(&device, challenge_id, number, decision.as_str())
        .await
        .map_err(|e| match e {
            Error::Refused(r) if r.status == StatusCode::CONFLICT => format!(
                "challenge {challenge_id} is no longer open (expired or already answered): {}",
                r.message
            ),
            Error::Refused(r) if r.status == StatusCode::UNAUTHORIZED => format!(
                "the server did not accept device {}'s answer ({}): it may have been removed",
                device.id, r.message
            ),
            e => e.line("answering the challenge"),
        })?;
    if json {
        print_json(&serde_json::json!({
            "challenge_id": challenge_id.to_string(),
            "status": outcome.status,
            "tries_left": outcome.tries_left,
        }))?;
    }
    let app = shown
        .as_ref()
        .map(|c| format!(" ({})", c.app_name))
        .unwrap_or_default();
    if outcome.status == decision.expected_status() {
        if !json {
            println!("{} challenge {challenge_id}{app}", outcome.status);
        }
        return Ok(());
    }
    Err(match outcome.status.as_str() {
        "wrong_number" => match outcome.tries_left {
            Some(0) => format!(
                "wrong number for challenge {challenge_id}: no tries left, the sign-in is denied"
            ),
            Some(1) => format!("wrong number for challenge {challenge_id}: 1 try left"),
            Some(n) => format!("wrong number for challenge {challenge_id}: {n} tries left"),
            None => format!("wrong number for challenge {challenge_id}"),
        },
        "denied" => {
            format!("challenge {challenge_id} was denied (too many wrong numbers); sign in again")
        }
        other => format!("challenge {challenge_id}: unexpected status {other:?}"),
    })
}

fn parse_challenge_id(id: &str) -> Result<PushChallengeId, String> {
    id.trim()
        .parse()
        .map_err(|e| format!("invalid challenge id {id:?}: {e}"))
}

/// The oldest pending challenge, polling once a second for up to `wait` seconds.
async fn wait_for_challenge(
    client: &Client,
    device: &Device,
    wait: u64,
) -> Result<Challenge, String> {
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        if let Some(first) = fetch(client, device).await?.into_iter().next() {
            return Ok(first);
        }
        if Instant::now() >= deadline {
            return Err(if wait == 0 {
                "no pending sign-in challenge (use --wait SECONDS to wait for one)".into()
            } else {
                format!("no sign-in challenge arrived within {wait} s")
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Asks for the number on standard error and reads it from standard input.
async fn read_number() -> Result<u8, String> {
    let line = tokio::task::spawn_blocking(|| -> std::io::Result<String> {
        let mut stderr = std::io::stderr();
        write!(stderr, "Enter the number shown in your browser: ")?;
        stderr.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    })
    .await
    .map_err(|e| format!("cannot read the number: {e}"))?
    .map_err(|e| format!("cannot read the number: {e}"))?;
    parse_number(&line)
}

fn parse_number(line: &str) -> Result<u8, String> {
    let text = line.trim();
    if text.is_empty() {
        return Err("no number given (pass --number, or type it when asked)".into());
    }
    match text.parse::<u8>() {
        Ok(n) if n <= 99 && text.chars().all(|c| c.is_ascii_digit()) => Ok(n),
        _ => Err(format!(
            "{text:?} is not the number shown in the browser (two digits)"
        )),
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), String> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| format!("cannot encode JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tessera_domain::PushDeviceId;
    use tessera_domain::push::{request_message, response_message};

    #[test]
    fn numbers_from_standard_input() {
        assert_eq!(parse_number("42\n").unwrap(), 42);
        assert_eq!(parse_number("  7 \r\n").unwrap(), 7);
        for bad in ["", "\n", "100", "-1", "+5", "4 2", "forty"] {
            assert!(parse_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_bytes_signed_are_the_domain_wire_format() {
        let challenge: PushChallengeId = "0190a0b0-0000-7000-8000-000000000001".parse().unwrap();
        let device: PushDeviceId = "0190a0b0-0000-7000-8000-000000000002".parse().unwrap();
        assert_eq!(
            response_message(challenge, 42, Decision::Approve(None).as_str(), device),
            b"tessera-push-v1\nrespond\n0190a0b0-0000-7000-8000-000000000001\n42\napprove\n\
              0190a0b0-0000-7000-8000-000000000002"
        );
        assert_eq!(
            response_message(challenge, 0, Decision::Report.as_str(), device),
            b"tessera-push-v1\nrespond\n0190a0b0-0000-7000-8000-000000000001\n0\nreport\n\
              0190a0b0-0000-7000-8000-000000000002"
        );
        assert_eq!(Decision::Deny.as_str(), "deny");
        assert_eq!(
            request_message("list", device, 1_700_000_000),
            b"tessera-push-v1\nlist\n0190a0b0-0000-7000-8000-000000000002\n1700000000"
        );
    }

    #[test]
    fn the_cli_parses() {
        use crate::cli::{Cli, Command};
        use clap::Parser;
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["tessera", "authenticator"], args].concat()).map(|c| c.command)
        };
        let Ok(Command::Authenticator(a)) =
            parse(&["approve", "--number", "42", "--key-file", "k"])
        else {
            unreachable!()
        };
        assert_eq!(a.key_file.as_deref(), Some(Path::new("k")));
        assert!(matches!(
            a.command,
            AuthenticatorCommand::Approve {
                number: Some(42),
                deny: false,
                wait: 0,
                ..
            }
        ));
        assert!(parse(&["approve", "--number", "100"]).is_err());
        assert!(parse(&["approve", "--number", "4", "--deny"]).is_err());
        assert!(parse(&["enroll", "u", "--alg", "RS256"]).is_err());
        assert!(parse(&["enroll", "u", "--alg", "EdDSA", "--force"]).is_ok());
        assert!(parse(&["--json", "list"]).is_ok());
        assert!(parse(&["list", "--json", "--key-file", "k"]).is_ok());
    }
}
