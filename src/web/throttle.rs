//! Limits on guessing passwords: at most [`PER_USERNAME`] login attempts that fail for one
//! username, and [`PER_ADDRESS`] from one client address (an IPv6 client by its /64, which
//! one machine usually has whole), in [`WINDOW`]. An attempt counts as failed from the
//! moment it starts, so that many sent at once cannot slip through together; one that
//! succeeds is then taken back, and clears its username's count.
//!
//! And on registering: at most [`REGISTRATIONS_PER_ADDRESS`] from one client address in
//! [`WINDOW`], each counted when its password is about to be hashed (the costly part).
//!
//! The counts live in this process: several instances behind one address each count on
//! their own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_USERNAME: u32 = 10;
pub const PER_ADDRESS: u32 = 50;
pub const REGISTRATIONS_PER_ADDRESS: u32 = 20;
/// Past this many usernames and addresses, the oldest are forgotten first.
const MOST_TRACKED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Username(String),
    Address(IpAddr),
    Registrations(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Subject, Failures>>,
}

/// A login attempt under way, counted as failed until [`Throttle::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    username: Subject,
    address: Subject,
}

impl Throttle {
    /// Starts an attempt, or says how long until one is allowed.
    pub fn begin(&self, username: &str, address: IpAddr) -> Result<Attempt, Duration> {
        self.begin_at(username, address, Instant::now())
    }

    /// The attempt succeeded: it no longer counts, and the username starts afresh.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&attempt.username);
        if let Some(entry) = failures.get_mut(&attempt.address) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    /// Counts a registration from `address`, or says how long until one is allowed.
    pub fn begin_registration(&self, address: IpAddr) -> Result<(), Duration> {
        self.begin_registration_at(address, Instant::now())
    }

    fn begin_registration_at(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let subject = Subject::Registrations(network_of(address));
        self.count_at(&[(&subject, REGISTRATIONS_PER_ADDRESS)], now)
    }

    fn begin_at(&self, username: &str, address: IpAddr, now: Instant) -> Result<Attempt, Duration> {
        let attempt = Attempt {
            username: Subject::Username(username.to_string()),
            address: Subject::Address(network_of(address)),
        };
        self.count_at(
            &[
                (&attempt.username, PER_USERNAME),
                (&attempt.address, PER_ADDRESS),
            ],
            now,
        )?;
        Ok(attempt)
    }

    /// One more for each subject, unless one of them is at its limit: then how long until
    /// its window ends.
    fn count_at(&self, subjects: &[(&Subject, u32)], now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let wait = subjects
            .iter()
            .filter_map(|&(subject, limit)| {
                let entry = failures.get(subject)?;
                let elapsed = now.saturating_duration_since(entry.since);
                (elapsed < WINDOW && entry.count >= limit).then(|| WINDOW - elapsed)
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if failures.len() >= MOST_TRACKED {
            forget_oldest(&mut failures, now);
        }
        for &(subject, _) in subjects {
            let entry = failures.entry(subject.clone()).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now.saturating_duration_since(entry.since) >= WINDOW {
                *entry = Failures {
                    count: 0,
                    since: now,
                };
            }
            entry.count += 1;
        }
        Ok(())
    }
}

/// Drops the entries whose window is over; if that is not enough, the older half.
fn forget_oldest(failures: &mut HashMap<Subject, Failures>, now: Instant) {
    failures.retain(|_, f| now.saturating_duration_since(f.since) < WINDOW);
    if failures.len() >= MOST_TRACKED {
        let mut starts: Vec<Instant> = failures.values().map(|f| f.since).collect();
        let (_, median, _) = starts.select_nth_unstable(failures.len() / 2);
        let median = *median;
        failures.retain(|_, f| f.since > median);
    }
}

/// The address an attacker cannot easily change: an IPv4 address, an IPv6 /64.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn address(n: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n))
    }

    #[test]
    fn a_username_is_locked_after_its_failures_until_the_window_ends() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for n in 0..PER_USERNAME {
            assert!(throttle.begin_at("ann", address(n as u8), start).is_ok());
        }
        let wait = throttle.begin_at("ann", HOME, start).unwrap_err();
        assert_eq!(wait, WINDOW, "from any address");
        assert!(
            throttle.begin_at("bob", HOME, start).is_ok(),
            "others are not locked"
        );
        let later = start + WINDOW;
        assert!(throttle.begin_at("ann", HOME, later).is_ok());
    }

    #[test]
    fn an_address_is_locked_after_its_failures_whatever_the_username() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..PER_ADDRESS {
            assert!(throttle.begin_at(&format!("user{n}"), HOME, now).is_ok());
        }
        assert!(throttle.begin_at("someone new", HOME, now).is_err());
        assert!(throttle.begin_at("someone new", address(9), now).is_ok());
    }

    #[test]
    fn a_success_clears_the_username_and_is_not_held_against_the_address() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..PER_USERNAME - 1 {
            throttle.begin_at("ann", HOME, now).unwrap();
        }
        let attempt = throttle.begin_at("ann", HOME, now).unwrap();
        throttle.succeeded(attempt);
        assert!(throttle.begin_at("ann", HOME, now).is_ok());
        for n in 0..PER_ADDRESS {
            let attempt = throttle
                .begin_at(&format!("user{n}"), address(7), now)
                .unwrap();
            throttle.succeeded(attempt);
        }
        assert!(throttle.begin_at("one more", address(7), now).is_ok());
    }

    #[test]
    fn an_address_may_register_a_few_accounts_per_window_and_no_more() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..REGISTRATIONS_PER_ADDRESS {
            assert!(throttle.begin_registration_at(HOME, now).is_ok());
        }
        assert_eq!(throttle.begin_registration_at(HOME, now), Err(WINDOW));
        assert!(throttle.begin_registration_at(address(3), now).is_ok());
        assert!(
            throttle.begin_at("ann", HOME, now).is_ok(),
            "logging in is counted apart"
        );
        assert!(throttle.begin_registration_at(HOME, now + WINDOW).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_bit_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(one), network_of(other));
        assert_ne!(network_of(one), network_of(elsewhere));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(network_of(mapped), HOME);
    }

    #[test]
    fn the_table_of_failures_stays_bounded() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for n in 0..MOST_TRACKED + 10 {
            let network =
                std::net::Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 1);
            throttle
                .begin_at(&format!("u{n}"), IpAddr::V6(network), now)
                .unwrap();
        }
        assert!(throttle.failures.lock().unwrap().len() <= MOST_TRACKED + 2);
    }
}
