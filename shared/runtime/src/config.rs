//! Typed configuration from the environment, read once at start-up.
//!
//! A function that lacks a setting must refuse to start with a message naming the variable,
//! not fail on the first request that needs it.

use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// A setting that is missing or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the environment variable {0} is required but not set")]
    Missing(String),
    #[error("the environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
}

/// A required variable.
pub fn required(name: &str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing(name.to_owned())),
    }
}

/// An optional variable, parsed, with a default.
pub fn parsed_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::Invalid {
                    name: name.to_owned(),
                    reason: error.to_string(),
                    value,
                })
        }
        _ => Ok(default),
    }
}

/// Where a function is running, decided once from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// AWS Lambda or `cargo lambda watch`: the Runtime API drives the function.
    Lambda,
    /// A plain HTTP server on `$BIND_ADDRESS:$PORT`: Knative, the local stack, a container.
    Server { address: IpAddr, port: u16 },
}

impl Platform {
    pub fn detect() -> Result<Self, ConfigError> {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return Ok(Self::Lambda);
        }
        Ok(Self::Server {
            address: bind_address()?,
            port: parsed_or("PORT", 8080)?,
        })
    }
}

/// The address a process's HTTP server listens on: `BIND_ADDRESS`, or loopback.
///
/// Loopback by default, so nothing a stranger on the network can reach is opened by
/// accident: on a laptop or a CI machine only local processes reach a function. A container
/// (Knative, any image) must be reachable from outside itself and sets `BIND_ADDRESS=0.0.0.0`
/// explicitly, as the deployment manifests do.
pub fn bind_address() -> Result<IpAddr, ConfigError> {
    parsed_or("BIND_ADDRESS", IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The function's name: `FUNCTION_NAME`, else the Lambda function name, else the binary name.
pub fn function_name() -> String {
    std::env::var("FUNCTION_NAME")
        .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::env::args().next().and_then(|path| {
                std::path::Path::new(&path)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
        })
        .unwrap_or_else(|| "function".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let error = required("RUNTIME_TEST_SURELY_UNSET_VARIABLE").expect_err("unset");
        assert_eq!(
            error.to_string(),
            "the environment variable RUNTIME_TEST_SURELY_UNSET_VARIABLE is required but not set"
        );
    }

    #[test]
    fn servers_listen_on_loopback_unless_told_otherwise() {
        // BIND_ADDRESS is not set in the test environment.
        assert_eq!(bind_address().expect("default"), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn an_unset_optional_variable_takes_its_default() {
        assert_eq!(
            parsed_or("RUNTIME_TEST_SURELY_UNSET_PORT", 8080_u16).expect("default"),
            8080
        );
    }
}
