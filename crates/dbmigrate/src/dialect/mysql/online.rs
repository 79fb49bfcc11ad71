//! Online DDL: each ALTER TABLE and index statement is tried first as a change of the
//! table's metadata alone (`ALGORITHM=INSTANT`), then as one made in place while reads and
//! writes go on (`ALGORITHM=INPLACE, LOCK=NONE`); where the server can do neither for the
//! change (a column's type changed, say), it runs as written, locking the table, and says
//! so. `DROP INDEX` changes metadata only, and MariaDB takes no algorithm for it.

use diesel::connection::SimpleConnection;

use crate::apply::Notice;
use crate::connection::AnyConnection;

/// The forms of `statement` to try before the statement itself, best first. A statement
/// written by hand (an `sql` operation) may end in `;` and a line break, which the clause
/// goes before; text holding several statements runs as written.
pub(super) fn forms(statement: &str) -> Vec<String> {
    let statement = statement.trim_end().trim_end_matches(';').trim_end();
    if statement.contains(';') {
        return Vec::new();
    }
    if statement.starts_with("ALTER TABLE ") && !statement.contains(" RENAME TO ") {
        vec![
            format!("{statement}, ALGORITHM=INSTANT"),
            format!("{statement}, ALGORITHM=INPLACE, LOCK=NONE"),
        ]
    } else if ["CREATE INDEX ", "CREATE UNIQUE INDEX "]
        .iter()
        .any(|start| statement.starts_with(start))
    {
        vec![format!("{statement} ALGORITHM=INPLACE LOCK=NONE")]
    } else {
        Vec::new()
    }
}

/// Whether the server refused a form for what it asks of the algorithm or lock, not for
/// the change itself (errors 1845 and 1846, which MySQL and MariaDB word alike).
fn refused_form(error: &diesel::result::Error) -> bool {
    let message = error.to_string();
    message.contains("is not supported")
        && (message.contains("ALGORITHM") || message.contains("LOCK"))
}

/// Runs `statement` in the best form the server takes.
pub(super) fn execute(
    conn: &mut AnyConnection,
    statement: &str,
    notify: &mut dyn FnMut(Notice),
) -> diesel::QueryResult<()> {
    let mut reason = None;
    for form in forms(statement) {
        match conn.batch_execute(&form) {
            Err(error) if refused_form(&error) => reason = Some(error.to_string()),
            done => return done,
        }
    }
    if let Some(reason) = reason {
        notify(Notice::NotOnline {
            statement: statement.to_string(),
            reason,
        });
    }
    conn.batch_execute(statement)
}

#[cfg(test)]
mod tests {
    use super::forms;

    #[test]
    fn alterations_and_indexes_are_tried_online_first() {
        assert_eq!(
            forms("ALTER TABLE `post` ADD COLUMN `x` INTEGER"),
            [
                "ALTER TABLE `post` ADD COLUMN `x` INTEGER, ALGORITHM=INSTANT",
                "ALTER TABLE `post` ADD COLUMN `x` INTEGER, ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        assert_eq!(
            forms("CREATE INDEX `ix` ON `post` (`x`)"),
            ["CREATE INDEX `ix` ON `post` (`x`) ALGORITHM=INPLACE LOCK=NONE"]
        );
        assert_eq!(
            forms("ALTER TABLE users ADD COLUMN email VARCHAR(120);\r\n")[0],
            "ALTER TABLE users ADD COLUMN email VARCHAR(120), ALGORITHM=INSTANT"
        );
        assert!(forms("ALTER TABLE a ADD x INT; ALTER TABLE b ADD y INT;").is_empty());
        assert!(forms("CREATE TABLE `t` (`id` INTEGER)").is_empty());
        assert!(forms("DROP INDEX `ix` ON `post`").is_empty());
        assert!(forms("ALTER TABLE `t` RENAME TO `u`").is_empty());
    }
}
