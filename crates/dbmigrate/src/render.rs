//! DDL for the schema model, in each database's own SQL. What is the same for all three
//! lives here; what differs is asked of [`Dialect`] (spelling of types, quoting, defaults).

use crate::schema::{Column, ColumnDefault, ColumnType, ForeignKey, Index, Table};
use crate::url::Dialect;

impl Dialect {
    /// Quotes an identifier, so that reserved words such as `user` are safe everywhere.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Mysql => format!("`{}`", ident.replace('`', "``")),
            _ => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    pub fn quote_list(self, idents: &[String]) -> String {
        idents
            .iter()
            .map(|i| self.quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The type as this database spells it.
    pub fn type_sql(self, ty: &ColumnType) -> String {
        use ColumnType::*;
        match (self, ty) {
            (_, SmallInteger) => "SMALLINT".into(),
            (_, Integer) => "INTEGER".into(),
            (_, BigInteger) => "BIGINT".into(),
            (Dialect::Mysql, Boolean) => "BOOL".into(),
            (_, Boolean) => "BOOLEAN".into(),
            (_, String(Some(n))) => format!("VARCHAR({n})"),
            (Dialect::Mysql, String(None)) => "TEXT".into(),
            (_, String(None)) => "VARCHAR".into(),
            (_, Text) => "TEXT".into(),
            (Dialect::Postgres, Float) => "REAL".into(),
            (_, Float) => "FLOAT".into(),
            (Dialect::Postgres, Double) => "DOUBLE PRECISION".into(),
            (_, Double) => "DOUBLE".into(),
            (_, Numeric { precision, scale }) => format!("NUMERIC({precision}, {scale})"),
            (_, Date) => "DATE".into(),
            (Dialect::Mysql, Time) => "TIME(6)".into(),
            (_, Time) => "TIME".into(),
            (Dialect::Sqlite, DateTime) => "DATETIME".into(),
            (Dialect::Postgres, DateTime) => "TIMESTAMP WITHOUT TIME ZONE".into(),
            // Six digits, so that MySQL gives back the microseconds the others keep.
            (Dialect::Mysql, DateTime) => "DATETIME(6)".into(),
            (Dialect::Postgres, Binary) => "BYTEA".into(),
            (Dialect::Mysql, Binary) => "LONGBLOB".into(),
            (Dialect::Sqlite, Binary) => "BLOB".into(),
        }
    }

    pub fn default_sql(self, default: &ColumnDefault) -> String {
        match (self, default) {
            (_, ColumnDefault::Literal(sql)) => sql.clone(),
            (Dialect::Mysql, ColumnDefault::CurrentTimestamp) => "CURRENT_TIMESTAMP(6)".into(),
            (_, ColumnDefault::CurrentTimestamp) => "CURRENT_TIMESTAMP".into(),
        }
    }

    /// A column as it appears inside CREATE TABLE or ADD COLUMN.
    pub fn column_sql(self, column: &Column) -> String {
        let mut sql = format!("{} ", self.quote(&column.name));
        let serial = column.autoincrement && self == Dialect::Postgres;
        sql.push_str(&match (serial, &column.ty) {
            (true, ColumnType::SmallInteger) => "SMALLSERIAL".into(),
            (true, ColumnType::BigInteger) => "BIGSERIAL".into(),
            (true, _) => "SERIAL".into(),
            // Only a column declared exactly INTEGER takes its values from the rowid.
            (false, _) if column.autoincrement && self == Dialect::Sqlite => "INTEGER".into(),
            (false, ty) => self.type_sql(ty),
        });
        if !column.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            sql.push_str(" DEFAULT ");
            sql.push_str(&self.default_sql(default));
        }
        if column.autoincrement && self == Dialect::Mysql {
            sql.push_str(" AUTO_INCREMENT");
        }
        sql
    }

    pub fn foreign_key_sql(self, fk: &ForeignKey) -> String {
        let mut sql = format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            self.quote(&fk.name),
            self.quote_list(&fk.columns),
            self.quote(&fk.ref_table),
            self.quote_list(&fk.ref_columns),
        );
        if let Some(action) = fk.on_delete {
            sql.push_str(" ON DELETE ");
            sql.push_str(action.sql());
        }
        sql
    }

