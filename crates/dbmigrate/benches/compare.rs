//! Autogenerate's comparison on a large schema: 200 tables of 10 columns and 2 indexes,
//! read from the live database and compared with the same schema as models, on each
//! database that is reachable. Prints the median of several runs.
//!
//!     cargo bench -p dbmigrate --bench compare

use std::time::{Duration, Instant};

use dbmigrate::apply::apply;
use dbmigrate::autogenerate::compare_with_database;
use dbmigrate::compare::CompareOptions;
use dbmigrate::schema::{Column, ColumnType, Schema, Table};
use dbmigrate::testing::TestDb;
use dbmigrate::{Dialect, connect};

const TABLES: usize = 200;
const RUNS: usize = 7;

fn large_schema() -> Schema {
    let tables = (0..TABLES)
        .map(|t| {
            let mut table = Table::new(&format!("table_{t:03}")).id_column("id");
            for c in 1..10 {
                let ty = match c % 3 {
                    0 => ColumnType::Integer,
                    1 => ColumnType::String(Some(100)),
                    _ => ColumnType::DateTime,
                };
                table = table.column(Column::new(&format!("column_{c}"), ty));
            }
            table.index("column_1", true).index("column_2", false)
        })
        .collect();
    Schema::new(tables)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let schema = large_schema();
    for dialect in Dialect::ALL {
        let Some(db) = TestDb::new(dialect) else {
            continue;
        };
        let mut conn = connect(&db.url).expect("connect");
        apply(
            &mut conn,
            &schema.creation_ops(),
            &Schema::default(),
            |_| Ok(()),
        )
        .expect("create the tables");
        let samples: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let comparison =
                    compare_with_database(&mut conn, &schema, CompareOptions::default(), &[])
                        .expect("compare");
                let elapsed = started.elapsed();
                assert!(comparison.is_empty(), "{:?}", comparison.changes.first());
                elapsed
            })
            .collect();
        println!(
            "compare {TABLES} tables x 10 columns x 2 indexes with the live {dialect} database: median {:.1} ms over {RUNS} runs (min {:.1} ms)",
            median(samples.clone()).as_secs_f64() * 1000.0,
            samples.iter().min().unwrap().as_secs_f64() * 1000.0,
        );
    }
}
