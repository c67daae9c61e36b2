//! What the dispatcher delivers: one subscription = one function listening to one topic.
//!
//! Subscriptions come from `template.yaml` ([`Subscription::all_in`]) or from the command
//! line (`FUNCTION=TOPIC=URL`, [`Subscription::parse`]); both go through the same checks.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Url;

/// One function's interest in one topic, delivered to one HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The function's name; it names the consumer group and the dead-letter topic.
    pub function: String,
    /// The topic whose records the function receives.
    pub topic: String,
    /// The consumer group: one per (topic, function), so every function keeps its own offsets.
    pub group_id: String,
    /// What the group names start with; the consumer of a whole topic is named with it too.
    pub group_prefix: String,
    /// Where the CloudEvents are POSTed (the function's `/`).
    pub target: Url,
    /// The CloudEvent types the function reads (`Metadata.EventTypes`), when declared: a
    /// record of any other type is finished without a delivery. `None`: every record goes.
    pub reads: Option<BTreeSet<String>>,
    /// At most how many records of a partition go to the function in one request
    /// (`Metadata.DeliveryBatch.Size`); 1, the default, posts one CloudEvent per request.
    pub batch_size: usize,
    /// How long records may wait for a batch to fill (`Metadata.DeliveryBatch.WindowMs`).
    pub batch_window: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubscriptionError {
    #[error("A subscription is written FUNCTION=TOPIC=URL, got `{0}`")]
    Shape(String),
    #[error("`{0}` is not a legal Kafka name part (letters, digits, `.`, `_`, `-`)")]
    IllegalName(String),
    #[error("`{url}` is not a plain http:// URL: {reason}")]
    Target { url: String, reason: String },
}

impl Subscription {
    /// Builds a subscription, checking that the names can be used in Kafka topic and group
    /// names (the function name ends up in `<topic>.dlq.<function>`).
    pub fn new(
        function: &str,
        topic: &str,
        target: &str,
        group_prefix: &str,
    ) -> Result<Self, SubscriptionError> {
        for name in [function, topic] {
            if !is_legal_kafka_name(name) {
                return Err(SubscriptionError::IllegalName(name.to_owned()));
            }
        }
        let target_error = |reason: String| SubscriptionError::Target {
            url: target.to_owned(),
            reason,
        };
        let url = Url::parse(target).map_err(|error| target_error(error.to_string()))?;
        // The client is built without TLS: functions are reached on loopback or in-cluster.
        if url.scheme() != "http" {
            return Err(target_error("only http is supported".to_owned()));
        }
        Ok(Self {
            function: function.to_owned(),
            topic: topic.to_owned(),
            group_id: group_id(group_prefix, function, topic),
            group_prefix: group_prefix.to_owned(),
            target: url,
            reads: None,
            batch_size: 1,
            batch_window: Duration::ZERO,
        })
    }

    /// Delivers only records of these CloudEvent types; the rest are finished untouched.
    #[must_use]
    pub fn reading_only<T: AsRef<str>>(mut self, event_types: &[T]) -> Self {
        self.reads = Some(event_types.iter().map(|t| t.as_ref().to_owned()).collect());
        self
    }

    /// Hands the function up to `size` records of a partition per request, letting them wait
    /// up to `window` for the batch to fill (ADR 0064).
    #[must_use]
    pub fn in_batches_of(mut self, size: usize, window: Duration) -> Self {
        self.batch_size = size.max(1);
        self.batch_window = window;
        self
    }

    /// Whether a record of `event_type` goes to the function.
    pub fn delivers(&self, event_type: &str) -> bool {
        self.reads.as_ref().is_none_or(|reads| reads.contains(event_type))
    }

    /// Every Kafka subscription `registry` declares, delivered to its function at `host` on
    /// the function's local port (counted from `base_port` as [`template::Registry::local_ports`]
    /// counts, like the gateway and the scripts). The template's `ConsumerGroupId` belongs to
    /// the AWS event source mapping; locally the group is `<prefix>.<function>.<topic>`.
    pub fn all_in(
        registry: &template::Registry,
        host: &str,
        base_port: u16,
        group_prefix: &str,
    ) -> Result<Vec<Self>, SubscriptionError> {
        let mut subscriptions = Vec::new();
        for (function, port) in registry.local_ports(base_port) {
            let target = format!("http://{host}:{port}/");
            for subscription in &function.subscriptions {
                let mut built = Self::new(&function.name, &subscription.topic, &target, group_prefix)?;
                if let Some(event_types) = &function.event_types {
                    built = built.reading_only(event_types);
                }
                if let Some(batch) = function.delivery_batch {
                    built = built.in_batches_of(
                        batch.size as usize,
                        Duration::from_millis(u64::from(batch.window_ms)),
                    );
                }
                subscriptions.push(built);
            }
        }
        Ok(subscriptions)
    }

