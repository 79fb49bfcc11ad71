//! Pages rendered for anonymous visitors, kept while the data under them is unchanged. A
//! hit costs one `PRAGMA data_version` instead of the page's queries and its rendering.
//! Only SQLite offers the marker (see [`DataVersion`]); elsewhere nothing is cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::pool::DataVersion;

/// Enough for the first pages of the index and the user pages most read.
const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct PageCache {
    entries: Mutex<HashMap<String, (DataVersion, Arc<str>)>>,
}

impl PageCache {
    /// The page stored under `key`, if it was rendered from the data `version` describes.
    pub fn get(&self, key: &str, version: DataVersion) -> Option<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&cache_key(key, version)) {
            Some((stored, html)) if *stored == version => Some(html.clone()),
            _ => None,
        }
    }

    pub fn put(&self, key: &str, version: DataVersion, html: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(cache_key(key, version), (version, Arc::from(html)));
    }
}

/// Versions are per connection, and each worker thread has its own: entries are too.
fn cache_key(key: &str, version: DataVersion) -> String {
    format!("{:?} {key}", version.thread())
}
