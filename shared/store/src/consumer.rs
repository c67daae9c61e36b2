//! The one way an event function handles a record: a [`Consumer`] declares which events it
//! reads and which use case they feed; the [`Runner`] does everything else.
//!
//! For each CloudEvent the runner:
//! 1. acknowledges, untouched, every type the consumer does not read (producers may add types);
//! 2. decodes the payload, and rejects the record with the reason when it does not decode
//!    (retrying cannot fix bad data: it goes to the dead-letter topic);
//! 3. asks the consumer whether it [`wants`](Consumer::wants) this event at all, before any I/O;
//! 4. runs the consumer's [`prepare`](Consumer::prepare) step, which holds no transaction of the
//!    runner's: a call to a remote service that may be slow (payment's gateway) belongs there,
//!    so that it never keeps a pooled connection busy while it waits;
//! 5. claims the event in the inbox, which opens the transaction; an event handled before is
//!    acknowledged without running the use case again;
//! 6. runs the use case on that transaction, with the typed event, what `prepare` found, and
//!    the [`Origin`] its own events must carry (caused by this event, in the same trace and
//!    saga);
//! 7. commits, runs the consumer's [`after_commit`](Consumer::after_commit) (a read cache's
//!    invalidation), and only then acknowledges; a failure rolls everything back, the inbox
//!    row included, and becomes `Retry` or `Reject` as the use case's error says.
//!
//! A consumer that sets [`Consumer::APPLIES_BATCHES`] (a projection, a local saga step) takes
//! a batch of records — several of one partition, as the local dispatcher sends them to a
//! function whose template sets `Metadata.DeliveryBatch`, or as Lambda hands them — in one
//! transaction:
//! steps 1–4 for each, then every inbox row and effect, then one commit. If that transaction
//! fails, each record goes through the steps above on its own (ADR 0064).
//!
//! So a use case never sees a `cloudevents::Event`, never commits, and never handles
//! duplicates: it changes state and appends its events, and its error type says whether
//! trying again can help.

use std::future::Future;

use chrono::{DateTime, Utc};
use cloudevents::AttributesReader;
use events::Decode;
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::{MySqlConnection, MySqlPool};

use crate::inbox::{self, Claim};
use crate::outbox::{EventContext, Origin};

/// An event delivered to a use case, decoded, with what the consumer's
/// [`prepare`](Consumer::prepare) step found (nothing, `()`, for most consumers).
#[derive(Debug, Clone)]
pub struct Received<E, P = ()> {
    /// The payload.
    pub data: E,
    /// The CloudEvent id (the producer's outbox row id).
    pub id: String,
    /// When the producer says the fact happened, if it says.
    pub time: Option<DateTime<Utc>>,
    /// What the events this one causes must carry: this function, and a context caused by
    /// this event in its trace and saga.
    pub origin: Origin,
    /// What [`Consumer::prepare`] returned.
    pub prepared: P,
}

impl<E> Received<E> {
    fn with<P>(self, prepared: P) -> Received<E, P> {
        Received {
            data: self.data,
            id: self.id,
            time: self.time,
            origin: self.origin,
            prepared,
        }
    }
}

/// Whether a use case's failure is worth another attempt.
pub trait Retryable {
    /// `true` for transient failures (the database or a remote service failed, a lock wait
    /// timed out); `false` when the event breaks a rule and will break it every time.
    fn is_retryable(&self) -> bool;
}