    /// Parses `FUNCTION=TOPIC=URL` (the URL may itself contain `=`).
    pub fn parse(spec: &str, group_prefix: &str) -> Result<Self, SubscriptionError> {
        let mut parts = spec.splitn(3, '=');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(function), Some(topic), Some(target)) => {
                Self::new(function.trim(), topic.trim(), target.trim(), group_prefix)
            }
            _ => Err(SubscriptionError::Shape(spec.to_owned())),
        }
    }

    /// The group of the consumer that fetches this subscription's topic for every function
    /// subscribed to it: `<prefix>.<topic>#dispatcher`. No function's group can be named so,
    /// since `#` is not allowed in function and topic names.
    pub fn fan_out_group_id(&self) -> String {
        if self.group_prefix.is_empty() {
            format!("{}#dispatcher", self.topic)
        } else {
            format!("{}.{}#dispatcher", self.group_prefix, self.topic)
        }
    }

    /// The topic this subscription's dead letters go to.
    pub fn dead_letter_topic(&self) -> String {
        events::topics::dead_letter_topic(&self.topic, &self.function)
    }
}

/// `<prefix>.<function>.<topic>`: one group per (topic, function).
fn group_id(prefix: &str, function: &str, topic: &str) -> String {
    if prefix.is_empty() {
        format!("{function}.{topic}")
    } else {
        format!("{prefix}.{function}.{topic}")
    }
}

fn is_legal_kafka_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_parsed_from_function_topic_and_url() {
        let subscription = Subscription::parse(
            "reserve-stock=commerce.ordering.order=http://127.0.0.1:9000/?a=b",
            "local",
        )
        .expect("valid subscription");
        assert_eq!(subscription.function, "reserve-stock");
        assert_eq!(subscription.topic, "commerce.ordering.order");
        assert_eq!(subscription.target.as_str(), "http://127.0.0.1:9000/?a=b");
        assert_eq!(
            subscription.group_id,
            "local.reserve-stock.commerce.ordering.order"
        );
        assert_eq!(
            subscription.dead_letter_topic(),
            "commerce.ordering.order.dlq.reserve-stock"
        );
        assert_eq!(
            subscription.fan_out_group_id(),
            "local.commerce.ordering.order#dispatcher"
        );
    }

    #[test]
    fn the_template_subscriptions_go_to_each_function_on_its_local_port() {
        let registry = template::Registry::parse(
            r#"
Resources:
  ReserveStockFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: reserve-stock}}
    Properties:
      Events:
        Orders:
          Type: SelfManagedKafka
          Properties: {Topics: [commerce.ordering.order], ConsumerGroupId: aws-group}
  PlaceOrderFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: place-order}}
    Properties:
      Events:
        Place: {Type: HttpApi, Properties: {Path: /orders, Method: post}}
  AuthorizePaymentFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: authorize-payment}}
    Properties:
      Events:
        Stock:
          Type: MSK
          Properties: {Topics: [commerce.inventory.stock, commerce.ordering.order]}
"#,
        )
        .expect("valid template");

        let subscriptions = Subscription::all_in(&registry, "127.0.0.1", 8100, "local").expect("valid");

        // Name order: authorize-payment 8100, place-order 8101 (no topics), reserve-stock 8102.
        let found: Vec<(&str, &str, &str, &str)> = subscriptions
            .iter()
            .map(|subscription| {
                (
                    subscription.function.as_str(),
                    subscription.topic.as_str(),
                    subscription.target.as_str(),
                    subscription.group_id.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "authorize-payment",
                    "commerce.inventory.stock",
                    "http://127.0.0.1:8100/",
                    "local.authorize-payment.commerce.inventory.stock"
                ),
                (
                    "authorize-payment",
                    "commerce.ordering.order",
                    "http://127.0.0.1:8100/",
                    "local.authorize-payment.commerce.ordering.order"
                ),
                (
                    "reserve-stock",
                    "commerce.ordering.order",
                    "http://127.0.0.1:8102/",
                    "local.reserve-stock.commerce.ordering.order"
                ),
            ]
        );
    }

    #[test]
    fn an_empty_prefix_gives_a_group_named_after_function_and_topic() {
        let subscription = Subscription::parse("f=t=http://localhost:1/", "").expect("valid subscription");
        assert_eq!(subscription.group_id, "f.t");
    }

    #[test]
    fn malformed_subscriptions_are_refused_with_the_reason() {
        assert!(matches!(
            Subscription::parse("only-function", "p"),
            Err(SubscriptionError::Shape(_))
        ));
        assert!(matches!(
            Subscription::parse("f=t", "p"),
            Err(SubscriptionError::Shape(_))
        ));
        assert!(matches!(
            Subscription::parse("bad name=t=http://x/", "p"),
            Err(SubscriptionError::IllegalName(_))
        ));
        assert!(matches!(
            Subscription::parse("f==http://x/", "p"),
            Err(SubscriptionError::IllegalName(_))
        ));
        assert!(matches!(
            Subscription::parse("f=t=not a url", "p"),
            Err(SubscriptionError::Target { .. })
        ));
        assert!(matches!(
            Subscription::parse("f=t=https://x/", "p"),
            Err(SubscriptionError::Target { .. })
        ));
    }
}
