//! Operations as SQL statements for one database. What SQLite's ALTER TABLE cannot do
//! (change a column's type, nullability or default, add or drop a constraint or foreign key)
//! becomes SQLite's documented table rebuild: a new table, the rows copied, the old one
//! dropped, the new one renamed, the indexes made again. The runner wraps a revision in one
//! transaction with foreign keys switched off before it and checked before commit.

use crate::ops::{Op, OpError};
use crate::schema::{Schema, Table};
use crate::url::Dialect;

/// The name a table has while SQLite rebuilds it.
pub const REBUILD_PREFIX: &str = "_dbmigrate_rebuild_";

impl Dialect {
    /// The statements that apply `op` to a database whose schema is `before`.
    pub fn op_statements(self, op: &Op, before: &Schema) -> Result<Vec<String>, OpError> {
        let resolved = op.resolved(before);
        let op = resolved.as_ref().unwrap_or(op);
        let mut after = before.clone();
        after.apply(op)?;
        let q = |ident: &str| self.quote(ident);
        let table_after = |name: &str| after.table(name).expect("apply checked the table");
        let table_before = |name: &str| before.table(name).expect("apply checked the table");
        let statements = match op {
            Op::CreateTable { table, .. } => {
                let mut create = table_after(table).clone();
                create.indexes.clear();
                self.create_table(&create)
            }
            Op::DropTable { table } => vec![self.drop_table(table)],
            Op::RenameTable { table, new_name } => {
                vec![format!(
                    "ALTER TABLE {} RENAME TO {}",
                    q(table),
                    q(new_name)
                )]
            }
            Op::AddColumn { table, column } => {
                let sqlite_cannot =
                    !column.nullable && column.default.is_none() || column.autoincrement;
                if self == Dialect::Sqlite && sqlite_cannot {
                    rebuild(table_before(table), table_after(table))
                } else {
                    vec![format!(
                        "ALTER TABLE {} ADD COLUMN {}",
                        q(table),
                        self.column_sql(column)
                    )]
                }
            }
            Op::DropColumn { table, column } => {
                let old = table_before(table);
                let constrained = old.primary_key.contains(column)
                    || old.indexes.iter().any(|i| i.columns.contains(column))
                    || old
                        .unique_constraints
                        .iter()
                        .any(|u| u.columns.contains(column))
                    || old.foreign_keys.iter().any(|f| f.columns.contains(column));
                if self == Dialect::Sqlite && constrained {
                    rebuild(old, table_after(table))
                } else {
                    vec![format!(
                        "ALTER TABLE {} DROP COLUMN {}",
                        q(table),
                        q(column)
                    )]
                }
            }
            Op::AlterColumn {
                table,
                column,
                ty,
                nullable,
                set_default,
                drop_default,
                new_name,
            } => {
                let changes_definition =
                    ty.is_some() || nullable.is_some() || set_default.is_some() || *drop_default;
                let final_name = new_name.as_deref().unwrap_or(column);
                let new_column = table_after(table)
                    .find_column(final_name)
                    .expect("apply checked the column")
                    .clone();
                let mut statements = Vec::new();
                match self {
                    Dialect::Sqlite if changes_definition => {
                        // Rename natively first, then rebuild with the new definition.
                        let mut renamed = before.clone();
                        if let Some(new_name) = new_name {
                            statements.push(rename_column(self, table, column, new_name));
                            renamed.apply(&Op::AlterColumn {
                                table: table.clone(),
                                column: column.clone(),
                                ty: None,
                                nullable: None,
                                set_default: None,
                                drop_default: false,
                                new_name: Some(new_name.clone()),
                            })?;
                        }
                        statements.extend(rebuild(
                            renamed.table(table).expect("checked"),
                            table_after(table),
                        ));
                    }
                    Dialect::Sqlite => {}
                    Dialect::Postgres => {
                        let alter = format!("ALTER TABLE {} ALTER COLUMN {}", q(table), q(column));
                        if let Some(ty) = ty {
                            let ty = self.type_sql(ty);
                            statements.push(format!("{alter} TYPE {ty} USING {}::{ty}", q(column)));
                        }
                        match nullable {
                            Some(false) => statements.push(format!("{alter} SET NOT NULL")),
                            Some(true) => statements.push(format!("{alter} DROP NOT NULL")),
                            None => {}
                        }
                        if *drop_default && set_default.is_none() {
                            statements.push(format!("{alter} DROP DEFAULT"));
                        }
                        if let Some(default) = set_default {
                            statements
                                .push(format!("{alter} SET DEFAULT {}", self.default_sql(default)));
                        }
                    }
                    Dialect::Mysql => {
                        if changes_definition {
                            let mut definition = new_column.clone();
                            definition.name = column.clone();
                            statements.push(format!(
                                "ALTER TABLE {} MODIFY COLUMN {}",
                                q(table),
                                self.column_sql(&definition)
                            ));
                        }
                    }
                }
                if let Some(new_name) = new_name
                    && !(self == Dialect::Sqlite && changes_definition)
                {
                    statements.push(rename_column(self, table, column, new_name));
                }
                statements
            }
            Op::CreateIndex { table, name, .. } => {
                let index = table_after(table)
                    .indexes
                    .iter()
                    .find(|i| &i.name == name)
                    .expect("apply added it");
                vec![self.create_index(table, index)]
            }
            Op::DropIndex { table, name } if self == Dialect::Mysql => {
                mysql_drop_index(table_before(table), table_after(table), name)
            }
            Op::DropIndex { table, name } => vec![self.drop_index(table, name)],
            Op::CreateUniqueConstraint {
                table,
                name,
                columns,
            } => match self {
                Dialect::Sqlite => rebuild(table_before(table), table_after(table)),
                _ => vec![format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                    q(table),
                    q(name),
                    self.quote_list(columns)
                )],
            },
            Op::DropUniqueConstraint { table, name } => match self {
                Dialect::Sqlite => rebuild(table_before(table), table_after(table)),
                Dialect::Postgres => vec![format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    q(table),
                    q(name)
                )],
                Dialect::Mysql => vec![format!("ALTER TABLE {} DROP INDEX {}", q(table), q(name))],
            },
            Op::CreateForeignKey { table, name, .. } => match self {
                Dialect::Sqlite => rebuild(table_before(table), table_after(table)),
                _ => {
                    let fk = table_after(table)
                        .foreign_keys
                        .iter()
                        .find(|f| &f.name == name)
                        .expect("apply added it");
                    vec![format!(
                        "ALTER TABLE {} ADD {}",
                        q(table),
                        self.foreign_key_sql(fk)
                    )]
                }
            },
            Op::DropForeignKey { table, name } => match self {
                Dialect::Sqlite => rebuild(table_before(table), table_after(table)),
                Dialect::Postgres => vec![format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    q(table),
                    q(name)
                )],
                Dialect::Mysql => {
                    let mut statements = vec![format!(
                        "ALTER TABLE {} DROP FOREIGN KEY {}",
                        q(table),
                        q(name)
                    )];
                    // Without an index of its own to use, InnoDB made one, named after the
                    // key, and keeps it after the key is gone.
                    let old = table_before(table);
                    let fk = old.foreign_keys.iter().find(|f| &f.name == name);
                    if fk.is_some_and(|fk| !old.has_index_for(&fk.columns)) {
                        statements.push(self.drop_index(table, name));
                    }
                    statements
                }
            },
            Op::Sql {
                sql,
                sqlite,
                postgresql,
                mysql,
            } => {
                let variant = match self {
                    Dialect::Sqlite => sqlite,
                    Dialect::Postgres => postgresql,
                    Dialect::Mysql => mysql,
                };
                vec![variant.as_ref().unwrap_or(sql).clone()]
            }
        };
        Ok(statements)
    }
}

