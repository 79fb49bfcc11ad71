//! How a run's events are printed: `Running upgrade … -> …, message ... done in 3.1 ms`,
//! what a step waits for on its own lines, and a backfill's progress as a bar on a terminal.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use crate::apply::Notice;
use crate::migrate::Event;

#[derive(Default)]
pub struct Progress {
    line_open: bool,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn show(&mut self, event: Event) {
        match event {
            Event::WaitingForLock => {
                eprintln!(
                    "Another migration of this database is running; waiting for it to finish ..."
                )
            }
            Event::Edited(revision) => eprintln!(
                "warning: revision {} ({}) was edited after it was applied to this database",
                revision.id, revision.source
            ),
            Event::Adopted(adoption) => eprintln!("{adoption}"),
            Event::TakenOver(takeover) => eprintln!("{takeover}"),
            Event::Started(step) => {
                print!("{step} ... ");
                let _ = std::io::stdout().flush();
                self.line_open = true;
            }
            Event::Notice(notice) => self.notice(notice),
            Event::Finished(_, elapsed) => {
                self.end_bar();
                println!("done in {}", duration(elapsed));
                self.line_open = false;
            }
        }
    }

    fn notice(&mut self, notice: &Notice) {
        if let Notice::Backfilled { table, done, total } = notice {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(*total).with_style(
                    indicatif::ProgressStyle::with_template(
                        "  {msg} {bar:30} {percent}% of the keys, {eta} left",
                    )
                    .expect("the template is valid"),
                );
                bar.set_message(format!("backfilling '{table}'"));
                bar
            });
            bar.set_position(*done);
            return;
        }
        self.end_bar();
        // On a terminal the notice gets a line of its own; elsewhere standard output keeps
        // its one line per revision for whatever reads it.
        if self.line_open && std::io::stdout().is_terminal() {
            println!();
            self.line_open = false;
        }
        eprintln!("  {notice}");
    }

    fn end_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Ends a line a failed step left open, so that the error starts on its own line.
    pub fn finish_line(&mut self) {
        self.end_bar();
        if self.line_open {
            println!("failed");
            self.line_open = false;
        }
    }
}

fn duration(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{:.1} ms", elapsed.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", elapsed.as_secs_f64())
    }
}
