//! What delivers events to the functions: a `KafkaSource` per subscription with a `KafkaSink`
//! as its dead-letter sink, and a `PingSource` per schedule (docs/adr/0033).

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use template::FunctionSpec;

use crate::cluster::{self, CONSUMER_GROUP_PREFIX, KAFKA_BOOTSTRAP_SERVERS, REPLICATION_FACTOR};
use crate::function::partitions;

/// Retries after the first delivery, as the local dispatcher's default of 8 attempts
/// (platform/dispatcher, `RetryPolicy::default()`).
pub const RETRIES: u32 = 7;

/// The first retry's wait; Knative's exponential policy doubles it for every further retry,
/// as the dispatcher doubles its ceiling from 100 ms.
pub const BACKOFF_DELAY: &str = "PT0.1S";

/// The name part a topic contributes: `commerce.ordering.order` → `ordering-order`.
fn topic_part(topic: &str) -> String {
    topic
        .strip_prefix("commerce.")
        .unwrap_or(topic)
        .replace(['.', '_'], "-")
}

/// The sources and sinks of `function`: one `KafkaSource` and one dead-letter `KafkaSink`
/// per subscription, one `PingSource` per schedule.
pub fn of(function: &FunctionSpec) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for subscription in &function.subscriptions {
        let name = format!("{}-from-{}", function.name, topic_part(&subscription.topic));
        let sink_name = format!("dlq-{name}");
        objects.push(kafka_source(function, &subscription.topic, &name, &sink_name));
        objects.push(dead_letter_sink(function, &subscription.topic, &sink_name));
    }
    for (index, expression) in function.schedules.iter().enumerate() {
        let name = match index {
            0 => format!("{}-schedule", function.name),
            _ => format!("{}-schedule-{}", function.name, index + 1),
        };
        let schedule =
            cron(expression).with_context(|| format!("function {}: schedule {expression}", function.name))?;
        objects.push(ping_source(function, &name, &schedule));
    }
    Ok(objects)
}

fn labels(function: &FunctionSpec, name: &str, component: &str) -> Value {
    let mut labels = cluster::labels(name, component);
    labels["commerce/function"] = json!(function.name);
    labels
}

fn function_ref(function: &FunctionSpec) -> Value {
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": function.name})
}

fn kafka_source(function: &FunctionSpec, topic: &str, name: &str, sink_name: &str) -> Value {
    json!({
        "apiVersion": "sources.knative.dev/v1",
        "kind": "KafkaSource",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels(function, name, "event-source")},
        "spec": {
            "bootstrapServers": [KAFKA_BOOTSTRAP_SERVERS],
            "topics": [topic],
            "consumerGroup": format!("{CONSUMER_GROUP_PREFIX}.{}.{topic}", function.name),
            // A new group starts at the oldest record, like the dispatcher and the event
            // source mappings (TRIM_HORIZON): nothing published before the first start is lost.
            "initialOffset": "earliest",
            // One record per partition at a time, in order, as the dispatcher delivers.
            "ordering": "ordered",
            "delivery": {
                "retry": RETRIES,
                "backoffPolicy": "exponential",
                "backoffDelay": BACKOFF_DELAY,
                "deadLetterSink": {"ref": {
                    "apiVersion": "eventing.knative.dev/v1alpha1",
                    "kind": "KafkaSink",
                    "name": sink_name,
                }},
            },
            "sink": {"ref": function_ref(function)},
        },
    })
}

fn dead_letter_sink(function: &FunctionSpec, topic: &str, name: &str) -> Value {
    json!({
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "KafkaSink",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels(function, name, "dead-letter-sink")},
        "spec": {
            // The same topic the local dispatcher dead-letters to, so replay works alike.
            "topic": events::topics::dead_letter_topic(topic, &function.name),
            "bootstrapServers": [KAFKA_BOOTSTRAP_SERVERS],
            "numPartitions": partitions(topic),
            "replicationFactor": REPLICATION_FACTOR,
            "contentMode": "binary",
        },
    })
}

fn ping_source(function: &FunctionSpec, name: &str, schedule: &str) -> Value {
    json!({
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": name, "namespace": cluster::NAMESPACE, "labels": labels(function, name, "schedule")},
        "spec": {
            "schedule": schedule,
            "timezone": "UTC",
            "contentType": "application/json",
            "data": "{}",
            // A scheduled function runs its job on `POST /run` (runtime::schedule).
            "sink": {"ref": function_ref(function), "uri": "/run"},
        },
    })
}

