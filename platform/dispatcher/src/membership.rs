//! Static group membership: the name a dispatcher goes by in its consumer groups.
//!
//! A consumer that joins a group anonymously gets a new member id every time it starts. When
//! a dispatcher is killed, its old member stays in the group until the broker has heard
//! nothing from it for the session timeout (45 s by default), and the restarted dispatcher's
//! partitions are handed out only then. A consumer that joins under a `group.instance.id`
//! (KIP-345) is recognised when it comes back under the same id: the broker swaps the old
//! member for the new one and hands it the same partitions at once.
//!
//! The id must stay the same across restarts of one dispatcher, and must differ between two
//! dispatchers of one group — if two processes share it, the broker fences the older one out.
//! [`InstanceName::on_host`] gets both from what only one process can hold at a time: the
//! host name and the port the dispatcher serves its metrics on. [`consumer`](crate::consumer)
//! treats being fenced as fatal and stops with the reason, so a shared name is never silent.

/// The longest `group.instance.id` the broker accepts (the same rule as topic names).
const MAX_GROUP_INSTANCE_ID: usize = 249;

/// The name of one dispatcher process in its consumer groups; stable across its restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MembershipError {
    #[error("`{0}` is not a legal instance name (1 to 100 letters, digits, `.`, `_`, `-`)")]
    IllegalName(String),
    #[error(
        "The group instance id of {owner} on {topic} would be {length} characters, more than Kafka's {MAX_GROUP_INSTANCE_ID}; choose a shorter --instance-id"
    )]
    TooLong {
        owner: String,
        topic: String,
        length: usize,
    },
}

impl InstanceName {
    /// A name given by the operator (for example a StatefulSet pod's name).
    pub fn parse(name: &str) -> Result<Self, MembershipError> {
        let legal = !name.is_empty()
            && name.len() <= 100
            && name.chars().all(is_legal_char)
            && name != "."
            && name != "..";
        if legal {
            Ok(Self(name.to_owned()))
        } else {
            Err(MembershipError::IllegalName(name.to_owned()))
        }
    }

    /// `<host>-<port>`: unique among the dispatchers of a host, because only one process can
    /// listen on `port`, and stable across restarts of the dispatcher that does. Characters
    /// Kafka does not allow in the host name become `-`.
    pub fn on_host(host: &str, port: u16) -> Self {
        let host: String = host
            .trim()
            .chars()
            .take(80)
            .map(|c| if is_legal_char(c) { c } else { '-' })
            .collect();
        let host = if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        };
        Self(format!("{host}-{port}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `group.instance.id` of this dispatcher in the group of `owner` (a function, or
    /// `dispatcher` for the consumer of a whole topic) on `topic`: `<owner>.<topic>.<instance>`,
    /// one per (owner, topic, instance). Kafka scopes the id to its group, so the owner and
    /// topic are there for whoever reads the broker's logs.
    pub fn group_instance_id(&self, owner: &str, topic: &str) -> Result<String, MembershipError> {
        let id = format!("{owner}.{topic}.{}", self.0);
        if id.len() > MAX_GROUP_INSTANCE_ID {
            return Err(MembershipError::TooLong {
                owner: owner.to_owned(),
                topic: topic.to_owned(),
                length: id.len(),
            });
        }
        Ok(id)
    }
}

impl std::fmt::Display for InstanceName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// This machine's name, as the kernel reports it, or `$HOSTNAME`, or `localhost`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn is_legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::Subscription;

    fn subscription() -> Subscription {
        Subscription::parse(
            "reserve-stock=commerce.ordering.order=http://127.0.0.1:1/",
            "local",
        )
        .expect("valid subscription")
    }

    #[test]
    fn the_default_name_is_the_host_and_the_metrics_port() {
        assert_eq!(InstanceName::on_host("build-7", 9464).as_str(), "build-7-9464");
    }

    #[test]
    fn two_dispatchers_on_one_host_get_different_names_and_a_restart_gets_the_same() {
        let first = InstanceName::on_host("laptop", 9464);
        let second = InstanceName::on_host("laptop", 9474);
        assert_ne!(first, second);
        assert_eq!(first, InstanceName::on_host("laptop", 9464));
    }

    #[test]
    fn characters_kafka_refuses_in_a_host_name_are_replaced() {
        assert_eq!(
            InstanceName::on_host(" host name:with/odd\n", 1).as_str(),
            "host-name-with-odd-1"
        );
        assert_eq!(InstanceName::on_host("", 9464).as_str(), "localhost-9464");
    }

    #[test]
    fn the_group_instance_id_names_function_topic_and_instance() {
        let instance = InstanceName::parse("dispatcher-0").expect("legal");
        assert_eq!(
            instance
                .group_instance_id(&subscription().function, &subscription().topic)
                .expect("short enough"),
            "reserve-stock.commerce.ordering.order.dispatcher-0"
        );
    }

    #[test]
    fn names_kafka_would_refuse_are_refused_up_front() {
        for name in ["", ".", "..", "has space", "a/b", &"x".repeat(101)] {
            assert!(
                matches!(InstanceName::parse(name), Err(MembershipError::IllegalName(_))),
                "{name:?} must be refused"
            );
        }
        assert!(InstanceName::parse("pod-3.dispatcher_a").is_ok());
    }

    #[test]
    fn an_instance_id_longer_than_kafka_allows_is_refused_with_the_subscription() {
        let instance = InstanceName::parse(&"i".repeat(100)).expect("legal");
        let long = Subscription::parse(
            &format!("{}=commerce.ordering.order=http://127.0.0.1:1/", "f".repeat(150)),
            "local",
        )
        .expect("valid subscription");
        assert!(matches!(
            instance.group_instance_id(&long.function, &long.topic),
            Err(MembershipError::TooLong { length, .. }) if length > MAX_GROUP_INSTANCE_ID
        ));
    }
}
