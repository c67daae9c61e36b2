//! Test support (feature `testing`): a throw-away database in the local stack's MariaDB with
//! one context's migrations applied, so integration tests never share state and no relay ever
//! reads what they write (the relay reads only the context schemas themselves).

use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;

/// A fresh database, dropped by [`TestDatabase::drop`].
#[derive(Debug)]
pub struct TestDatabase {
    /// The admin account of the local stack (it creates and drops the database).
    pub admin: MySqlPool,
    pub name: String,
    /// A pool on the test database.
    pub pool: MySqlPool,
    admin_url: String,
}

impl TestDatabase {
    /// Creates the database and applies `migrations/<context>/`.
    ///
    /// # Panics
    /// When the local stack's MariaDB cannot be reached or a migration fails: this is test
    /// support, and a test cannot go on without its database.
    pub async fn with_migrations_of(context: &str) -> Self {
        let admin_url = std::env::var("STACK_MARIADB_ADMIN_URL")
            .unwrap_or_else(|_| "mysql://stack_admin:local-admin@127.0.0.1:3307".to_owned());
        let admin = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .expect("the local stack's MariaDB is reachable; start it with local-stack/up");
        let name = format!("{context}_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&admin)
            .await
            .expect("create the test database");
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&format!("{admin_url}/{name}"))
            .await
            .expect("connect to the test database");
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(context);
        let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
            .await
            .expect("read the migrations");
        migrator.run(&pool).await.expect("apply the migrations");
        Self {
            admin,
            name,
            pool,
            admin_url,
        }
    }

    /// The URL of the test database, for a process of its own.
    pub fn url(&self) -> String {
        format!("{}/{}", self.admin_url, self.name)
    }

    /// Closes the pool and drops the database. Every other connection to it (an open
    /// transaction, a spawned function) must be gone first, or the drop waits for it.
    pub async fn drop(self) {
        self.pool.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE `{}`", self.name)))
            .execute(&self.admin)
            .await
            .expect("drop the test database");
    }
}
