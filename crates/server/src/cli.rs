//! The command line (clap). Each command returns `Err(one line)` on failure.

use crate::{admin, config, runtime, serve};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: OpenID Connect provider and identity portal"
)]
pub struct Cli {
    /// TOML configuration file; `TESSERA_*` environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: portal, OpenID Connect endpoints, background jobs.
    ///
    /// Settings (file key / environment variable, default):
    ///   issuer          TESSERA_ISSUER           http://localhost:8080
    ///   listen          TESSERA_LISTEN           127.0.0.1:8080
    ///   database_url    TESSERA_DATABASE_URL     sqlite://./tessera-data/tessera.db (or postgres://…)
    ///   smtp_url        TESSERA_SMTP_URL         none: email is held in the outbox
    ///   smtp_from       TESSERA_SMTP_FROM        Tessera <tessera@localhost>
    ///   sms_webhook_url TESSERA_SMS_WEBHOOK_URL  none: SMS is held in the outbox
    ///   templates_dir   TESSERA_TEMPLATES_DIR    none: built-in templates only
    ///   log_format      TESSERA_LOG_FORMAT       text (or json)
    ///   log_level       TESSERA_LOG_LEVEL        info
    ///   outbox_lease_seconds TESSERA_OUTBOX_LEASE_SECONDS 90: after a crash, messages a node
    ///                   was sending are retried by another node after this long
    ///   secret_key      TESSERA_SECRET_KEY       SQLite: ./tessera-data/secret.key (created);
    ///                   PostgreSQL: required, the same on every node (`tessera secret-key`)
    ///
    /// tessera.example.toml explains each setting.
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Apply database migrations (idempotent; refuses a schema newer than this binary).
    Migrate,
    /// Administration for scripts; every command takes --json.
    Admin(AdminArgs),
    /// Print a new random secret key for the `secret_key` setting.
    SecretKey,
    /// The reference push authenticator: enroll a device key, list and approve sign-ins.
    Authenticator(crate::authenticator::AuthenticatorArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Do not migrate on start; refuse to start unless the schema is current.
    #[arg(long)]
    pub no_migrate: bool,
    /// Log format: text or json (overrides log_format).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create the first platform administrator without the setup link.
    Bootstrap {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Platform")]
        given_name: String,
        #[arg(long, default_value = "Administrator")]
        family_name: String,
        /// E.164 mobile number, e.g. +6591234567 (optional).
        #[arg(long, default_value = "")]
        mobile: String,
        /// Read the password from standard input (the only way to give it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Tenants, their admins and access requests.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Outgoing email and SMS.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Apps (OAuth clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Groups of users inside a tenant.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Invite someone by email on behalf of a sponsor; they get a single-use link.
    Invite {
        #[arg(long)]
        email: String,
        /// Username of the sponsor (an active public officer or administrator).
        #[arg(long)]
        sponsor: String,
        /// Works from outside the country (device onboarding becomes mandatory).
        #[arg(long)]
        offshore: bool,
        /// In an Offshore Development Centre (no reporting officer or address asked).
        #[arg(long)]
        odc: bool,
        /// Request device onboarding (SEED).
        #[arg(long)]
        seed: bool,
    },
    /// Invitations: list, resend, revoke.
    #[command(subcommand)]
    Invitation(InvitationCommand),
    /// Lifecycle settings: agency domains, no-inbox addresses, windows, reminders.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
}

#[derive(Subcommand, Debug)]
pub enum InvitationCommand {
    /// Newest first.
    List {
        /// sent, registered, expired or revoked.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Send a new link (the old one stops working).
    Resend { id: String },
    /// Withdraw the invitation; its link stops working.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCommand {
    Show,
    /// Change some settings; the others keep their values.
    Set {
        /// Comma-separated patterns, e.g. "*.gov.sg,agency.com.sg".
        #[arg(long)]
        agency_domains: Option<String>,
        /// Comma-separated patterns of addresses without a mailbox, e.g. "*@litemail.gov.sg".
        #[arg(long)]
        no_inbox: Option<String>,
        #[arg(long)]
        invitation_validity_days: Option<u32>,
        #[arg(long)]
        activation_window_days: Option<u32>,
        #[arg(long)]
        seed_invitation_validity_days: Option<u32>,
        /// Comma-separated days before the deadline, e.g. "7,1".
        #[arg(long)]
        reminder_days_before: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Run the lifecycle jobs once now (expiry, reminders, terminations); `serve` runs
    /// them every minute.
    Run,
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Register an app; prints its client_id and, once, its secret.
    Create {
        /// The tenant's handle.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Where to return after sign-in; repeat for several.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (native or browser app): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// authorization_code, refresh_token or client_credentials; repeat for several.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// A scope client_credentials tokens may carry; repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// ID token algorithm: RS256 (default) or ES256.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Authorization requests must be pushed first (PAR, RFC 9126).
        #[arg(long)]
        require_par: bool,
        /// Where RP-initiated logout may return to; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where to POST back-channel logout tokens.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A JWKS file with the app's public keys: it then authenticates with
        /// private_key_jwt (RFC 7523) and gets no secret.
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<std::path::PathBuf>,
        /// Or where Tessera fetches those keys.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// Ask users for consent before the first sign-in (third-party apps).
        #[arg(long)]
        consent_required: bool,
        /// A resource (RFC 8707 URI) client_credentials tokens may be issued for; repeat.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Sign-ins need phishing-resistant MFA: a session without a passkey steps up.
        #[arg(long)]
        require_phishing_resistant: bool,
        /// What the app is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List apps (of one tenant with --tenant).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show one app (by id or client_id) with its access rules and secrets.
    Show {
        #[arg(long)]
        tenant: String,
        app: String,
    },
    /// Delete an app and everything issued to it.
    Delete {
        #[arg(long)]
        tenant: String,
        app: String,
    },
    /// Add a client secret (shown once); the others keep working.
    AddSecret {
        #[arg(long)]
        tenant: String,
        app: String,
    },
    /// Rotate: a new secret (shown once); the others stop working after the overlap.
    RotateSecret {
        #[arg(long)]
        tenant: String,
        app: String,
        /// How long the old secrets keep working, in seconds (at most 30 days).
        #[arg(long, default_value_t = 86_400)]
        overlap_seconds: i64,
    },
    /// Revoke one secret by its id (see `app show`).
    RevokeSecret {
        #[arg(long)]
        tenant: String,
        app: String,
        secret: i64,
    },
    /// Set who may use the app (replaces the rules).
    Access {
        #[arg(long)]
        tenant: String,
        app: String,
        /// Only the listed users and groups (default: every active user).
        #[arg(long)]
        listed_only: bool,
        /// A user (username or id) always admitted; repeat for several.
        #[arg(long = "user")]
        users: Vec<String>,
        /// A group of the tenant (name or id) admitted with --listed-only; repeat.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// officer or vendor; repeat; none means every type.
        #[arg(long = "user-type")]
        user_types: Vec<String>,
        /// Refuse vendors working offshore.
        #[arg(long)]
        no_offshore: bool,
        /// Sign-ins need phishing-resistant MFA (a passkey).
        #[arg(long)]
        require_phishing_resistant: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group in a tenant.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// A tenant's groups.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Delete a group (by name or id) and its memberships.
    Delete {
        #[arg(long)]
        tenant: String,
        group: String,
    },
    /// A group's members.
    Members {
        #[arg(long)]
        tenant: String,
        group: String,
    },
    AddMember {
        #[arg(long)]
        tenant: String,
        group: String,
        user: String,
    },
    RemoveMember {
        #[arg(long)]
        tenant: String,
        group: String,
        user: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Published keys: the signing ones and those kept until their tokens expire.
    List,
    /// New keys sign from now on; old ones stay published until their tokens expire.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Short handle: 2–63 lowercase letters, digits, hyphens.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
    /// Name an existing user an admin of the tenant.
    AddAdmin {
        tenant: String,
        user: String,
    },
    RemoveAdmin {
        tenant: String,
        user: String,
    },
    /// The tenant's admins.
    Admins {
        tenant: String,
    },
    /// Access requests to the tenant's apps (pending unless --status).
    Requests {
        tenant: String,
        /// pending, approved or rejected.
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Approve an access request: the user is listed on the app.
    Approve {
        tenant: String,
        request: String,
    },
    Reject {
        tenant: String,
        request: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// List users by username.
    List {
        #[arg(long)]
        after: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one user, by username or id.
    Show {
        user: String,
    },
    /// Search users: text, state, type, agency (email domain).
    Search {
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long, default_value = "")]
        state: String,
        #[arg(long = "type", default_value = "")]
        user_type: String,
        #[arg(long, default_value = "")]
        agency: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Pending account: new initial password by SMS and the onboarding email again.
    ResendOnboarding {
        user: String,
    },
    /// Pending account: move the activation deadline later.
    ExtendDeadline {
        user: String,
        #[arg(long)]
        days: u32,
    },
    Suspend {
        user: String,
    },
    Reactivate {
        user: String,
    },
    /// Remove every authenticator (lost phone): the next sign-in enrols one again.
    ResetMfa {
        user: String,
    },
    /// End the account for good (it never signs in again; nothing is deleted).
    Terminate {
        user: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// The newest events.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only events older than this sequence number.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Check the hash chain; exits non-zero naming the first altered or missing row.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// The newest messages.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Queue a test email, to check SMTP delivery end to end.
    Test {
        #[arg(long)]
        to: String,
    },
}

pub async fn run(cli: Cli) -> Result<(), String> {
    // A client of a (possibly remote) server: it needs no server configuration.
    let command = match cli.command {
        Command::Authenticator(args) => return crate::authenticator::run(args).await,
        command => command,
    };
    let settings = config::load(cli.config.as_deref())?;
    match command {
        Command::Serve(args) => serve::run(settings, args).await,
        Command::Migrate => {
            runtime::init_logging(
                &settings.config.log_format,
                &settings.config.log_level,
                false,
            );
            let db = runtime::open_database(&settings).await?;
            let status = db.migrate().await.map_err(|e| format!("migrate: {e}"))?;
            println!(
                "database schema is at version {} (current)",
                status.database_version
            );
            db.close().await;
            Ok(())
        }
        Command::Admin(args) => admin::run(settings, args).await,
        Command::SecretKey => {
            println!(
                "{}",
                tessera_core::secrets::SecretKeys::generate_master(&tessera_domain::OsRandom)
            );
            Ok(())
        }
        // Normally run above, before the server configuration is loaded.
        Command::Authenticator(args) => crate::authenticator::run(args).await,
    }
}
