//! Rate limiting of password sign-ins: after too many failures in a window,
//! an account (whoever tries it) and an address (whatever it tries) are
//! refused until the oldest failure leaves the window. Kept in memory: a
//! restart forgets it, and each server process of an instance counts on
//! its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures within the window after which an account is locked.
pub const MAX_FAILURES_PER_ACCOUNT: usize = 5;
/// Failures within the window after which an address is locked (several
/// people may share one address).
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;

/// Recent failed sign-ins by account and by address.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<Key, Vec<Instant>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

impl LoginLimiter {
    /// `None` if a sign-in of `account` from `address` may be tried now,
    /// else how long until it may.
    pub fn wait_before_trying(&self, account: &str, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        [
            (Key::Account(account.to_owned()), MAX_FAILURES_PER_ACCOUNT),
            (Key::Address(address), MAX_FAILURES_PER_ADDRESS),
        ]
        .into_iter()
        .filter_map(|(key, max)| {
            let times = failures.get_mut(&key)?;
            times.retain(|t| now.duration_since(*t) < WINDOW);
            (times.len() >= max).then(|| WINDOW - now.duration_since(times[0]))
        })
        .max()
    }

    /// Counts a failed sign-in.
    pub fn record_failure(&self, account: &str, address: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Forget idle keys so that a stream of made-up names cannot grow
        // the map without end.
        if failures.len() > 100_000 {
            failures.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
        }
        for key in [Key::Account(account.to_owned()), Key::Address(address)] {
            failures.entry(key).or_default().push(now);
        }
    }

    /// Clears an account's failures after it signed in.
    pub fn record_success(&self, account: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::Account(account.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_its_failures_whatever_the_address() {
        let limiter = LoginLimiter::default();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        let there: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            assert_eq!(limiter.wait_before_trying("alice", here), None);
            limiter.record_failure("alice", here);
        }
        assert!(limiter.wait_before_trying("alice", there).is_some());
        assert_eq!(limiter.wait_before_trying("bob", there), None);
    }

    #[test]
    fn an_address_is_locked_after_its_failures_whatever_the_account() {
        let limiter = LoginLimiter::default();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        for n in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.record_failure(&format!("user{n}"), here);
        }
        assert!(limiter.wait_before_trying("someone-new", here).is_some());
        assert_eq!(
            limiter.wait_before_trying("someone-new", "192.0.2.9".parse().unwrap()),
            None
        );
    }

    #[test]
    fn success_clears_the_account() {
        let limiter = LoginLimiter::default();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT - 1 {
            limiter.record_failure("alice", here);
        }
        limiter.record_success("alice");
        limiter.record_failure("alice", here);
        assert_eq!(limiter.wait_before_trying("alice", here), None);
    }
}