/// The cron line (minute hour day month weekday) of a template schedule: `rate(...)` in
/// minutes that divide an hour, hours that divide a day, or one day; or a `cron(...)` of
/// AWS's six fields with a `?` and no year. Anything a five-field cron line cannot say
/// exactly is refused rather than approximated.
pub fn cron(expression: &str) -> anyhow::Result<String> {
    let expression = expression.trim();
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let (amount, unit) = inner
            .trim()
            .split_once(' ')
            .context("a rate is `rate(<amount> <unit>)`")?;
        let amount: u32 = amount
            .parse()
            .ok()
            .filter(|amount| *amount > 0)
            .context("the amount is a positive number")?;
        return match (unit.trim(), amount) {
            ("minute" | "minutes", 1) => Ok("* * * * *".to_owned()),
            ("minute" | "minutes", _) if 60 % amount == 0 => Ok(format!("*/{amount} * * * *")),
            ("hour" | "hours", 1) => Ok("0 * * * *".to_owned()),
            ("hour" | "hours", _) if 24 % amount == 0 => Ok(format!("0 */{amount} * * *")),
            ("day" | "days", 1) => Ok("0 0 * * *".to_owned()),
            (unit, _) => bail!("every {amount} {unit} has no exact five-field cron line"),
        };
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minute, hour, day, month, weekday, year] = fields[..] else {
            bail!("an AWS cron expression has six fields");
        };
        if year != "*" {
            bail!("a cron line has no year");
        }
        let plain = |field: &str| !field.contains(['L', 'W', '#']);
        if ![minute, hour, day, month, weekday].into_iter().all(plain) {
            bail!("L, W and # have no five-field cron equivalent");
        }
        let day = if day == "?" { "*" } else { day };
        let weekday = if weekday == "?" { "*" } else { weekday };
        return Ok(format!("{minute} {hour} {day} {month} {weekday}"));
    }
    bail!("a schedule is `rate(...)` or `cron(...)`")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use template::Subscription;

    use super::*;

    fn reserve_stock() -> FunctionSpec {
        FunctionSpec {
            logical_id: "ReserveStockFunction".to_owned(),
            name: "reserve-stock".to_owned(),
            context: Some("inventory".to_owned()),
            routes: Vec::new(),
            subscriptions: vec![Subscription {
                topic: "commerce.ordering.order".to_owned(),
                consumer_group: Some("reserve-stock".to_owned()),
            }],
            schedules: Vec::new(),
            environment: BTreeMap::new(),
            intrinsic_environment: Vec::new(),
            timeout_seconds: 10,
            memory_mb: 256,
            container_concurrency: None,
            event_types: None,
            delivery_batch: None,
        }
    }

    #[test]
    fn rates_become_the_cron_lines_that_fire_at_the_same_times() {
        assert_eq!(cron("rate(1 minute)").expect("valid"), "* * * * *");
        assert_eq!(cron("rate(15 minutes)").expect("valid"), "*/15 * * * *");
        assert_eq!(cron("rate(1 hour)").expect("valid"), "0 * * * *");
        assert_eq!(cron("rate(6 hours)").expect("valid"), "0 */6 * * *");
        assert_eq!(cron("rate(1 day)").expect("valid"), "0 0 * * *");
        assert_eq!(cron("cron(0 12 * * ? *)").expect("valid"), "0 12 * * *");
    }

    #[test]
    fn schedules_a_cron_line_cannot_say_exactly_are_refused() {
        for expression in [
            "rate(7 minutes)",
            "rate(2 days)",
            "cron(0 12 L * ? *)",
            "cron(0 12 * * ? 2027)",
            "every minute",
        ] {
            assert!(cron(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn a_subscription_is_a_kafka_source_in_its_own_group_dead_lettering_to_the_dispatchers_topic() {
        let objects = of(&reserve_stock()).expect("valid");
        let [source, sink] = &objects[..] else {
            panic!("one source and one sink: {objects:?}");
        };
        assert_eq!(source["kind"], "KafkaSource");
        assert_eq!(source["metadata"]["name"], "reserve-stock-from-ordering-order");
        assert_eq!(
            source["spec"]["consumerGroup"],
            "knative.reserve-stock.commerce.ordering.order"
        );
        assert_eq!(source["spec"]["delivery"]["retry"], 7);
        assert_eq!(
            source["spec"]["delivery"]["deadLetterSink"]["ref"]["name"],
            sink["metadata"]["name"]
        );
        assert_eq!(sink["kind"], "KafkaSink");
        assert_eq!(sink["spec"]["topic"], "commerce.ordering.order.dlq.reserve-stock");
        assert_eq!(sink["spec"]["numPartitions"], 6);
    }
}