/// InnoDB refuses to drop the index a foreign key uses; the key is dropped first and made
/// again after, when InnoDB gives it an index of its own.
fn mysql_drop_index(before: &Table, after: &Table, name: &str) -> Vec<String> {
    let d = Dialect::Mysql;
    let dropped = before
        .indexes
        .iter()
        .find(|i| i.name == name)
        .expect("apply checked it");
    let orphaned: Vec<&crate::schema::ForeignKey> = after
        .foreign_keys
        .iter()
        .filter(|fk| dropped.columns.starts_with(&fk.columns) && !after.has_index_for(&fk.columns))
        .collect();
    let mut statements: Vec<String> = orphaned
        .iter()
        .map(|fk| {
            format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}",
                d.quote(&before.name),
                d.quote(&fk.name)
            )
        })
        .collect();
    statements.push(d.drop_index(&before.name, name));
    statements.extend(orphaned.iter().map(|fk| {
        format!(
            "ALTER TABLE {} ADD {}",
            d.quote(&before.name),
            d.foreign_key_sql(fk)
        )
    }));
    statements
}

fn rename_column(dialect: Dialect, table: &str, column: &str, new_name: &str) -> String {
    format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        dialect.quote(table),
        dialect.quote(column),
        dialect.quote(new_name)
    )
}

