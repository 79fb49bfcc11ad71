//! Any text read as a revision file: an error or a revision, never a panic; and a revision
//! read back from the file written for it is the same revision.

#![no_main]

use dbmigrate::Revision;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(revision) = Revision::parse(text, "fuzzed.toml") else {
        return;
    };
    let written = revision.to_toml();
    let again = Revision::parse(&written, "written.toml")
        .unwrap_or_else(|e| panic!("the written file does not read back: {e}\n{written}"));
    assert_eq!(
        (&again.id, &again.down, &again.message, &again.created),
        (
            &revision.id,
            &revision.down,
            &revision.message,
            &revision.created
        )
    );
    assert_eq!(again.transaction, revision.transaction);
    assert_eq!(again.accept, revision.accept);
    assert_eq!(again.upgrade, revision.upgrade);
    assert_eq!(again.downgrade, revision.downgrade);
});
