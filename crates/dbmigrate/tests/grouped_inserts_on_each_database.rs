//! A commit that adds many rows writes them several to a statement on SQLite and
//! PostgreSQL (one at a time on MySQL): whichever way, every added object's key is the key
//! of its own row, references between the new rows hold, and a bad row writes nothing.

use chrono::NaiveDateTime;
use dbmigrate::model::{Pending, Session};
use dbmigrate::testing::TestDb;
use dbmigrate::{connect, on_each_database};

#[dbmigrate::models]
mod declared {
    use chrono::NaiveDateTime;

    #[model]
    pub struct Writer {
        #[column(primary_key)]
        pub id: i32,
        #[column(length = 40, unique)]
        pub name: String,
        pub motto: Option<String>,
        #[column(server_default = "0")]
        pub karma: i32,
        pub joined: Option<NaiveDateTime>,
    }

    #[model]
    pub struct Note {
        #[column(primary_key)]
        pub id: i64,
        pub body: String,
        #[column(foreign_key = Writer, relationship = writer, backref = notes)]
        pub writer_id: i32,
        #[column(foreign_key = Note, relationship = parent, backref = replies)]
        pub parent_id: Option<i64>,
    }

    #[model]
    pub struct Label {
        #[column(primary_key, length = 20)]
        pub code: String,
        pub title: String,
    }
}

use declared::{Label, NewLabel, NewNote, NewWriter, Note, Writer};

/// More than one statement holds, and not a power of two.
const MANY: usize = 600;

fn migrated(db: &TestDb) -> Session {
    dbmigrate::testing::migrated_session(db, declared::schema())
}

fn writer(name: &str) -> NewWriter {
    NewWriter {
        name: Some(name.to_string()),
        ..Default::default()
    }
}

fn note(body: &str, writer: Pending<Writer>) -> NewNote {
    NewNote {
        body: Some(body.to_string()),
        ..Default::default()
    }
    .writer(writer)
}

fn stored<M: dbmigrate::model::Model>(session: &mut Session, pending: Pending<M>) -> M {
    let key = session.id_of(pending).expect("committed");
    session
        .get(key)
        .unwrap()
        .expect("the key is of a stored row")
}

fn count<M: dbmigrate::model::Model>(session: &mut Session) -> i64 {
    M::count(M::query(), session.conn()).unwrap()
}