    /// CREATE TABLE, then one CREATE INDEX per index.
    pub fn create_table(self, table: &Table) -> Vec<String> {
        let mut parts: Vec<String> = table.columns.iter().map(|c| self.column_sql(c)).collect();
        if !table.primary_key.is_empty() {
            parts.push(format!(
                "PRIMARY KEY ({})",
                self.quote_list(&table.primary_key)
            ));
        }
        for unique in &table.unique_constraints {
            parts.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                self.quote(&unique.name),
                self.quote_list(&unique.columns)
            ));
        }
        for fk in &table.foreign_keys {
            parts.push(self.foreign_key_sql(fk));
        }
        let options = match self {
            // Binary collation: the same case-sensitive uniqueness and order as the others.
            Dialect::Mysql => " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            _ => "",
        };
        let mut statements = vec![format!(
            "CREATE TABLE {} (\n    {}\n){options}",
            self.quote(&table.name),
            parts.join(",\n    ")
        )];
        statements.extend(
            table
                .indexes
                .iter()
                .map(|i| self.create_index(&table.name, i)),
        );
        statements
    }

    pub fn create_index(self, table: &str, index: &Index) -> String {
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            self.quote(&index.name),
            self.quote(table),
            self.quote_list(&index.columns)
        )
    }

    /// Renames a foreign key in one statement, keeping the index it uses; `None` where the
    /// database cannot (SQLite rebuilds the table instead).
    pub fn rename_foreign_key(self, table: &str, from: &str, key: &ForeignKey) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                self.quote(table),
                self.quote(from),
                self.quote(&key.name)
            )),
            Dialect::Mysql => Some(format!(
                "ALTER TABLE {} DROP FOREIGN KEY {}, ADD {}",
                self.quote(table),
                self.quote(from),
                self.foreign_key_sql(key)
            )),
        }
    }

    pub fn drop_index(self, table: &str, name: &str) -> String {
        match self {
            Dialect::Mysql => format!("DROP INDEX {} ON {}", self.quote(name), self.quote(table)),
            _ => format!("DROP INDEX {}", self.quote(name)),
        }
    }

    pub fn drop_table(self, table: &str) -> String {
        format!("DROP TABLE {}", self.quote(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn post() -> Table {
        Table::new("post")
            .id_column("id")
            .column(Column::new("body", ColumnType::String(Some(140))))
            .column(Column::new("timestamp", ColumnType::DateTime))
            .column(Column::new("user_id", ColumnType::Integer))
            .index("timestamp", false)
            .foreign_key("user_id", "user", "id")
    }

    #[test]
    fn create_table_in_each_dialect() {
        let rendered: Vec<String> = Dialect::ALL
            .iter()
            .map(|d| format!("-- {d}\n{};\n", d.create_table(&post()).join(";\n")))
            .collect();
        assert_eq!(
            rendered.join("\n"),
            r#"-- sqlite
CREATE TABLE "post" (
    "id" INTEGER NOT NULL,
    "body" VARCHAR(140),
    "timestamp" DATETIME,
    "user_id" INTEGER,
    PRIMARY KEY ("id"),
    CONSTRAINT "fk_post_user_id_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id")
);
CREATE INDEX "ix_post_timestamp" ON "post" ("timestamp");

-- postgresql
CREATE TABLE "post" (
    "id" SERIAL NOT NULL,
    "body" VARCHAR(140),
    "timestamp" TIMESTAMP WITHOUT TIME ZONE,
    "user_id" INTEGER,
    PRIMARY KEY ("id"),
    CONSTRAINT "fk_post_user_id_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id")
);
CREATE INDEX "ix_post_timestamp" ON "post" ("timestamp");

-- mysql
CREATE TABLE `post` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `body` VARCHAR(140),
    `timestamp` DATETIME(6),
    `user_id` INTEGER,
    PRIMARY KEY (`id`),
    CONSTRAINT `fk_post_user_id_user` FOREIGN KEY (`user_id`) REFERENCES `user` (`id`)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX `ix_post_timestamp` ON `post` (`timestamp`);
"#
        );
    }

    #[test]
    fn identifiers_with_quotes_are_escaped() {
        assert_eq!(Dialect::Postgres.quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(Dialect::Mysql.quote("we`ird"), "`we``ird`");
    }
}
