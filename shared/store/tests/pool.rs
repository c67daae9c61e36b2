//! The functions' connection pool against the real MariaDB of the local stack: a connection
//! the server dropped while it sat idle is replaced, not handed to the caller, and a pool
//! whose every connection is at work still reports its database as answering.

use std::time::Duration;

use store::mariadb::{lazy_pool, ping};
use store::testing::TestDatabase;

async fn connection_id(pool: &sqlx::MySqlPool) -> Result<u64, sqlx::Error> {
    sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(pool).await
}

async fn kill(database: &TestDatabase, id: u64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
        .execute(&database.admin)
        .await
        .expect("kill the pooled connection");
}

#[tokio::test]
async fn a_connection_killed_while_idle_is_replaced_before_the_next_query() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    // Every checkout counts as idle long enough to be pinged.
    let pool = lazy_pool(&database.url(), 1, Duration::ZERO).expect("pool");
    let first = connection_id(&pool).await.expect("first query");
    kill(&database, first).await;

    let second = connection_id(&pool)
        .await
        .expect("the query after the kill succeeds");
    assert_ne!(second, first, "the killed connection was replaced");
    database.drop().await;
}

#[tokio::test]
async fn readiness_answers_while_every_pooled_connection_is_at_work() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let pool = lazy_pool(&database.url(), 1, Duration::ZERO).expect("pool");
    // The pool's only connection, held as a long transaction would hold it.
    let held = pool.begin().await.expect("a transaction on the only connection");

    ping(&pool)
        .await
        .expect("the database answers although the pool has no free connection");

    held.rollback().await.expect("rollback");
    ping(&pool).await.expect("and through the pool once it is free");
    database.drop().await;
}