on_each_database! {
    fn every_added_object_gets_the_key_of_its_own_row(db: &TestDb) {
        let mut session = migrated(db);
        let writers: Vec<_> = (0..MANY).map(|i| session.add(writer(&format!("writer {i}")))).collect();
        let notes: Vec<_> = (0..MANY).map(|i| session.add(note(&format!("note {i}"), writers[MANY - 1 - i]))).collect();
        session.commit().unwrap();
        for (i, pending) in writers.into_iter().enumerate() {
            assert_eq!(stored(&mut session, pending).name, format!("writer {i}"));
        }
        for (i, pending) in notes.into_iter().enumerate() {
            let note = stored(&mut session, pending);
            assert_eq!(note.body, format!("note {i}"));
            let writer = note.writer(session.conn()).unwrap().expect("a writer");
            assert_eq!(writer.name, format!("writer {}", MANY - 1 - i), "each note refers to its own writer");
        }
    }

    fn keys_stay_right_when_another_connection_adds_rows_between_and_during_commits(db: &TestDb) {
        let mut session = migrated(db);
        let mut other = Session::new(connect(&db.url).unwrap(), declared::schema());
        for round in 0..3 {
            other.add(writer(&format!("between {round}")));
            other.commit().unwrap();
            let during = std::thread::scope(|scope| {
                let other = &mut other;
                let racing = scope.spawn(move || {
                    let pending: Vec<_> = (0..MANY).map(|i| other.add(writer(&format!("other {round} {i}")))).collect();
                    other.commit().unwrap();
                    pending
                });
                let mine: Vec<_> = (0..MANY).map(|i| session.add(writer(&format!("mine {round} {i}")))).collect();
                session.commit().unwrap();
                (mine, racing.join().unwrap())
            });
            for (i, pending) in during.0.into_iter().enumerate() {
                assert_eq!(stored(&mut session, pending).name, format!("mine {round} {i}"));
            }
            for (i, pending) in during.1.into_iter().enumerate() {
                assert_eq!(stored(&mut other, pending).name, format!("other {round} {i}"));
            }
        }
        assert_eq!(count::<Writer>(&mut session), 3 * (2 * MANY as i64 + 1));
    }

    fn a_row_may_refer_to_a_row_of_its_own_table_added_just_before_it(db: &TestDb) {
        let mut session = migrated(db);
        let author = session.add(writer("author"));
        let mut thread = vec![session.add(note("note 0", author))];
        for i in 1..50 {
            let parent = *thread.last().unwrap();
            thread.push(session.add(note(&format!("note {i}"), author).parent(parent)));
        }
        session.commit().unwrap();
        for (i, pending) in thread.into_iter().enumerate().skip(1) {
            let reply = stored(&mut session, pending);
            let parent = reply.parent(session.conn()).unwrap().expect("a parent");
            assert_eq!((reply.body, parent.body), (format!("note {i}"), format!("note {}", i - 1)));
        }
    }

    fn rows_that_leave_different_columns_empty_each_take_their_defaults(db: &TestDb) {
        let mut session = migrated(db);
        let joined: NaiveDateTime = "2025-03-04T05:06:07.000008".parse().unwrap();
        let added: Vec<_> = (0..40)
            .map(|i| {
                session.add(NewWriter {
                    motto: (i % 2 == 0).then(|| format!("motto {i}")),
                    karma: (i % 3 == 0).then_some(i),
                    joined: (i % 5 == 0).then_some(joined),
                    ..writer(&format!("writer {i}"))
                })
            })
            .collect();
        session.commit().unwrap();
        for (i, pending) in added.into_iter().enumerate() {
            let stored = stored(&mut session, pending);
            let i = i as i32;
            assert_eq!(stored.name, format!("writer {i}"));
            assert_eq!(stored.motto, (i % 2 == 0).then(|| format!("motto {i}")));
            assert_eq!(stored.karma, if i % 3 == 0 { i } else { 0 }, "the server's default");
            assert_eq!(stored.joined, (i % 5 == 0).then_some(joined));
        }
    }

    fn rows_whose_keys_are_given_keep_them(db: &TestDb) {
        let mut session = migrated(db);
        let labels: Vec<_> = (0..MANY)
            .map(|i| session.add(NewLabel { code: Some(format!("L{i:04}")), title: Some(format!("label {i}")) }))
            .collect();
        session.commit().unwrap();
        for (i, pending) in labels.into_iter().enumerate() {
            assert_eq!(session.id_of(pending), Some(format!("L{i:04}")));
            let label: Label = stored(&mut session, pending);
            assert_eq!(label.title, format!("label {i}"));
        }
    }

    fn one_bad_row_among_many_writes_none_of_them(db: &TestDb) {
        let mut session = migrated(db);
        session.add(writer("taken"));
        session.commit().unwrap();
        let author = session.add(writer("fresh"));
        for i in 0..MANY {
            session.add(note(&format!("note {i}"), author));
        }
        for i in 0..MANY {
            session.add(writer(&if i == MANY / 2 { "taken".to_string() } else { format!("writer {i}") }));
        }
        let error = session.commit().unwrap_err();
        assert!(error.violation().is_some(), "{error}");
        assert_eq!((count::<Writer>(&mut session), count::<Note>(&mut session)), (1, 0));
        session.rollback();
        let again = session.add(writer("after"));
        session.commit().unwrap();
        assert_eq!(stored(&mut session, again).name, "after", "the session goes on");
    }
}
