//! One active relay per database and relay name: a MariaDB user lock (`GET_LOCK`) held on a
//! connection of its own for as long as the relay runs.
//!
//! Two relays with the same name would publish every row twice and overwrite each other's
//! stored position, so a second one (a rolling deploy, a standby replica) waits for the lock
//! and takes over when the first one stops or its connection dies: the server releases a
//! user lock when the session holding it ends. The lock is checked every second; a relay that
//! cannot show it still holds the lock stops relaying at once.

use std::time::Duration;

use sqlx::{Connection, MySqlConnection};

use crate::error::RelayError;

/// How long one `GET_LOCK` call waits before the relay logs and asks again.
const WAIT_PER_ATTEMPT: Duration = Duration::from_secs(2);

/// How often a running relay checks that it still holds its lock.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The name of the lock of the relay called `relay_name`. MariaDB allows 64 characters.
pub fn lock_name(relay_name: &str) -> String {
    let name = format!("commerce.outbox-relay.{relay_name}");
    name.chars().take(64).collect()
}

/// A held relay lock; dropping it closes the connection, which releases the lock.
#[derive(Debug)]
pub struct RelayLock {
    connection: MySqlConnection,
    name: String,
}

impl RelayLock {
    /// Waits until this process holds the lock of `relay_name`. `waiting` runs once, when
    /// another relay holds it.
    pub async fn acquire(url: &str, relay_name: &str, waiting: impl FnOnce()) -> Result<Self, RelayError> {
        let name = lock_name(relay_name);
        let mut connection = MySqlConnection::connect(url).await.map_err(|error| {
            RelayError::Connect(format!("cannot connect to take the relay lock: {error}"))
        })?;
        let mut waiting = Some(waiting);
        loop {
            let granted: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                .bind(&name)
                .bind(WAIT_PER_ATTEMPT.as_secs())
                .fetch_one(&mut connection)
                .await
                .map_err(RelayError::PositionStore)?;
            if granted == Some(1) {
                tracing::info!(lock = %name, "Holding the relay lock; this relay is the active one.");
                return Ok(Self { connection, name });
            }
            if let Some(waiting) = waiting.take() {
                let holder: Option<i64> = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
                    .bind(&name)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap_or(None);
                tracing::info!(
                    lock = %name,
                    holder_connection = holder,
                    "Another relay with this name is active; waiting for its lock."
                );
                waiting();
            }
        }
    }

    /// Takes the lock unless another process holds it for longer than `wait`; `None` then.
    /// An operator's command takes it so that no relay with that name runs meanwhile.
    pub async fn try_acquire(
        url: &str,
        relay_name: &str,
        wait: Duration,
    ) -> Result<Option<Self>, RelayError> {
        let name = lock_name(relay_name);
        let mut connection = MySqlConnection::connect(url).await.map_err(|error| {
            RelayError::Connect(format!("cannot connect to take the relay lock: {error}"))
        })?;
        let granted: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(&name)
            .bind(wait.as_secs_f64())
            .fetch_one(&mut connection)
            .await
            .map_err(RelayError::PositionStore)?;
        Ok((granted == Some(1)).then_some(Self { connection, name }))
    }

    /// Completes when the lock can no longer be shown to be held: the connection failed or
    /// the lock was released behind the relay's back.
    pub async fn lost(mut self) -> RelayError {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let held: Result<Option<i64>, sqlx::Error> =
                sqlx::query_scalar("SELECT IS_USED_LOCK(?) = CONNECTION_ID()")
                    .bind(&self.name)
                    .fetch_one(&mut self.connection)
                    .await;
            match held {
                Ok(Some(1)) => {}
                Ok(_) => return RelayError::LockLost("the lock was released by someone else".to_owned()),
                Err(error) => return RelayError::LockLost(error.to_string()),
            }
        }
    }
}
