//! Logged-in visitors' users, kept between requests so that checking a session needs no
//! read of the user while the data is unchanged. An entry is the user's row as it was read
//! under a [`DataVersion`] (on PostgreSQL and MySQL what `changes.rs` heard, on SQLite what
//! the reading connection sees; and this process's own writes): it is used only under that
//! same version, which any write anywhere changes, on SQLite at once, on the servers within
//! the bound of `changes.rs` (this process's own writes at once). So a logout, which raises
//! the user's session generation, ends the session's copies on this instance at once and on
//! the others within that bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;

use super::pool::DataVersion;
use crate::models::User;

/// Past this many users, the table starts afresh.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct UserCache {
    /// Keyed as the versions are: by the thread (on SQLite the reading connection's; on the
    /// servers the listener's) and the user.
    entries: Mutex<HashMap<(ThreadId, i32), (DataVersion, User)>>,
}

impl UserCache {
    /// The row of user `id` as read under `version`, if it was.
    pub fn get(&self, id: i32, version: DataVersion) -> Option<User> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&(version.thread(), id)) {
            Some((read_under, user)) if *read_under == version => Some(user.clone()),
            _ => None,
        }
    }

    /// Keeps `user`'s row as read under `version` (taken before the read began).
    pub fn put(&self, version: DataVersion, user: &User) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert((version.thread(), user.id), (version, user.clone()));
    }
}
