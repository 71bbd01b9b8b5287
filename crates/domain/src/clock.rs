//! Time is a parameter: every rule with an expiry asks a `Clock`, so tests can move time.

use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; shared by clones.
#[derive(Clone, Debug)]
pub struct FakeClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl FakeClock {
    pub fn at(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by;
        }
    }

    pub fn set(&self, to: OffsetDateTime) {
        if let Ok(mut now) = self.now.lock() {
            *now = to;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        match self.now.lock() {
            Ok(now) => *now,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// Truncates to whole seconds, the precision the stores keep.
pub fn to_unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub fn from_unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told() {
        let start = from_unix(1_700_000_000);
        let clock = FakeClock::at(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(Duration::hours(1));
        assert_eq!(clock.now(), start + Duration::hours(1));
    }
}
