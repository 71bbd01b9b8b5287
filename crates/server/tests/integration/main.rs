//! Tessera's integration tests: real servers over HTTP, the real binary, both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod oidc_support;
mod support;

mod cli;
mod cli_lifecycle;
mod config_errors;
mod crash;
mod lifecycle;
mod lifecycle_audit;
mod lifecycle_self_registration;
mod migrate;
mod my_account;
mod oidc;
mod oidc_client_auth;
mod oidc_flows;
mod passkeys;
mod portal;
mod postgres_node;
mod push;
mod push_cli;
mod signin_accounts;
mod signin_wizard;
mod tenants_access;
mod tenants_api;
mod tenants_audit;
mod tenants_cli;
mod tenants_guards;
mod tenants_invite;
mod tenants_portal;
