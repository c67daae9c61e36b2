//! The preflight of the MariaDB settings that binlog CDC depends on.
//!
//! The outbox relay reads committed rows from the binlog. If a setting is off, the relay
//! does not fail loudly on its own — it sees statements instead of rows, rows without column
//! names, or compressed events it cannot decode — so the settings are checked up front and
//! every wrong one is named.
//!
//! One set of rules, shared by `local-stack/up` (through `stackctl check-binlog`) and by the
//! relay's own start-up check, so the two can never disagree on what a fit server is.

use sqlx::MySqlPool;

/// One checked server variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingCheck {
    pub variable: &'static str,
    /// What the relay needs, in words.
    pub expected: &'static str,
    /// What the server reports.
    pub actual: String,
    pub ok: bool,
}

/// The result of the preflight: every setting, right or wrong.
#[derive(Debug, Clone)]
pub struct BinlogReport {
    pub checks: Vec<SettingCheck>,
}

impl BinlogReport {
    pub fn is_ok(&self) -> bool {
        self.checks.iter().all(|check| check.ok)
    }

    pub fn wrong(&self) -> impl Iterator<Item = &SettingCheck> {
        self.checks.iter().filter(|check| !check.ok)
    }
}

type Rule = fn(&str) -> bool;

/// The variables, what they must be, and how to tell.
const RULES: &[(&str, &str, Rule)] = &[
    ("log_bin", "ON", |value| {
        value.eq_ignore_ascii_case("ON") || value == "1"
    }),
    ("binlog_format", "ROW", |value| value.eq_ignore_ascii_case("ROW")),
    ("binlog_row_image", "FULL", |value| {
        value.eq_ignore_ascii_case("FULL")
    }),
    ("binlog_row_metadata", "FULL", |value| {
        value.eq_ignore_ascii_case("FULL")
    }),
    ("binlog_checksum", "CRC32", |value| {
        value.eq_ignore_ascii_case("CRC32")
    }),
    ("log_bin_compress", "OFF", |value| {
        value.eq_ignore_ascii_case("OFF") || value == "0"
    }),
    ("sync_binlog", "1", |value| value == "1"),
    ("innodb_flush_log_at_trx_commit", "1", |value| value == "1"),
    ("server_id", "a unique non-zero id", |value| value != "0"),
    (
        "binlog_expire_logs_seconds",
        "at least one day, or 0 (never)",
        |value| {
            value
                .parse::<u64>()
                .is_ok_and(|seconds| seconds == 0 || seconds >= 86_400)
        },
    ),
];

/// Reads the server's variables and compares each with what the relay needs.
pub async fn check(pool: &MySqlPool) -> anyhow::Result<BinlogReport> {
    let mut checks = Vec::with_capacity(RULES.len());
    for &(variable, expected, rule) in RULES {
        let actual: Option<(String, String)> =
            sqlx::query_as("SHOW GLOBAL VARIABLES WHERE Variable_name = ?")
                .bind(variable)
                .fetch_optional(pool)
                .await?;
        let actual = actual
            .map(|(_, value)| value)
            .unwrap_or_else(|| "(not set)".to_owned());
        let ok = rule(&actual);
        checks.push(SettingCheck {
            variable,
            expected,
            actual,
            ok,
        });
    }
    Ok(BinlogReport { checks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(variable: &str) -> Rule {
        RULES
            .iter()
            .find(|(name, ..)| *name == variable)
            .map(|(.., rule)| *rule)
            .expect("known rule")
    }

    #[test]
    fn statement_or_mixed_logging_is_refused() {
        assert!(rule("binlog_format")("ROW"));
        assert!(!rule("binlog_format")("MIXED"));
        assert!(!rule("binlog_format")("STATEMENT"));
    }

    #[test]
    fn retention_shorter_than_a_day_is_refused() {
        assert!(rule("binlog_expire_logs_seconds")("604800"));
        assert!(rule("binlog_expire_logs_seconds")("0"));
        assert!(!rule("binlog_expire_logs_seconds")("3600"));
        assert!(!rule("binlog_expire_logs_seconds")("(not set)"));
    }

    #[test]
    fn compressed_binlogs_and_minimal_row_images_are_refused() {
        assert!(!rule("log_bin_compress")("ON"));
        assert!(!rule("binlog_row_image")("MINIMAL"));
        assert!(!rule("binlog_row_metadata")("NO_LOG"));
        assert!(!rule("server_id")("0"));
    }
}
