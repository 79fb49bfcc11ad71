//! Pages rendered for anonymous visitors, kept while the data under them is unchanged. A
//! hit costs one `PRAGMA data_version` (SQLite) or a look at what the watcher heard
//! (PostgreSQL and MySQL, `changes.rs`) instead of the page's queries and its rendering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;

use axum::body::Bytes;

use super::pool::DataVersion;

/// Enough for the first pages of the index and the user pages most read.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct PageCache {
    /// SQLite's versions are per connection, and each worker thread has its own: entries
    /// are too (on PostgreSQL, every entry has the listener's thread).
    entries: Mutex<HashMap<(ThreadId, String), (DataVersion, Bytes)>>,
}

impl PageCache {
    /// The page stored under `key`, if it was rendered from the data `version` describes.
    /// Shared, not copied: a hit hands the same bytes to the response.
    pub fn get(&self, key: &str, version: DataVersion) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&(version.thread(), key.to_string())) {
            Some((stored, html)) if *stored == version => Some(html.clone()),
            _ => None,
        }
    }

    pub fn put(&self, key: &str, version: DataVersion, html: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert((version.thread(), key.to_string()), (version, html));
    }
}
