//! Password hashing on a bounded pool. An Argon2id hash takes 19 MiB and tens of
//! milliseconds of one core: run as many at once as requests arrive, a flood of
//! registrations or logins takes the server's memory and every core. Here at most a few
//! run at once (one per core, up to four), the others wait their turn in the order they
//! came, and one that cannot start within its deadline is refused ([`Busy`]) instead of
//! piling up.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use tokio::sync::Semaphore;

/// The most hashes computed at once, whatever the number of cores.
const MOST_AT_ONCE: usize = 4;

/// No turn came within the deadline: the server is hashing as fast as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct Hashing {
    turns: Arc<Semaphore>,
    deadline: Duration,
}

impl Hashing {
    /// One hash at a time per core (at most [`MOST_AT_ONCE`]); a turn waited for longer
    /// than `deadline` is given up.
    pub fn for_this_machine(deadline: Duration) -> Hashing {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Hashing::new(cores.min(MOST_AT_ONCE), deadline)
    }

    fn new(at_once: usize, deadline: Duration) -> Hashing {
        Hashing {
            turns: Arc::new(Semaphore::new(at_once)),
            deadline,
        }
    }

    /// The hash of a new password.
    pub async fn hash(&self, password: String) -> Result<Option<String>, Busy> {
        self.in_turn(move || hash_password(&password).ok()).await
    }

    /// Whether `password` is the one `stored` was made from (see [`verify_password`]).
    pub async fn verify(&self, stored: Option<String>, password: String) -> Result<bool, Busy> {
        self.in_turn(move || verify_password(stored.as_deref(), &password))
            .await
    }

    /// Runs `work` on a blocking thread once a turn is free; the turn is held until the
    /// work ends, even if the request that asked for it is dropped meanwhile.
    async fn in_turn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let turn = tokio::time::timeout(self.deadline, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work()
        })
        .await
        .map_err(|_| Busy)
    }
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Whether `password` is the one `stored` was made from. Without a stored hash (no such
/// user, or one without a password) a hash is checked all the same, so that the answer
/// takes as long and says nothing of which usernames exist.
fn verify_password(stored: Option<&str>, password: &str) -> bool {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match stored {
        Some(hash) => password_matches(hash, password),
        None => {
            let stand_in = STAND_IN.get_or_init(|| {
                hash_password("a password nobody has").expect("hashing a constant works")
            });
            let _ = password_matches(stand_in, password);
            false
        }
    }
}

pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_password_is_kept_as_a_salted_hash_that_verifies() {
        let hash = hash_password("cat").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("cat"));
        assert_ne!(hash, hash_password("cat").unwrap(), "salted");
        assert!(password_matches(&hash, "cat"));
        assert!(!password_matches(&hash, "dog"));
        assert!(!password_matches("not a hash", "cat"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_the_pool_allows() {
        let hashing = Arc::new(Hashing::new(2, Duration::from_secs(30)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    hashing
                        .in_turn(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(30));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_that_does_not_come_within_the_deadline_is_refused() {
        let hashing = Arc::new(Hashing::new(1, Duration::from_millis(50)));
        let slow = {
            let hashing = hashing.clone();
            tokio::spawn(async move {
                hashing
                    .in_turn(|| std::thread::sleep(Duration::from_millis(500)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(hashing.in_turn(|| ()).await, Err(Busy));
        assert_eq!(slow.await.unwrap(), Ok(()));
    }
}
