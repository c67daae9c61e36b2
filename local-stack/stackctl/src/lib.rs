//! `stackctl`: the provisioning half of the local stack.
//!
//! The shell scripts in `local-stack/` install, start and stop the servers; this crate does
//! what needs a real client library once the servers are up:
//!
//! - [`settings`]: where the stack's servers are and how to reach them, from the environment.
//! - [`database`]: one schema and one least-privilege user per context, the CDC user, and
//!   each context's sqlx migrations from `migrations/<context>/`.
//! - [`kafka`]: the platform's topics from the `events` registry, created up front because
//!   the broker does not create topics on first use.
//! - [`binlog`]: the preflight of the server settings the CDC relay depends on.
//! - [`database_pool`]: how many MariaDB connections each function process may open.

pub mod database;
pub mod kafka;
pub mod settings;

/// The binlog preflight's rules live in their own crate, shared with the outbox relay.
pub use binlog_preflight as binlog;

/// The MariaDB connections a local function process may open (`DATABASE_MAX_CONNECTIONS`), 0
/// for a function without a database: the pool one Knative instance of it opens, since one
/// local process serves all of the function's requests at once (ADR 0065).
pub fn database_pool(function: &template::FunctionSpec) -> anyhow::Result<u32> {
    Ok(knative_manifests::function::instance_database_connections(function)?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    // Sessions beside the functions' pools, as the k3s overlay counts them: the relay's, the
    // provisioning's and an operator's.
    use knative_manifests::OTHER_DATABASE_CONNECTIONS as OTHER_SESSIONS;

    #[test]
    fn the_local_mariadb_accepts_every_function_pool_full_at_once() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let registry = template::Registry::load(&root.join("template.yaml")).expect("template.yaml reads");
        let pools: u32 = registry
            .functions
            .iter()
            .map(|function| super::database_pool(function).expect("one kind of trigger"))
            .sum();
        // The native scripts' configuration, and the Compose file's flags for Docker users.
        let read = |path: &str| std::fs::read_to_string(root.join(path)).expect("the file reads");
        let native = read("local-stack/conf/mariadb.cnf");
        let compose = read("local-stack/docker-compose.yml");
        let limits = [
            (
                "mariadb.cnf",
                native
                    .lines()
                    .find_map(|line| line.strip_prefix("max_connections")),
            ),
            (
                "docker-compose.yml",
                compose
                    .lines()
                    .find_map(|line| line.trim().strip_prefix("- --max-connections")),
            ),
        ];
        for (file, setting) in limits {
            let max_connections: u32 = setting
                .and_then(|value| value.trim().trim_start_matches('=').trim().parse().ok())
                .unwrap_or_else(|| panic!("{file} sets max_connections"));
            assert!(
                pools + OTHER_SESSIONS <= max_connections,
                "the functions' pools ({pools}) and {OTHER_SESSIONS} other sessions exceed {file}'s max_connections = {max_connections}"
            );
        }
    }

    #[test]
    fn place_order_may_hold_ten_connections_and_a_function_without_a_database_none() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let registry = template::Registry::load(&root.join("template.yaml")).expect("template.yaml reads");
        let place_order = registry
            .functions
            .iter()
            .find(|function| function.name == "place-order")
            .expect("place-order is in template.yaml");
        // More than Lambda's 5: one local process serves every shopper placing an order.
        assert_eq!(super::database_pool(place_order).expect("an HTTP function"), 10);
        let without_database: Vec<_> = registry
            .functions
            .iter()
            .filter(|function| !knative_manifests::function::has_database(function))
            .collect();
        assert!(!without_database.is_empty());
        for function in without_database {
            assert_eq!(
                super::database_pool(function).expect("one kind of trigger"),
                0,
                "{}",
                function.name
            );
        }
    }
}
