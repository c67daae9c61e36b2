//! MariaDB facts every context needs: its error numbers, and the one way a function builds
//! its connection pool.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::mysql::{MySqlDatabaseError, MySqlPoolOptions};
use sqlx::{Connection, MySqlPool};

/// `ER_DUP_ENTRY`: an insert or update hit a unique key.
pub const DUPLICATE_KEY: u16 = 1062;
/// `ER_NO_REFERENCED_ROW_2`: a foreign key names a row that does not exist.
pub const MISSING_REFERENCE: u16 = 1452;

/// MariaDB's error number, when `error` is an error MariaDB answered with.
pub fn error_number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|error| error.try_downcast_ref::<MySqlDatabaseError>())
        .map(MySqlDatabaseError::number)
}

/// Whether `error` is MariaDB refusing a duplicate of a unique key.
pub fn is_duplicate_key(error: &sqlx::Error) -> bool {
    error_number(error) == Some(DUPLICATE_KEY)
}

/// The pool every function of a context uses, on `DATABASE_URL`.
///
/// It connects lazily: start-up (Lambda's init phase) stays fast, and a database that is
/// briefly down makes requests fail and events retry instead of the function crash-looping.
/// Up to `DATABASE_MAX_CONNECTIONS` connections. The default, 5, is for Lambda, where one
/// instance serves one request at a time; a local or Knative process serves many, and both
/// set it per function (ADR 0065).
pub fn pool_from_env() -> anyhow::Result<MySqlPool> {
    let url = runtime::config::required("DATABASE_URL")?;
    let max_connections = runtime::config::parsed_or("DATABASE_MAX_CONNECTIONS", 5)?;
    Ok(lazy_pool(&url, max_connections, PING_WHEN_IDLE_FOR)?)
}

/// A pool on `url` that connects on first use.
///
/// A connection that cannot be had within 3 s is an error at once ("busy, retry later")
/// rather than a request held for sqlx's default 30 s.
///
/// A connection is pinged before use only when it sat idle for `ping_when_idle_for` or
/// longer, not on every checkout (sqlx's default). Under load every checkout pinged: a quarter
/// of the requests MariaDB served per order were pings (ADR 0059).
/// A connection busy a moment ago is alive; one idle since before a database restart is
/// tested, and replaced when it fails.
pub fn lazy_pool(
    url: &str,
    max_connections: u32,
    ping_when_idle_for: Duration,
) -> Result<MySqlPool, sqlx::Error> {
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .before_acquire(move |connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for >= ping_when_idle_for {
                    // An error closes the connection, and the pool hands out another.
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy(url)
}

/// How long a function's pooled connection may sit unused before its next checkout pings it.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Whether `pool`'s database answers one cheap query now: what a function's `/readyz` asks.
/// A lazy pool connects here if it has not yet, so a wrong `DATABASE_URL` or a database that
/// is down makes the function not ready instead of failing its first request.
///
/// When every connection of the pool is at work, the query goes over a connection of its own
/// instead of queueing for a pooled one. Queueing measured how busy the function was, not
/// whether its database answers: in a loaded chaos run, authorize-payment's five connections
/// were all waiting on a slow payment gateway, its ping waited longer than 1.5 s, and the
/// function was reported not ready. A busy function must not be taken out of service.
pub async fn ping(pool: &MySqlPool) -> Result<(), String> {
    // Shorter than the runtime's readiness deadline, so the answer names the database rather
    // than only saying that the check took too long.
    let answered = if every_connection_at_work(pool) {
        tokio::time::timeout(PING_TIMEOUT, ping_on_a_connection_of_its_own(pool)).await
    } else {
        tokio::time::timeout(PING_TIMEOUT, async {
            sqlx::query("SELECT 1").execute(pool).await.map(drop)
        })
        .await
    };
    match answered {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("the database does not answer: {error}")),
        Err(_) => Err(format!("the database does not answer within {PING_TIMEOUT:?}")),
    }
}

/// Whether the pool holds as many connections as it may and none of them is idle.
fn every_connection_at_work(pool: &MySqlPool) -> bool {
    pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
}

/// Pings over a new connection with the pool's settings, closed afterwards.
async fn ping_on_a_connection_of_its_own(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    let mut connection = sqlx::MySqlConnection::connect_with(&pool.connect_options()).await?;
    let answered = sqlx::query("SELECT 1").execute(&mut connection).await.map(drop);
    // The answer is known; a connection that does not close politely changes nothing.
    let _ = connection.close().await;
    answered
}

/// How long a readiness ping waits for the database.
const PING_TIMEOUT: Duration = Duration::from_millis(1500);

/// A readiness check on `pool`, in the shape `runtime::http::HttpFunction::readiness_check`
/// takes.
pub fn readiness(
    pool: MySqlPool,
) -> impl Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync + 'static {
    move || {
        let pool = pool.clone();
        Box::pin(async move { ping(&pool).await })
    }
}
