//! The transactional outbox: flows queue messages with [`crate::App::queue`] inside their
//! transaction; the [`worker::DeliveryWorker`] delivers them afterwards.

pub mod transport;
pub mod worker;

pub use transport::{BackchannelLogoutSender, Deliver, SmsWebhook, SmtpRelay};
pub use worker::DeliveryWorker;
