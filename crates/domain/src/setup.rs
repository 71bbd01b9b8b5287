//! The one-time setup link that creates the first platform administrator.

use time::Duration;

/// A setup link is valid for one hour after it is printed.
pub const SETUP_LINK_LIFETIME: Duration = Duration::hours(1);
