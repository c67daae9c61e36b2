//! Many subscriptions in one process: the entry point of the library.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::consumer::{self, ConsumerConfig, Plan};
use crate::dead_letter::ensure_dead_letter_topics;
use crate::metrics;
use crate::pipeline::{DeliveryConfig, Pipeline};
use crate::subscription::Subscription;

/// Everything the dispatcher can be tuned with.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub delivery: DeliveryConfig,
    pub consumer: ConsumerConfig,
}

impl DispatcherConfig {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            delivery: DeliveryConfig::new(bootstrap_servers),
            consumer: ConsumerConfig::default(),
        }
    }
}

/// Runs a consumer per topic (or per subscription) and delivers their records to the
/// functions.
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatcherConfig,
    subscriptions: Vec<Subscription>,
}

impl Dispatcher {
    /// Refuses an empty list and two subscriptions of one function to one topic (they would
    /// share a consumer group and a dead-letter topic).
    pub fn new(config: DispatcherConfig, subscriptions: Vec<Subscription>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !subscriptions.is_empty(),
            "The dispatcher needs at least one subscription"
        );
        let mut seen = HashSet::new();
        for subscription in &subscriptions {
            anyhow::ensure!(
                seen.insert((&subscription.function, &subscription.topic)),
                "{} subscribes to {} twice",
                subscription.function,
                subscription.topic
            );
        }
        Ok(Self {
            config,
            subscriptions,
        })
    }

    /// Creates the missing dead-letter topics, then delivers until `shutdown` completes (or a
    /// subscription fails). On the way out every in-flight delivery finishes, finished
    /// offsets are committed and the consumers leave their groups.
    ///
    /// Dropping the returned future (e.g. aborting its task) stops everything at once without
    /// committing more: records in flight are then delivered again by the next run.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        metrics::describe();
        let bootstrap_servers = self.config.delivery.bootstrap_servers.clone();
        let mut shutdown = std::pin::pin!(shutdown);
        // The start-up may wait a minute for a broker that is still starting; a SIGTERM in
        // that minute is an orderly stop, not something to sit out.
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("Shutting down before delivery began.");
                return Ok(());
            }
            prepared = ensure_dead_letter_topics(&bootstrap_servers, &self.subscriptions) => prepared?,
        }
        let plans = Plan::all(
            self.subscriptions,
            self.config.consumer.fetching,
            self.config.consumer.instance.as_ref(),
        )?;
        let pipeline = Arc::new(Pipeline::new(&self.config.delivery)?);
        let (stop, stopping) = watch::channel(false);
        let mut runners = JoinSet::new();
        for plan in plans {
            runners.spawn(consumer::run(
                plan,
                bootstrap_servers.clone(),
                self.config.consumer.clone(),
                Arc::clone(&pipeline),
                stopping.clone(),
            ));
        }

        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown => tracing::info!("Shutting down: finishing in-flight deliveries."),
            Some(ended) = runners.join_next() => {
                outcome = flatten(ended);
                if let Err(error) = &outcome {
                    tracing::error!(error = format!("{error:#}"), "A consumer failed; stopping the others.");
                }
            }
        }
        let _ = stop.send(true);
        while let Some(ended) = runners.join_next().await {
            let result = flatten(ended);
            if outcome.is_ok() {
                outcome = result;
            }
        }
        tracing::info!("The dispatcher stopped.");
        outcome
    }
}

fn flatten(ended: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    ended.map_err(anyhow::Error::from).and_then(|result| result)
}
