//! The platform's Kafka topics: one per aggregate, keyed by aggregate id.
//!
//! Events about one aggregate share a key and therefore a partition, which is what keeps
//! them in order for every consumer. Partition counts are fixed when a topic is created;
//! growing them later would move keys between partitions and break that order, so they
//! are chosen generously up front.

/// A topic that carries the events of one aggregate type of one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// The full topic name, `commerce.<context>.<aggregate>`.
    pub name: &'static str,
    /// The bounded context that owns the aggregate and is the only producer.
    pub context: &'static str,
    /// How many partitions the topic is created with.
    pub partitions: i32,
}

/// Partitions per platform topic: enough for several consumer instances per function
/// while staying cheap for a single local broker.
pub const DEFAULT_PARTITIONS: i32 = 6;

pub const IDENTITY_USER: Topic = Topic {
    name: "commerce.identity.user",
    context: "identity",
    partitions: DEFAULT_PARTITIONS,
};

pub const CATALOG_PRODUCT: Topic = Topic {
    name: "commerce.catalog.product",
    context: "catalog",
    partitions: DEFAULT_PARTITIONS,
};

pub const INVENTORY_STOCK: Topic = Topic {
    name: "commerce.inventory.stock",
    context: "inventory",
    partitions: DEFAULT_PARTITIONS,
};

pub const ORDERING_ORDER: Topic = Topic {
    name: "commerce.ordering.order",
    context: "ordering",
    partitions: DEFAULT_PARTITIONS,
};

pub const PAYMENT_PAYMENT: Topic = Topic {
    name: "commerce.payment.payment",
    context: "payment",
    partitions: DEFAULT_PARTITIONS,
};

/// Every topic the platform produces to, in context order.
pub const ALL: &[Topic] = &[
    IDENTITY_USER,
    CATALOG_PRODUCT,
    INVENTORY_STOCK,
    ORDERING_ORDER,
    PAYMENT_PAYMENT,
];

/// Looks a platform topic up by its full name.
pub fn by_name(name: &str) -> Option<Topic> {
    ALL.iter().copied().find(|topic| topic.name == name)
}

/// The dead-letter topic for records of `topic` that `function` rejected or could not
/// handle after its retries: `<topic>.dlq.<function>`.
///
/// One dead-letter topic per subscriber keeps a poison record of one function from being
/// re-delivered to the others when the dead letters are replayed.
pub fn dead_letter_topic(topic: &str, function: &str) -> String {
    format!("{topic}.dlq.{function}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_is_named_after_its_context_and_is_unique() {
        for topic in ALL {
            assert!(
                topic.name.starts_with(&format!("commerce.{}.", topic.context)),
                "{} does not belong to {}",
                topic.name,
                topic.context
            );
            assert_eq!(ALL.iter().filter(|other| other.name == topic.name).count(), 1);
        }
    }

    #[test]
    fn topic_names_are_legal_kafka_names() {
        for topic in ALL {
            assert!(topic.name.len() <= 249);
            assert!(
                topic
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            );
            assert!(topic.partitions > 1, "{} needs several partitions", topic.name);
        }
    }

    #[test]
    fn dead_letter_topics_name_the_topic_and_the_function() {
        assert_eq!(
            dead_letter_topic(ORDERING_ORDER.name, "reserve-stock"),
            "commerce.ordering.order.dlq.reserve-stock"
        );
    }

    #[test]
    fn lookup_by_name_finds_platform_topics_only() {
        assert_eq!(by_name("commerce.payment.payment"), Some(PAYMENT_PAYMENT));
        assert_eq!(by_name("commerce.payment.refund"), None);
    }
}
