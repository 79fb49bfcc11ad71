//! Any text read as a DATABASE_URL: an error or a URL, never a panic; the URL as shown
//! never shows its password, and reads back as the same URL.

#![no_main]

use dbmigrate::DatabaseUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(url) = DatabaseUrl::parse(text) else {
        return;
    };
    let shown = url.masked();
    if let DatabaseUrl::Server { url: inner, .. } = &url
        && inner.password().is_some()
    {
        let shown_password = url::Url::parse(&shown)
            .unwrap_or_else(|e| panic!("{shown} is not a URL: {e}"))
            .password()
            .map(str::to_string);
        assert_eq!(shown_password.as_deref(), Some("***"), "{shown}");
    }
    let _ = url.driver_string();
    let _ = url.database_name();
});