/// An event function: which events it reads and what it does with them.
pub trait Consumer: Send + Sync + 'static {
    /// The function's name: its inbox consumer, and the last part of its events' `source`.
    const NAME: &'static str;
    /// What it reads: one [`events::EventType`], or a [`events::one_of!`] set of them. Every
    /// other event type is acknowledged untouched.
    type Event: Decode;
    /// Its use case's failure.
    type Error: std::error::Error + Retryable + Send + Sync + 'static;
    /// What [`prepare`](Consumer::prepare) hands to the use case: `()` for a consumer that does
    /// all its work in the transaction.
    type Prepared: Default + Send + Sync;

    /// Whether a batch of records may be applied in one transaction: one inbox row and one
    /// [`apply`](Consumer::apply) per record, one commit for all of them. Meant for consumers
    /// whose effect is small and local (the projections, the saga steps that only write
    /// their own tables), where the commit and the delivery are much of the cost. If anything
    /// in the batch fails, the transaction rolls back and the records are handled one by one,
    /// so each still gets its own outcome. Off by default.
    const APPLIES_BATCHES: bool = false;

    /// Whether this event needs the use case at all, decided without I/O. An event it does
    /// not want is acknowledged without a transaction or an inbox row. All by default.
    fn wants(&self, _event: &Self::Event) -> bool {
        true
    }

    /// Work before the runner's transaction, with none of its connections held while it
    /// waits: a call to a remote service, between short transactions of its own on `pool`.
    /// Its result reaches [`apply`](Consumer::apply) as `event.prepared`. It runs on every
    /// delivery, also of an event the inbox will find handled already, so it must be
    /// idempotent. A failure is retried or rejected as its error says, and nothing else runs.
    /// Nothing by default.
    fn prepare(
        &self,
        _pool: &MySqlPool,
        _event: &Received<Self::Event>,
    ) -> impl Future<Output = Result<Self::Prepared, Self::Error>> + Send {
        async { Ok(Self::Prepared::default()) }
    }

    /// The use case: applies the event on `transaction`, appending any events it causes to
    /// the outbox with `event.origin`. It must not commit; the runner does.
    fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event, Self::Prepared>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Work that must outlive a failed attempt, run on `pool` after the attempt's transaction
    /// rolled back (payment counts a gateway failure here, because the attempt's own rows are
    /// gone). When it fails, its error is the reason the event is retried. Nothing by default.
    fn after_rollback(
        &self,
        _pool: &MySqlPool,
        _event: &Received<Self::Event, Self::Prepared>,
        _error: &Self::Error,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }

    /// Work that needs the effect committed, run on `pool` after a successful commit and before
    /// the acknowledgement: deleting the read-cache entries the effect made stale (docs/adr/0041).
    /// It cannot fail the event, which is handled for good; whatever it cannot do must be
    /// harmless (a cache entry lives out its TTL). Nothing by default. Also run when an event
    /// comes again after it was handled, because the process may have stopped between the
    /// commit and this call; so it must be idempotent (deleting keys is).
    fn after_commit(
        &self,
        _pool: &MySqlPool,
        _event: &Received<Self::Event, Self::Prepared>,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs a [`Consumer`] on its context's database as an [`EventHandler`], for any trigger.
#[derive(Debug, Clone)]
pub struct Runner<C> {
    /// Where the inbox row and the effect commit together.
    pool: MySqlPool,
    consumer: C,
}

impl<C: Consumer> Runner<C> {
    /// Runs `consumer` on `pool`, which must be the consumer's own context database: its inbox
    /// and the tables its use case changes live there.
    pub fn new(pool: MySqlPool, consumer: C) -> Self {
        Self { pool, consumer }
    }
}

impl<C: Consumer> EventHandler for Runner<C> {
    /// Ready when the context's database answers: without it no event can be handled.
    async fn readiness(&self) -> Result<(), String> {
        crate::mariadb::ping(&self.pool).await
    }

    /// Every type of the contract's registry that the consumer's `Event` accepts.
    fn event_types(&self) -> Option<Vec<&'static str>> {
        Some(
            events::registry()
                .iter()
                .map(|descriptor| descriptor.name)
                .filter(|name| C::Event::accepts(name))
                .collect(),
        )
    }

    fn applies_batches(&self) -> bool {
        C::APPLIES_BATCHES
    }

    async fn handle(&self, event: &cloudevents::Event, delivery: &Delivery) -> Outcome {
        let received = match self.receive(event).await {
            Step::Done(outcome) => return outcome,
            Step::Apply(received) => received,
        };
        let consumer = &self.consumer;
        let arrival = inbox::Arrival::of(event, delivery);
        let mut transaction = match inbox::claim(&self.pool, C::NAME, &received.id, &arrival).await {
            Ok(Claim::New(transaction)) => transaction,
            Ok(Claim::AlreadyProcessed) => {
                tracing::info!("Event already handled; nothing to do");
                telemetry::record_event_duplicate(C::NAME, event.ty());
                consumer.after_commit(&self.pool, &received).await;
                return Outcome::Ack;
            }
            Err(error) => return Outcome::Retry(format!("the database failed: {error}")),
        };
        match consumer.apply(&mut transaction, &received).await {
            Ok(()) => match transaction.commit().await {
                Ok(()) => {
                    consumer.after_commit(&self.pool, &received).await;
                    Outcome::Ack
                }
                Err(error) => Outcome::Retry(format!("the database failed: {error}")),
            },
            Err(error) => {
                if let Err(rollback) = transaction.rollback().await {
                    // The attempt's locks may still be held: nothing more is tried on this
                    // delivery; the event comes again and starts over.
                    return Outcome::Retry(format!("the database failed: {rollback}"));
                }
                if let Err(after) = consumer.after_rollback(&self.pool, &received, &error).await {
                    return Outcome::Retry(format!("{after:#}"));
                }
                if error.is_retryable() {
                    Outcome::Retry(format!("{error:#}"))
                } else {
                    Outcome::Reject(error.to_string())
                }
            }
        }
    }

    /// With [`Consumer::APPLIES_BATCHES`], the batch's records up to the first one that is
    /// not acknowledged before any I/O (it does not decode, say) are applied in one
    /// transaction. Should that fail, they are handled one by one, stopping at the first that
    /// is not acknowledged.
    async fn handle_batch(&self, batch: &[(cloudevents::Event, Delivery)]) -> Vec<Outcome> {
        if !C::APPLIES_BATCHES || batch.len() < 2 {
            return runtime::events::one_by_one(self, batch).await;
        }
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(batch.len());
        let mut work = Vec::new();
        for (index, (event, delivery)) in batch.iter().enumerate() {
            match self.receive(event).await {
                Step::Done(Outcome::Ack) => outcomes.push(Some(Outcome::Ack)),
                Step::Done(outcome) => {
                    outcomes.push(Some(outcome));
                    break;
                }
                Step::Apply(received) => {
                    let arrival = inbox::Arrival::of(event, delivery);
                    work.push(Pending {
                        index,
                        received,
                        arrival,
                    });
                    outcomes.push(None);
                }
            }
        }
        match self.apply_together(&work).await {
            Ok(claimed) => {
                for (
                    Pending {
                        index,
                        received,
                        arrival,
                    },
                    new,
                ) in work.iter().zip(claimed)
                {
                    if !new {
                        tracing::info!(event_id = %received.id, "Event already handled; nothing to do");
                        let event_type = arrival.event_type.as_deref().unwrap_or_default();
                        telemetry::record_event_duplicate(C::NAME, event_type);
                    }
                    self.consumer.after_commit(&self.pool, received).await;
                    outcomes[*index] = Some(Outcome::Ack);
                }
            }
            Err(reason) => {
                tracing::info!(
                    records = work.len(),
                    reason,
                    "The batch's transaction failed; handling its records one by one"
                );
                // Every record before the last one applied; one that failed before any I/O
                // comes after them and keeps its outcome.
                let tried = work.last().map_or(0, |pending| pending.index + 1);
                let again = runtime::events::one_by_one(self, &batch[..tried]).await;
                for (outcome, again) in outcomes.iter_mut().zip(again) {
                    *outcome = Some(again);
                }
            }
        }
        let first_failure = outcomes
            .iter()
            .position(|outcome| outcome.as_ref().is_none_or(|outcome| *outcome != Outcome::Ack));
        outcomes
            .into_iter()
            .chain(std::iter::repeat_with(|| None))
            .take(batch.len())
            .enumerate()
            .map(|(index, outcome)| match outcome {
                Some(outcome) if first_failure.is_none_or(|first| index <= first) => outcome,
                _ => runtime::events::untried(),
            })
            .collect()
    }
}

