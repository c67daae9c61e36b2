//! One record from "taken off the partition" to a final outcome: decode it, deliver it with
//! retries, or dead-letter it. Shared by the group consumers and by replay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use cloudevents::AttributesReader;
use tokio::sync::watch;
use tracing::Instrument;

use crate::backoff::RetryPolicy;
use crate::dead_letter::{DeadLetterProducer, Failure};
use crate::delivery::{Deliverer, Finished};
use crate::metrics;
use crate::record::Record;
use crate::subscription::Subscription;

/// Settings of the delivery pipeline shared by every subscription of a process.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub bootstrap_servers: String,
    pub retry: RetryPolicy,
    /// How long one HTTP request may take before it counts as a (retryable) timeout.
    pub request_timeout: Duration,
}

impl DeliveryConfig {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// How handling a record ended, as far as its offset is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The function acknowledged it.
    Acknowledged,
    /// It is safely in the dead-letter topic.
    DeadLettered,
    /// Shutdown stopped it before either: its offset must not be stored.
    Interrupted,
}

impl Handled {
    /// Whether the record is finished, i.e. its offset may be stored.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Interrupted)
    }
}

/// The HTTP client and the dead-letter producer, built once per process.
#[derive(Debug)]
pub struct Pipeline {
    deliverer: Deliverer,
    dead_letters: DeadLetterProducer,
}

impl Pipeline {
    pub fn new(config: &DeliveryConfig) -> anyhow::Result<Self> {
        Ok(Self {
            deliverer: Deliverer::new(config.request_timeout, config.retry)?,
            dead_letters: DeadLetterProducer::new(&config.bootstrap_servers, config.retry)?,
        })
    }

    /// Takes `record` to a final outcome for `subscription`.
    ///
    /// A record that is not a readable CloudEvent is dead-lettered at once: no retry can fix
    /// it, and it must not block the records behind it.
    pub async fn handle(
        &self,
        subscription: &Subscription,
        record: &Record,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Handled {
        let span = tracing::info_span!(
            "deliver",
            function = %subscription.function,
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            event_id = tracing::field::Empty,
        );
        self.handle_in_span(subscription, record, shutdown)
            .instrument(span)
            .await
    }

    async fn handle_in_span(
        &self,
        subscription: &Subscription,
        record: &Record,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Handled {
        let started = Instant::now();
        let function = subscription.function.as_str();
        let finished = match decode(record) {
            Err(reason) => Finished::DeadLetter {
                reason: format!("malformed record: {reason}"),
                attempts: 0,
            },
            Ok(event) if !subscription.delivers(event.ty()) => {
                // Not a type the function reads (`Metadata.EventTypes`): it would acknowledge
                // the event untouched, so the HTTP round trip is saved.
                metrics::record_finished(function, &record.topic, "filtered", started.elapsed());
                return Handled::Acknowledged;
            }
            Ok(event) => {
                tracing::Span::current().record("event_id", event.id());
                self.deliverer
                    .deliver(function, &subscription.target, record, &event, shutdown)
                    .await
            }
        };
        match finished {
            Finished::Acknowledged { attempts } => {
                tracing::debug!(attempts, "The function acknowledged the record.");
                metrics::record_finished(function, &record.topic, "acknowledged", started.elapsed());
                Handled::Acknowledged
            }
            Finished::DeadLetter { reason, attempts } => {
                tracing::warn!(attempts, %reason, "Dead-lettering the record.");
                let failure = Failure {
                    function,
                    reason: &reason,
                    attempts,
                    failed_at: Utc::now(),
                };
                if self
                    .dead_letters
                    .send(subscription, record, &failure, shutdown)
                    .await
                {
                    metrics::record_finished(function, &record.topic, "dead_lettered", started.elapsed());
                    Handled::DeadLettered
                } else {
                    Handled::Interrupted
                }
            }
            Finished::Interrupted => {
                tracing::info!("Shutdown interrupted the retries; the record will be delivered again.");
                Handled::Interrupted
            }
        }
    }

    /// Takes several records of one partition, no two of one key, to their final outcomes
    /// for `subscription` (ADR 0064). The readable ones of the types the function reads go to
    /// it in one request; every record it does not acknowledge there (a failure, a request
    /// that failed as a whole, a record that is not a CloudEvent) then goes through
    /// [`Pipeline::handle`] on its own, with its own retries and dead letter. Answers one
    /// [`Handled`] per record, in order.
    pub async fn handle_batch(
        &self,
        subscription: &Subscription,
        records: &[Arc<Record>],
        shutdown: &watch::Receiver<bool>,
    ) -> Vec<Handled> {
        let started = Instant::now();
        let function = subscription.function.as_str();
        let mut handled: Vec<Option<Handled>> = vec![None; records.len()];
        let mut batch: Vec<(usize, cloudevents::Event)> = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            match decode(record) {
                Ok(event) if !subscription.delivers(event.ty()) => {
                    metrics::record_finished(function, &record.topic, "filtered", started.elapsed());
                    handled[index] = Some(Handled::Acknowledged);
                }
                Ok(event) => batch.push((index, event)),
                // Dead-lettered on its own below, with the reason.
                Err(_) => {}
            }
        }
        if batch.len() > 1 {
            let parts: Vec<(&Record, &cloudevents::Event)> = batch
                .iter()
                .map(|(index, event)| (records[*index].as_ref(), event))
                .collect();
            let acknowledged = self
                .deliverer
                .deliver_batch(function, &subscription.target, &parts, shutdown)
                .await;
            for ((index, _), acknowledged) in batch.iter().zip(acknowledged) {
                if acknowledged {
                    let topic = &records[*index].topic;
                    metrics::record_finished(function, topic, "acknowledged", started.elapsed());
                    handled[*index] = Some(Handled::Acknowledged);
                }
            }
        }
        // Their keys differ, so the rest may go at once.
        let rest = handled
            .iter()
            .enumerate()
            .filter(|(_, handled)| handled.is_none())
            .map(|(index, _)| {
                let mut shutdown = shutdown.clone();
                async move {
                    (
                        index,
                        self.handle(subscription, &records[index], &mut shutdown).await,
                    )
                }
            });
        for (index, outcome) in futures::future::join_all(rest).await {
            handled[index] = Some(outcome);
        }
        handled
            .into_iter()
            .map(|handled| handled.unwrap_or(Handled::Interrupted))
            .collect()
    }
}

fn decode(record: &Record) -> Result<cloudevents::Event, String> {
    if record.unreadable_headers > 0 {
        return Err(format!(
            "{} header(s) could not be read (key not UTF-8)",
            record.unreadable_headers
        ));
    }
    events::kafka::decode(&record.headers, record.payload.as_deref()).map_err(|error| error.to_string())
}
