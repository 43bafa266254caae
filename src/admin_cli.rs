//! `gavel admin create|set-password|promote|list`: the operator's account
//! commands, run straight on the database (docs/operations.md, Operator
//! commands).
//!
//! A new password comes from `GAVEL_ADMIN_PASSWORD` when it is set; else,
//! on a terminal, it is asked for twice without echo; else it is one line of
//! standard input. The password rules are those of registration.

use std::io::{BufRead as _, IsTerminal as _};
use std::sync::Arc;

use anyhow::Context as _;

use crate::auction::view::rfc3339;
use crate::auth::{AccountError, Accounts};
use crate::config::AdminCommand;
use crate::store::{self, Role, Store};

/// The environment variable a password may come from.
pub const PASSWORD_VAR: &str = "GAVEL_ADMIN_PASSWORD";

/// Runs one admin command to its end (its own Tokio runtime).
pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store: Arc<dyn Store> = Arc::new(
            store::connect(command.database_url())
                .await
                .context("opening the database")?,
        );
        let accounts = Accounts::new(Arc::clone(&store), chrono::Duration::hours(1)).await?;
        match &command {
            AdminCommand::Create { username, .. } => {
                let password = read_new_password(username)?;
                match accounts.register(username, &password, Role::Admin).await {
                    Ok(user) => println!("admin {} created", user.username),
                    Err(AccountError::UsernameTaken) => anyhow::bail!(
                        "a user named {username} already exists (gavel admin promote {username} \
                         makes it an admin; gavel admin set-password {username} changes its password)"
                    ),
                    Err(error) => return Err(refusal(error, username)),
                }
            }
            AdminCommand::SetPassword { username, .. } => {
                let password = read_new_password(username)?;
                let (user, ended) = accounts
                    .set_password(username, &password)
                    .await
                    .map_err(|error| refusal(error, username))?;
                println!(
                    "password of {} changed; {ended} session{} ended",
                    user.username,
                    if ended == 1 { "" } else { "s" }
                );
            }
            AdminCommand::Promote { username, .. } => {
                let (user, changed) = accounts
                    .promote(username)
                    .await
                    .map_err(|error| refusal(error, username))?;
                if changed {
                    println!("{} is now an admin", user.username);
                } else {
                    println!("{} is an admin already", user.username);
                }
            }
            AdminCommand::List { .. } => {
                let admins: Vec<_> = store
                    .list_users(i64::MAX)
                    .await?
                    .into_iter()
                    .filter(|user| user.is_admin())
                    .collect();
                let rows: Vec<[String; 3]> = admins
                    .iter()
                    .map(|user| {
                        [
                            user.username.clone(),
                            rfc3339(user.created_at),
                            if user.banned { "yes" } else { "no" }.to_owned(),
                        ]
                    })
                    .collect();
                print!("{}", table(["USERNAME", "CREATED", "BANNED"], &rows));
            }
        }
        Ok(())
    })
}

/// An account refusal as the operator should read it.
fn refusal(error: AccountError, username: &str) -> anyhow::Error {
    if error.is_weak_password()
        || matches!(
            error,
            AccountError::PasswordTooLong | AccountError::ControlCharacter { .. }
        )
    {
        anyhow::anyhow!("password refused for {username}: {error}")
    } else {
        anyhow::Error::new(error)
    }
}

/// Left-aligned columns, two spaces apart, with a header line.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The new password for `username`: `GAVEL_ADMIN_PASSWORD`, or asked twice
/// without echo on a terminal, or one line of standard input.
fn read_new_password(username: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var(PASSWORD_VAR) {
        return Ok(password);
    }
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {username}: "))
            .context("reading the password from the terminal")?;
        let second = rpassword::prompt_password("The same password again: ")
            .context("reading the password from the terminal")?;
        if first != second {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        anyhow::bail!("no password given ({PASSWORD_VAR}, or one line on standard input)");
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn the_table_aligns_its_columns() {
        let rows = [[
            "ada".to_owned(),
            "2026-01-01T00:00:00.000Z".to_owned(),
            "no".to_owned(),
        ]];
        assert_eq!(
            table(["USERNAME", "CREATED", "BANNED"], &rows),
            "USERNAME  CREATED                   BANNED\n\
             ada       2026-01-01T00:00:00.000Z  no\n"
        );
    }
}
