//! How a run's events are printed: `Running upgrade … -> …, message ... done in 3.1 ms`.

use std::io::Write as _;
use std::time::Duration;

use crate::migrate::Event;

#[derive(Default)]
pub struct Progress {
    line_open: bool,
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
            Event::Started(step) => {
                print!("{step} ... ");
                let _ = std::io::stdout().flush();
                self.line_open = true;
            }
            Event::Finished(_, elapsed) => {
                println!("done in {}", duration(elapsed));
                self.line_open = false;
            }
        }
    }

    /// Ends a line a failed step left open, so that the error starts on its own line.
    pub fn finish_line(&mut self) {
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
