//! Kafka provisioning: the platform's topics, created up front.
//!
//! The broker runs with `auto.create.topics.enable=false`, so a producer that names a topic
//! nobody created fails instead of silently creating a one-partition topic that would break
//! per-key ordering later. This module creates what is missing and checks what exists.

use std::time::Duration;

use anyhow::{Context as _, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

/// Creates every topic of `topics` that is missing and verifies the partition count of the
/// ones that exist. Returns the names of the topics it created.
pub async fn ensure_topics(
    bootstrap_servers: &str,
    topics: &[events::topics::Topic],
    replication_factor: i32,
) -> anyhow::Result<Vec<String>> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", "stackctl")
        .create()
        .context("Cannot create a Kafka admin client")?;

    let existing = partition_counts(&admin, bootstrap_servers)?;
    let missing: Vec<NewTopic<'_>> = topics
        .iter()
        .filter(|topic| !existing.iter().any(|(name, _)| name == topic.name))
        .map(|topic| {
            NewTopic::new(
                topic.name,
                topic.partitions,
                TopicReplication::Fixed(replication_factor),
            )
        })
        .collect();

    let mut created = Vec::new();
    if !missing.is_empty() {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        for result in admin.create_topics(&missing, &options).await? {
            match result {
                Ok(name) => created.push(name),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => bail!("Cannot create topic {name}: {code}"),
            }
        }
    }

    for topic in topics {
        if let Some((_, partitions)) = existing.iter().find(|(name, _)| name == topic.name)
            && *partitions < topic.partitions
        {
            bail!(
                "Topic {} has {} partitions but the platform expects {}; delete it (the local \
                 stack's data is disposable) or raise its partitions",
                topic.name,
                partitions,
                topic.partitions
            );
        }
    }
    Ok(created)
}

/// Every topic on the cluster with its partition count.
fn partition_counts(
    admin: &AdminClient<DefaultClientContext>,
    bootstrap_servers: &str,
) -> anyhow::Result<Vec<(String, i32)>> {
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(15))
        .with_context(|| format!("Cannot reach Kafka at {bootstrap_servers}"))?;
    Ok(metadata
        .topics()
        .iter()
        .map(|topic| {
            (
                topic.name().to_owned(),
                i32::try_from(topic.partitions().len()).unwrap_or(i32::MAX),
            )
        })
        .collect())
}