/// SQLite's twelve-step procedure, the steps that are statements: the runner does the rest
/// (foreign keys off before the transaction, `PRAGMA foreign_key_check` before commit).
fn rebuild(old: &Table, new: &Table) -> Vec<String> {
    let d = Dialect::Sqlite;
    let temporary = format!("{REBUILD_PREFIX}{}", new.name);
    let mut shape = new.clone();
    shape.name = temporary.clone();
    shape.indexes.clear();
    let mut statements = d.create_table(&shape);
    let kept: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.find_column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    let kept = d.quote_list(&kept);
    statements.push(format!(
        "INSERT INTO {} ({kept}) SELECT {kept} FROM {}",
        d.quote(&temporary),
        d.quote(&old.name)
    ));
    statements.push(d.drop_table(&old.name));
    statements.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        d.quote(&temporary),
        d.quote(&new.name)
    ));
    statements.extend(new.indexes.iter().map(|i| d.create_index(&new.name, i)));
    statements
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    fn schema() -> Schema {
        Schema::new(vec![
            Table::new("user").id_column("id"),
            Table::new("post")
                .id_column("id")
                .column(Column::new("body", ColumnType::String(Some(140))))
                .column(Column::new("user_id", ColumnType::Integer))
                .index("body", false),
        ])
    }

    fn widen_body() -> Op {
        Op::AlterColumn {
            table: "post".into(),
            column: "body".into(),
            ty: Some(ColumnType::String(Some(280))),
            nullable: Some(false),
            set_default: None,
            drop_default: false,
            new_name: None,
        }
    }

    fn all_dialects(op: &Op) -> String {
        Dialect::ALL
            .iter()
            .map(|d| {
                format!(
                    "-- {d}\n{};\n",
                    d.op_statements(op, &schema()).unwrap().join(";\n")
                )
            })
            .collect::<Vec<_>>()
            .join("")
    }

    #[test]
    fn altering_a_column_is_native_on_servers_and_a_rebuild_on_sqlite() {
        assert_eq!(
            all_dialects(&widen_body()),
            r#"-- sqlite
CREATE TABLE "_dbmigrate_rebuild_post" (
    "id" INTEGER NOT NULL,
    "body" VARCHAR(280) NOT NULL,
    "user_id" INTEGER,
    PRIMARY KEY ("id")
);
INSERT INTO "_dbmigrate_rebuild_post" ("id", "body", "user_id") SELECT "id", "body", "user_id" FROM "post";
DROP TABLE "post";
ALTER TABLE "_dbmigrate_rebuild_post" RENAME TO "post";
CREATE INDEX "ix_post_body" ON "post" ("body");
-- postgresql
ALTER TABLE "post" ALTER COLUMN "body" TYPE VARCHAR(280) USING "body"::VARCHAR(280);
ALTER TABLE "post" ALTER COLUMN "body" SET NOT NULL;
-- mysql
ALTER TABLE `post` MODIFY COLUMN `body` VARCHAR(280) NOT NULL;
"#
        );
    }

    #[test]
    fn adding_a_foreign_key_rebuilds_on_sqlite_only() {
        let op = Op::CreateForeignKey {
            table: "post".into(),
            name: "fk_post_user_id_user".into(),
            columns: vec!["user_id".into()],
            ref_table: "user".into(),
            ref_columns: vec!["id".into()],
            on_delete: None,
        };
        let sql = all_dialects(&op);
        assert!(sql.contains(
            "CONSTRAINT \"fk_post_user_id_user\" FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\")\n);"
        ));
        assert!(sql.contains(
            "ALTER TABLE \"post\" ADD CONSTRAINT \"fk_post_user_id_user\" FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\");"
        ));
        assert!(sql.contains("ALTER TABLE `post` ADD CONSTRAINT `fk_post_user_id_user`"));
    }

    #[test]
    fn a_rename_is_native_everywhere() {
        let op = Op::AlterColumn {
            table: "post".into(),
            column: "body".into(),
            ty: None,
            nullable: None,
            set_default: None,
            drop_default: false,
            new_name: Some("text".into()),
        };
        for d in Dialect::ALL {
            assert_eq!(
                d.op_statements(&op, &schema()).unwrap(),
                [format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    d.quote("post"),
                    d.quote("body"),
                    d.quote("text")
                )]
            );
        }
    }

    #[test]
    fn sql_variants_replace_the_general_sql_on_their_database() {
        let op = Op::Sql {
            sql: "UPDATE post SET body = ''".into(),
            sqlite: None,
            postgresql: Some("UPDATE post SET body = '' WHERE true".into()),
            mysql: None,
        };
        assert_eq!(
            Dialect::Postgres.op_statements(&op, &schema()).unwrap(),
            ["UPDATE post SET body = '' WHERE true"]
        );
        assert_eq!(
            Dialect::Mysql.op_statements(&op, &schema()).unwrap(),
            ["UPDATE post SET body = ''"]
        );
    }

    #[test]
    fn an_operation_on_a_missing_table_is_an_error_not_sql() {
        let op = Op::DropColumn {
            table: "nope".into(),
            column: "x".into(),
        };
        assert_eq!(
            Dialect::Sqlite.op_statements(&op, &schema()),
            Err(OpError::NoTable("nope".into()))
        );
    }
}
