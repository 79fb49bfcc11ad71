//! Lock modes, the lock policy's settings, and retrying under the lock timeout.

use super::LockMode::*;
use super::*;

#[test]
fn modes_conflict_as_postgresql_documents() {
    // Each row: the modes a mode conflicts with, from the manual's table.
    let expected = [
        (AccessShare, vec![AccessExclusive]),
        (RowShare, vec![Exclusive, AccessExclusive]),
        (
            RowExclusive,
            vec![Share, ShareRowExclusive, Exclusive, AccessExclusive],
        ),
        (
            ShareUpdateExclusive,
            vec![
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
        ),
        (
            Share,
            vec![
                RowExclusive,
                ShareUpdateExclusive,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
        ),
        (
            ShareRowExclusive,
            vec![
                RowExclusive,
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
        ),
        (
            Exclusive,
            vec![
                RowShare,
                RowExclusive,
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
        ),
        (AccessExclusive, LockMode::ALL.to_vec()),
    ];
    for (mode, conflicting) in expected {
        for other in LockMode::ALL {
            assert_eq!(
                mode.conflicts_with(other),
                conflicting.contains(&other),
                "{mode:?} against {other:?}"
            );
        }
    }
}

#[test]
fn only_locks_that_queue_reads_or_writes_stop_the_site() {
    let stopping: Vec<LockMode> = LockMode::ALL
        .into_iter()
        .filter(|m| m.stops_the_site())
        .collect();
    assert_eq!(
        stopping,
        [Share, ShareRowExclusive, Exclusive, AccessExclusive]
    );
}

#[test]
fn lock_settings_read_as_people_write_times() {
    let timeout = |text| LockPolicy::from_settings(Some(text), None).map(|p| p.timeout);
    assert_eq!(timeout("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(timeout("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(timeout(" 3 "), Ok(Duration::from_secs(3)));
    assert_eq!(timeout("0"), Ok(Duration::ZERO));
    assert!(timeout("soon").is_err());
    assert!(timeout("-1s").is_err());
    assert!(timeout("2h").is_err());
    let retries = |text| LockPolicy::from_settings(None, Some(text)).map(|p| p.retries);
    assert_eq!(retries("0"), Ok(0));
    assert!(retries("many").is_err());
    assert_eq!(
        LockPolicy::from_settings(None, None),
        Ok(LockPolicy::default())
    );
}

#[test]
fn pauses_double_up_to_the_longest() {
    let policy = LockPolicy::default();
    let pauses: Vec<u128> = (1..=6).map(|n| policy.pause(n).as_millis()).collect();
    assert_eq!(pauses, [500, 1000, 2000, 4000, 5000, 5000]);
}
