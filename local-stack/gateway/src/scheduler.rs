//! The local scheduler: what EventBridge schedules do in AWS and `CronJob`s on Knative. Every
//! function of `template.yaml` with a `Schedule` event gets `POST /run` on its local port at
//! the declared rate.
//!
//! Only `rate(...)` expressions are understood; a `cron(...)` schedule is reported and
//! skipped. A run that fails or times out is logged and tried again at the next tick: the
//! scheduled jobs are written to tolerate repeated and overlapping runs.

use std::time::Duration;

/// One scheduled function and how often to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub function: String,
    /// `http://<host>:<port>/run`.
    pub url: String,
    pub every: Duration,
}

/// Reads `rate(<n> <unit>)` with unit minute(s), hour(s) or day(s) (as AWS does), plus
/// second(s) for local use.
pub fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (amount, unit) = inner.trim().split_once(' ')?;
    let amount: u64 = amount.parse().ok().filter(|amount| *amount > 0)?;
    let seconds = match unit.trim() {
        "second" | "seconds" => 1,
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(amount.checked_mul(seconds)?))
}

/// The scheduled jobs of `registry`, with the functions at `host` on their local ports.
/// `every` replaces every declared rate when set (to run sweeps often in tests).
pub fn jobs(registry: &template::Registry, host: &str, base_port: u16, every: Option<Duration>) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (function, port) in registry.local_ports(base_port) {
        for expression in &function.schedules {
            match every.or_else(|| parse_rate(expression)) {
                Some(every) => jobs.push(Job {
                    function: function.name.clone(),
                    url: format!("http://{host}:{port}{}", runtime::schedule::RUN_PATH),
                    every,
                }),
                None => tracing::warn!(
                    function = %function.name,
                    expression,
                    "Schedule not understood locally (only rate(...)); skipped"
                ),
            }
        }
    }
    jobs
}

/// Runs `job` forever: `POST /run` once per period, the first one a period after start.
pub async fn run(client: reqwest::Client, job: Job) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + job.every, job.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match client.post(&job.url).send().await {
            Ok(response) if response.status().is_success() => {
                let summary = response.text().await.unwrap_or_default();
                tracing::info!(function = %job.function, %summary, "Scheduled run done");
            }
            Ok(response) => {
                tracing::warn!(function = %job.function, status = response.status().as_u16(), "Scheduled run failed");
            }
            Err(error) => tracing::warn!(function = %job.function, %error, "Scheduled function unreachable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_like_aws_reads_them() {
        assert_eq!(parse_rate("rate(1 minute)"), Some(Duration::from_secs(60)));
        assert_eq!(parse_rate("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(parse_rate("rate(2 hours)"), Some(Duration::from_secs(7_200)));
        assert_eq!(parse_rate("rate(10 seconds)"), Some(Duration::from_secs(10)));
        for unreadable in [
            "rate(0 minutes)",
            "rate(minute)",
            "cron(0 12 * * ? *)",
            "rate(1 fortnight)",
        ] {
            assert_eq!(parse_rate(unreadable), None, "{unreadable}");
        }
    }
}
