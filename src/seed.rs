//! `microblog db seed`: fake users and posts, the same for the same seed, written through
//! the models' unit of work in batches, on any of the three databases. For trying the site
//! with a realistic amount of data, and for the benchmarks.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::models::{NewPost, NewUser, Post, User, user};
use dbmigrate::model::{DbError, Session};

/// Usernames looked up at once, to find one taken before anything is written.
const LOOKUP: usize = 1_000;

/// The password every seeded user logs in with.
pub const PASSWORD: &str = "password";

/// Words of the posts: plain ones, the characters HTML must escape, and non-ASCII ones, so
/// that pages built from seeded posts exercise escaping and encodings.
const WORDS: &[&str] = &[
    "the",
    "a",
    "microblog",
    "post",
    "today",
    "database",
    "rust",
    "flask",
    "migration",
    "index",
    "query",
    "page",
    "user",
    "coffee",
    "morning",
    "evening",
    "reading",
    "writing",
    "code",
    "review",
    "test",
    "green",
    "release",
    "server",
    "fast",
    "slow",
    "hello",
    "world",
    "&",
    "<b>",
    "\"quoted\"",
    "it's",
    "café",
    "naïve",
    "Zürich",
    "東京",
    "ünïcödé",
    "—",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedPlan {
    pub users: u64,
    pub posts: u64,
    /// Same seed, same rows.
    pub seed: u64,
    /// Rows per transaction.
    pub batch: u64,
}

/// How long the posts took, for their rate.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    /// The unit of work's time: adding the posts and committing them (their fake text is
    /// made before, as an application's rows are before it writes them).
    pub posts_time: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "the database already has a user named {0}: seed an empty database, or remove the seeded users first"
    )]
    NameTaken(String),
    #[error("posts need authors: give --users at least 1 with --posts")]
    NoAuthors,
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot hash the seeded users' password: {0}")]
    Password(String),
}

impl From<diesel::result::Error> for SeedError {
    fn from(error: diesel::result::Error) -> Self {
        SeedError::Database(error.into())
    }
}

/// `user0001`…: as wide as the largest number needs, at least four digits.
pub fn username(number: u64, users: u64) -> String {
    let width = users.to_string().len().max(4);
    format!("user{number:0width$}")
}

/// Writes the plan's users, then its posts, each post by one of the seeded users at a time
/// in 2025; `progress` is told how many rows are written so far. Nothing is written when a
/// seeded username is taken.
pub fn seed(
    session: &mut Session,
    plan: &SeedPlan,
    mut progress: impl FnMut(u64),
) -> Result<Seeded, SeedError> {
    if plan.posts > 0 && plan.users == 0 {
        return Err(SeedError::NoAuthors);
    }
    let names: Vec<String> = (1..=plan.users).map(|n| username(n, plan.users)).collect();
    for chunk in names.chunks(LOOKUP) {
        let taken: Option<String> = user::table
            .filter(user::username.eq_any(chunk))
            .select(user::username)
            .first::<Option<String>>(session.conn())
            .optional()?
            .flatten();
        if let Some(name) = taken {
            return Err(SeedError::NameTaken(name));
        }
    }
    // One hash for all: hashing is made slow on purpose, and every seeded user shares the
    // password anyway.
    let password_hash =
        crate::web::hash_password(PASSWORD).map_err(|e| SeedError::Password(e.to_string()))?;
    let mut written = 0;
    let mut ids = Vec::with_capacity(names.len());
    let batch = plan.batch.max(1);
    for chunk in names.chunks(usize::try_from(batch).unwrap_or(usize::MAX)) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|name| {
                session.add(NewUser {
                    password_hash: Some(password_hash.clone()),
                    ..User::new(name, &format!("{name}@example.com"))
                })
            })
            .collect();
        session.commit()?;
        ids.extend(pending.into_iter().filter_map(|p| session.id_of(p)));
        written += chunk.len() as u64;
        progress(written);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut left = plan.posts;
    let mut times = PostTimes::spread_over_2025(plan.posts);
    let mut posts_time = std::time::Duration::ZERO;
    while left > 0 {
        let batch = left.min(batch);
        let posts: Vec<NewPost> = (0..batch)
            .map(|_| NewPost {
                timestamp: Some(times.next(&mut rng)),
                user_id: Some(ids[rng.gen_range(0..ids.len())]),
                ..Post::new(&body(&mut rng))
            })
            .collect();
        let started = std::time::Instant::now();
        for post in posts {
            session.add(post);
        }
        session.commit()?;
        posts_time += started.elapsed();
        left -= batch;
        written += batch;
        progress(written);
    }
    Ok(Seeded { posts_time })
}

/// Words until 10 to 140 characters (as the post form allows).
fn body(rng: &mut ChaCha8Rng) -> String {
    let wanted = rng.gen_range(10..=140);
    let mut text = String::new();
    let mut length = 0;
    loop {
        let word = WORDS[rng.gen_range(0..WORDS.len())];
        let added = word.chars().count() + usize::from(length > 0);
        if length + added > 140 {
            break;
        }
        if length > 0 {
            text.push(' ');
        }
        text.push_str(word);
        length += added;
        if length >= wanted {
            break;
        }
    }
    text
}

/// The posts' times: in the order the posts are written, as a site's are, spread over
/// 2025 to the microsecond, each at a random moment of its own share of the year.
struct PostTimes {
    start: NaiveDateTime,
    share_us: i64,
    written: i64,
}

impl PostTimes {
    fn spread_over_2025(posts: u64) -> Self {
        const YEAR_US: i64 = 365 * 86_400 * 1_000_000;
        PostTimes {
            start: NaiveDate::from_ymd_opt(2025, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a valid date"),
            share_us: (YEAR_US / i64::try_from(posts.max(1)).unwrap_or(i64::MAX)).max(1),
            written: 0,
        }
    }

    fn next(&mut self, rng: &mut ChaCha8Rng) -> NaiveDateTime {
        let at = self.written * self.share_us + rng.gen_range(0..self.share_us);
        self.written += 1;
        self.start + TimeDelta::microseconds(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_as_wide_as_the_largest_number() {
        assert_eq!(username(7, 1_000), "user0007");
        assert_eq!(username(7, 12_345), "user00007");
    }

    #[test]
    fn posts_are_written_in_time_order_within_2025() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut times = PostTimes::spread_over_2025(1_000);
        let written: Vec<_> = (0..1_000).map(|_| times.next(&mut rng)).collect();
        assert!(
            written.windows(2).all(|w| w[0] < w[1]),
            "strictly increasing"
        );
        let year = |t: &NaiveDateTime| t.format("%Y").to_string();
        assert_eq!(
            (year(&written[0]), year(&written[999])),
            ("2025".into(), "2025".into())
        );
    }

    #[test]
    fn bodies_fit_the_post_form() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let text = body(&mut rng);
            let length = text.chars().count();
            assert!((1..=140).contains(&length), "{length}: {text}");
        }
    }
}
