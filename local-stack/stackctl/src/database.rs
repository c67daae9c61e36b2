//! MariaDB provisioning: a schema and a least-privilege user per context, the CDC user, and
//! each context's migrations.
//!
//! A context's functions connect as the context's own user, which may read and write rows of
//! its own schema and nothing else: no other schema, no DDL. Schema changes are migrations,
//! applied here with the admin account. That keeps the rule "a function touches only its own
//! context's schema" enforced by the server rather than by convention.

use std::path::Path;

use anyhow::{Context as _, bail};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{AssertSqlSafe, MySqlPool};

use crate::settings::StackSettings;

/// The account the outbox relay uses to stream the binlog.
pub const CDC_USER: &str = "cdc";

/// The account of the outbox relay's own schema (its stored position).
const RELAY_USER: &str = "relay";

/// What the relay may do to a context's outbox: delete the rows it published (a DELETE with a
/// WHERE clause needs SELECT on the columns it names).
const RELAY_OUTBOX_PRIVILEGES: &str = "SELECT, DELETE";

/// Privileges of a context's own user on its own schema.
const CONTEXT_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE";

/// Privileges of the CDC user: stream the binlog and read the binlog position.
const CDC_PRIVILEGES: &str = "REPLICATION SLAVE, BINLOG MONITOR";

/// The contexts that have migrations: the sub-folders of `migrations_dir`, sorted.
pub fn contexts(migrations_dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(migrations_dir)
        .with_context(|| format!("Cannot read the migrations folder {}", migrations_dir.display()))?;
    let mut contexts = Vec::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        check_identifier(&name)?;
        contexts.push(name);
    }
    contexts.sort();
    Ok(contexts)
}

/// Creates every context's schema and user, the CDC user, and applies the migrations.
/// Safe to run any number of times.
pub async fn provision(settings: &StackSettings, migrations_dir: &Path) -> anyhow::Result<()> {
    check_password(&settings.context_password)?;
    let admin = connect(&settings.mariadb_admin_url).await?;
    let contexts = contexts(migrations_dir)?;

    for context in &contexts {
        create_schema_and_user(&admin, context, &settings.context_password).await?;
        let applied = migrate(settings, context, &migrations_dir.join(context)).await?;
        println!("schema {context}: ready ({applied} migrations applied now)");
    }

    if contexts.iter().any(|context| context == RELAY_USER) {
        for context in contexts.iter().filter(|context| *context != RELAY_USER) {
            execute(
                &admin,
                format!("GRANT {RELAY_OUTBOX_PRIVILEGES} ON `{context}`.outbox TO '{RELAY_USER}'@'%';"),
            )
            .await
            .with_context(|| format!("Cannot let the relay purge the outbox of context {context}"))?;
        }
        println!("user {RELAY_USER}: may purge published rows of every context's outbox");
    }

    let password = &settings.context_password;
    execute(
        &admin,
        format!(
            "CREATE USER IF NOT EXISTS '{CDC_USER}'@'%' IDENTIFIED BY '{password}';
             ALTER USER '{CDC_USER}'@'%' IDENTIFIED BY '{password}';
             GRANT {CDC_PRIVILEGES} ON *.* TO '{CDC_USER}'@'%';"
        ),
    )
    .await?;
    println!("user {CDC_USER}: ready ({CDC_PRIVILEGES})");
    admin.close().await;
    Ok(())
}

async fn create_schema_and_user(admin: &MySqlPool, context: &str, password: &str) -> anyhow::Result<()> {
    execute(
        admin,
        format!(
            "CREATE DATABASE IF NOT EXISTS `{context}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
             CREATE USER IF NOT EXISTS '{context}'@'%' IDENTIFIED BY '{password}';
             ALTER USER '{context}'@'%' IDENTIFIED BY '{password}';
             GRANT {CONTEXT_PRIVILEGES} ON `{context}`.* TO '{context}'@'%';"
        ),
    )
    .await
    .with_context(|| format!("Cannot create the schema and user of context {context}"))
}

/// Applies the pending migrations of one context and returns how many ran.
async fn migrate(settings: &StackSettings, context: &str, dir: &Path) -> anyhow::Result<usize> {
    let migrator = sqlx::migrate::Migrator::new(dir)
        .await
        .with_context(|| format!("Cannot read the migrations in {}", dir.display()))?;
    let pool = connect(&settings.admin_url_for(context)).await?;
    let before = applied_count(&pool).await;
    migrator
        .run(&pool)
        .await
        .with_context(|| format!("A migration of context {context} failed"))?;
    let after = applied_count(&pool).await;
    pool.close().await;
    Ok(after.saturating_sub(before))
}

async fn applied_count(pool: &MySqlPool) -> usize {
    // Before the first run the bookkeeping table does not exist yet: nothing was applied.
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
        .fetch_one(pool)
        .await
        .map(|count| usize::try_from(count).unwrap_or(0))
        .unwrap_or(0)
}

/// Opens a small pool, with a clear message when the server cannot be reached.
pub async fn connect(url: &str) -> anyhow::Result<MySqlPool> {
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| format!("Cannot connect to MariaDB at {}", redact(url)))
}

async fn execute(pool: &MySqlPool, statements: String) -> anyhow::Result<()> {
    sqlx::raw_sql(AssertSqlSafe(statements)).execute(pool).await?;
    Ok(())
}

/// Context names become schema and user names, so they are restricted to plain identifiers.
fn check_identifier(name: &str) -> anyhow::Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        bail!("Migration folder {name:?} is not a valid context name (lowercase letters, digits, _)");
    }
    Ok(())
}

/// The password is written into `CREATE USER` statements, which take no bind parameters.
fn check_password(password: &str) -> anyhow::Result<()> {
    let plain = !password.is_empty()
        && password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        bail!("STACK_CONTEXT_PASSWORD may contain only letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redact("mysql://stack_admin:secret@127.0.0.1:3307/identity"),
            "mysql://stack_admin:***@127.0.0.1:3307/identity"
        );
        assert_eq!(redact("mysql://127.0.0.1:3307"), "mysql://127.0.0.1:3307");
    }

    #[test]
    fn context_names_that_could_break_sql_are_refused() {
        assert!(check_identifier("ordering").is_ok());
        assert!(check_identifier("order`; DROP").is_err());
        assert!(check_identifier("").is_err());
        assert!(check_password("local-only").is_ok());
        assert!(check_password("it's").is_err());
    }
}