/// What the runner does with an event before its transaction.
enum Step<E, P> {
    /// Nothing more: the event is finished (or failed) with this outcome.
    Done(Outcome),
    /// Claim it in the inbox and apply it.
    Apply(Received<E, P>),
}

/// A record of a batch on its way into the batch's transaction.
struct Pending<E, P> {
    /// Its place in the batch.
    index: usize,
    received: Received<E, P>,
    arrival: inbox::Arrival,
}

impl<C: Consumer> Runner<C> {
    /// Decodes `event`, asks the consumer whether it wants it, and runs its `prepare` step.
    async fn receive(&self, event: &cloudevents::Event) -> Step<C::Event, C::Prepared> {
        let data = match C::Event::decode(event) {
            Ok(Some(data)) => data,
            Ok(None) => return Step::Done(Outcome::Ack),
            Err(error) => return Step::Done(Outcome::Reject(error.to_string())),
        };
        if !self.consumer.wants(&data) {
            return Step::Done(Outcome::Ack);
        }
        let received = Received {
            data,
            id: event.id().to_owned(),
            time: event.time().copied(),
            origin: Origin::new(C::NAME, EventContext::caused_by(event)),
            prepared: (),
        };
        match self.consumer.prepare(&self.pool, &received).await {
            Ok(prepared) => Step::Apply(received.with(prepared)),
            Err(error) if error.is_retryable() => Step::Done(Outcome::Retry(format!("{error:#}"))),
            Err(error) => Step::Done(Outcome::Reject(error.to_string())),
        }
    }

    /// Claims and applies every record of `work` on one transaction and commits it; answers,
    /// per record, whether it was new (`false`: handled before, nothing applied). Any failure
    /// rolls the whole transaction back.
    async fn apply_together(&self, work: &[Pending<C::Event, C::Prepared>]) -> Result<Vec<bool>, String> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(|error| format!("the database failed: {error}"))?;
        let mut claimed = Vec::with_capacity(work.len());
        let mut failure = None;
        for Pending {
            received, arrival, ..
        } in work
        {
            match inbox::claim_in(&mut transaction, C::NAME, &received.id, arrival).await {
                Ok(true) => {}
                Ok(false) => {
                    claimed.push(false);
                    continue;
                }
                Err(error) => {
                    failure = Some(format!("the database failed: {error}"));
                    break;
                }
            }
            if let Err(error) = self.consumer.apply(&mut transaction, received).await {
                failure = Some(format!("{error:#}"));
                break;
            }
            claimed.push(true);
        }
        if let Some(failure) = failure {
            // A failed rollback closes the connection; the records are tried again one by one.
            let _ = transaction.rollback().await;
            return Err(failure);
        }
        transaction
            .commit()
            .await
            .map_err(|error| format!("the database failed: {error}"))?;
        Ok(claimed)
    }
}
