//! `microblog shell`: the chapter's "Play Time" at a prompt, in Rhai, with `db`, `User` and
//! `Post` bound. At a terminal it reads lines with editing and history; otherwise it runs
//! standard input (or `-c`) as a script, echoing values the same way.

mod bindings;
mod interrupt;
mod query;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, LexError, ParseErrorType, Scope};

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
    interrupted: bool,
}

/// What the engine is told to stop with when Ctrl-C was pressed.
const INTERRUPTED: &str = "interrupted (Ctrl-C)";

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
        let mut engine = bindings::engine(&state);
        engine.on_progress(|_| interrupt::take().then(|| Dynamic::from(INTERRUPTED)));
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
            interrupted: false,
        })
    }

    /// Runs one input as the prompt does: its value echoed, an error on one line (and the
    /// unit of work rolled back).
    fn run(&mut self, input: &str) {
        interrupt::clear();
        match self
            .engine
            .eval_with_scope::<Dynamic>(&mut self.scope, input)
        {
            Ok(value) if value.is_unit() => {}
            Ok(value) => println!("{}", bindings::describe(&value)),
            Err(error) => {
                self.failures += 1;
                let message = match *error {
                    EvalAltResult::ErrorTerminated(..) => {
                        self.interrupted = true;
                        format!("{INTERRUPTED}; changes not committed are discarded")
                    }
                    _ => error.to_string().replace('\n', " "),
                };
                eprintln!("error: {message}");
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
        if self.interrupted {
            ExitCode::from(interrupt::EXIT_STATUS)
        } else if self.failures > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Whether `text` is the start of something longer (an open block, call or list, an
/// operator waiting for its operand, a multi-line string), as Rhai's own parser sees it:
/// then the prompt asks for more instead of reporting an error.
fn is_incomplete(engine: &Engine, text: &str) -> bool {
    let Err(error) = engine.compile(text) else {
        return false;
    };
    let at_the_end = error
        .position()
        .line()
        .is_none_or(|line| line > text.lines().count());
    match error.err_type() {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::MissingToken(..) => at_the_end,
        ParseErrorType::BadInput(LexError::UnterminatedString) => {
            let (line, column) = (error.position().line(), error.position().position());
            line.zip(column)
                .and_then(|(line, column)| text.lines().nth(line - 1)?.chars().nth(column - 1))
                == Some('`')
        }
        _ => false,
    }
}

pub fn run(settings: &Settings, command: Option<String>) -> anyhow::Result<ExitCode> {
    let mut shell = Shell::new(settings)?;
    interrupt::install();
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
            if !is_incomplete(&shell.engine, &pending) {
                if !pending.trim().is_empty() {
                    shell.run(&pending);
                }
                pending.clear();
            }
            if shell.interrupted {
                // A script that was interrupted stops there, as a Python one does.
                return Ok(shell.finish());
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
                if is_incomplete(&shell.engine, &pending) {
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
    use super::is_incomplete;

    #[test]
    fn input_continues_only_where_rhai_expects_more() {
        let engine = rhai::Engine::new();
        for open in [
            "for u in users {\n",
            "User(#{username: \"john\",\n",
            "let x = 1 +\n",
            "if x {\n} else\n",
            "let s = `first line\n",
        ] {
            assert!(is_incomplete(&engine, open), "{open:?} asks for more");
        }
        for whole_or_wrong in [
            "for u in users { print(u) }\n",
            "print(\"{\")\n",
            "// {\n",
            "1 +* 2\n",
            "let s = \"unterminated\n",
            ")\n",
        ] {
            assert!(
                !is_incomplete(&engine, whole_or_wrong),
                "{whole_or_wrong:?} runs now"
            );
        }
    }
}
