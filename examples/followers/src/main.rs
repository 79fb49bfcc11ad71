//! `followers`: the db command set, mounted, and a few commands that use the relationships.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use diesel::prelude::*;

use dbmigrate::cli::{Context, DbArgs, choose, prepare_database};
use dbmigrate::model::Session;
use dbmigrate::{DatabaseUrl, connect};
use followers::{APPLICATION, User, schema};

#[derive(Parser)]
#[command(
    name = "followers",
    version,
    about = "Users who follow each other, on SQLite, PostgreSQL or MySQL (DATABASE_URL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the database and its migrations.
    Db(DbArgs),
    #[command(flatten)]
    Users(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    AddUser { username: String, email: String },
    /// FOLLOWER follows FOLLOWED.
    Follow { follower: String, followed: String },
    /// FOLLOWER stops following FOLLOWED.
    Unfollow { follower: String, followed: String },
    /// Whom USERNAME follows, and who follows USERNAME.
    Show { username: String },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", dbmigrate::cli::explain(&error, &APPLICATION));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let context = Context::from_environment(DatabaseUrl::sqlite_file("app.db"))?;
    match cli.command {
        Command::Db(args) => dbmigrate::cli::run(args, &APPLICATION, &context),
        Command::Users(command) => users(command, &context),
    }
}

fn users(command: UserCommand, context: &Context) -> anyhow::Result<ExitCode> {
    let mut conn = connect(&context.url)?;
    let chosen = choose(None, context, &APPLICATION)?;
    prepare_database(&mut conn, &context.url, &APPLICATION, &chosen, |_| ())?;
    let mut session = Session::new(conn, schema());
    match command {
        UserCommand::AddUser { username, email } => {
            session.add(User::new(&username, &email));
            session.commit()?;
        }
        UserCommand::Follow { follower, followed } => {
            let (a, b) = (
                user(&mut session, &follower)?,
                user(&mut session, &followed)?,
            );
            a.follow(&mut session, &b)?;
            session.commit()?;
        }
        UserCommand::Unfollow { follower, followed } => {
            let (a, b) = (
                user(&mut session, &follower)?,
                user(&mut session, &followed)?,
            );
            a.unfollow(&mut session, &b)?;
            session.commit()?;
        }
        UserCommand::Show { username } => {
            let shown = user(&mut session, &username)?;
            let conn = session.conn();
            let names = |users: Vec<User>| -> Vec<String> {
                users.into_iter().filter_map(|u| u.username).collect()
            };
            let order = followers::models::user::username.asc();
            let following = names(shown.following().order(order).load(conn)?);
            let followed_by = names(shown.followers().order(order).load(conn)?);
            println!("{shown} follows: {}", following.join(", "));
            println!("{shown} is followed by: {}", followed_by.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn user(session: &mut Session, username: &str) -> anyhow::Result<User> {
    User::named(session.conn(), username)?.with_context(|| format!("there is no user '{username}'"))
}
