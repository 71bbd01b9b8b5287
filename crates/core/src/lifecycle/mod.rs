//! The account lifecycle (PRODUCT.md "Account lifecycle"): settings, invitations,
//! registration, officer self-registration, administrators' account actions and the
//! background jobs that expire, remind and terminate.

pub mod accounts;
pub mod form;
pub mod invitations;
pub mod jobs;
pub mod provision;
pub mod self_registration;
pub mod settings;
