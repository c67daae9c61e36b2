//! Where the local stack's servers are, read from the environment with the stack's defaults.
//!
//! `local-stack/up` writes the values it used to `local-stack/var/stack.env` and the test
//! command exports them, so overriding a port there reaches every tool and test.

/// Connection settings for the local stack.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// An administrative MariaDB account, used for provisioning and by tests that need a
    /// throw-away database. Never used by functions.
    pub mariadb_admin_url: String,
    /// Host and port of MariaDB, for building the per-context URLs.
    pub mariadb_host: String,
    pub mariadb_port: u16,
    /// Password of every per-context user and of the CDC user. The stack is local only;
    /// deployed environments get their credentials from their secret store.
    pub context_password: String,
    /// The Kafka bootstrap servers.
    pub kafka_bootstrap_servers: String,
    /// The Redis URL.
    pub redis_url: String,
}

impl StackSettings {
    /// Reads the settings, falling back to the defaults `local-stack/up` uses.
    pub fn from_env() -> Self {
        let mariadb_host = env_or("MARIADB_HOST", "127.0.0.1");
        let mariadb_port = env_or("MARIADB_PORT", "3307").parse().unwrap_or(3307);
        let admin_password = env_or("STACK_ADMIN_PASSWORD", "local-admin");
        let mariadb_admin_url = std::env::var("STACK_MARIADB_ADMIN_URL").unwrap_or_else(|_| {
            format!("mysql://stack_admin:{admin_password}@{mariadb_host}:{mariadb_port}")
        });
        Self {
            mariadb_admin_url,
            context_password: env_or("STACK_CONTEXT_PASSWORD", "local-only"),
            kafka_bootstrap_servers: env_or(
                "KAFKA_BOOTSTRAP_SERVERS",
                &format!("127.0.0.1:{}", env_or("KAFKA_PORT", "9092")),
            ),
            redis_url: env_or(
                "REDIS_URL",
                &format!("redis://127.0.0.1:{}", env_or("REDIS_PORT", "6380")),
            ),
            mariadb_host,
            mariadb_port,
        }
    }

    /// The URL a function of `context` uses: its own user on its own schema.
    pub fn context_database_url(&self, context: &str) -> String {
        format!(
            "mysql://{context}:{}@{}:{}/{context}",
            self.context_password, self.mariadb_host, self.mariadb_port
        )
    }

    /// The URL of the CDC relay's user, which may read the binlog and nothing else.
    pub fn cdc_database_url(&self) -> String {
        format!(
            "mysql://{}:{}@{}:{}",
            crate::database::CDC_USER,
            self.context_password,
            self.mariadb_host,
            self.mariadb_port
        )
    }

    /// The admin URL with a default schema selected.
    pub fn admin_url_for(&self, schema: &str) -> String {
        format!("{}/{schema}", self.mariadb_admin_url.trim_end_matches('/'))
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
