//! `microblog shell`: the chapter's "Play Time" at a prompt, in Rhai, with `db`, `User` and
//! `Post` bound. At a terminal it reads lines with editing and history; otherwise it runs
//! standard input (or `-c`) as a script, echoing values the same way.

mod bindings;
mod query;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::rc::Rc;

use rhai::{Dynamic, Engine, Scope};

use crate::config::Settings;
use crate::database::Database;
use crate::migrations::APPLICATION;
use bindings::State;
use dbmigrate::cli::choose;

struct Shell {
    engine: Engine,
    scope: Scope<'static>,
    state: Rc<State>,
    failures: usize,
}

impl Shell {
    fn new(settings: &Settings) -> anyhow::Result<Shell> {
        let mut database = Database::connect(&settings.database_url)?;
        let chosen = choose(None, &settings.context(), &APPLICATION)?;
        database.prepare(&chosen, |_| ())?;
        let state = State::new(
            settings.database_url.clone(),
            &crate::models::MODELS,
            database.into_session(),
        );
        let engine = bindings::engine(&state);
        let mut scope = Scope::new();
        scope.push_constant("db", bindings::Db(state.clone()));
        for class in bindings::classes(&state) {
            scope.push_constant(class.0.name(), class);
        }
        Ok(Shell {
            engine,
            scope,
            state,
            failures: 0,
        })
    }

    /// Runs one input as the prompt does: its value echoed, an error on one line (and the
    /// unit of work rolled back).
    fn run(&mut self, input: &str) {
        match self
            .engine
            .eval_with_scope::<Dynamic>(&mut self.scope, input)
        {
            Ok(value) if value.is_unit() => {}
            Ok(value) => println!("{}", bindings::describe(&value)),
            Err(error) => {
                self.failures += 1;
                let message = error.to_string().replace('\n', " ");
                println!("error: {message}");
                if self.state.has_changes() {
                    self.state.rollback();
                }
            }
        }
    }

    fn finish(self) -> ExitCode {
        if self.state.has_changes() {
            eprintln!(
                "warning: uncommitted changes were discarded (db.session.commit() writes them)"
            );
        }
        if self.failures > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Whether `text` leaves a brace, bracket or parenthesis open (outside strings).
fn is_open(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '`' | '\'' => quote = Some(c),
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' => depth -= 1,
                _ => {}
            },
        }
    }
    depth > 0 || quote == Some('`')
}

pub fn run(settings: &Settings, command: Option<String>) -> anyhow::Result<ExitCode> {
    let mut shell = Shell::new(settings)?;
    if let Some(command) = command {
        shell.run(&command);
        return Ok(shell.finish());
    }
    if std::io::stdin().is_terminal() {
        interactive(&mut shell)?;
    } else {
        let mut pending = String::new();
        for line in std::io::stdin().lock().lines() {
            pending.push_str(&line?);
            pending.push('\n');
            if !is_open(&pending) {
                if !pending.trim().is_empty() {
                    shell.run(&pending);
                }
                pending.clear();
            }
        }
        if !pending.trim().is_empty() {
            shell.run(&pending);
        }
    }
    Ok(shell.finish())
}

fn interactive(shell: &mut Shell) -> anyhow::Result<()> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME")
        .map(|home| std::path::PathBuf::from(home).join(".microblog_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "microblog shell on {} — db, User and Post are bound; help() lists them; Ctrl-D leaves",
        shell.state.url
    );
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { ">>> " } else { "... " };
        match editor.readline(prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if is_open(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                if input.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(input.trim_end());
                shell.run(&input);
            }
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error.into()),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_open;

    #[test]
    fn open_braces_continue_the_input_but_braces_in_strings_do_not() {
        assert!(is_open("for u in users {"));
        assert!(!is_open("for u in users { print(u) }"));
        assert!(!is_open("print(\"{\")"));
        assert!(is_open("User(#{username: \"john\","));
    }
}
