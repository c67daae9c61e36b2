//! The event functions of inventory: `reserve-stock` on `order.placed`, `release-stock` on
//! `order.cancelled`, `commit-stock` on `order.confirmed`. Every other event type on the
//! order topic is acknowledged untouched, so ordering can add event types freely.

use chrono::{Duration, Utc};
use cloudevents::{AttributesReader, Event};
use events::ordering::{
    ORDER_CANCELLED_V1, ORDER_CONFIRMED_V1, ORDER_PLACED_V1, OrderCancelledV1, OrderConfirmedV1,
    OrderPlacedV1,
};
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::MySqlPool;
use store::outbox::EventContext;

use crate::domain::{Quantity, ReservationRequest, Sku};
use crate::reservations::{self, ReservationError, Reserved, Settled, Step};

/// How long a reservation holds stock for an unpaid order unless configured otherwise. Longer
/// than ordering's payment deadline, so an order normally expires (and releases) first.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::minutes(30);

/// `reserve-stock`.
#[derive(Debug, Clone)]
pub struct ReserveStock {
    pool: MySqlPool,
    ttl: Duration,
}

impl ReserveStock {
    pub const CONSUMER: &'static str = "reserve-stock";

    pub fn new(pool: MySqlPool, ttl: Duration) -> Self {
        Self { pool, ttl }
    }
}

impl EventHandler for ReserveStock {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != ORDER_PLACED_V1 {
            return Outcome::Ack;
        }
        let placed: OrderPlacedV1 = match events::envelope::data_json(event) {
            Ok(placed) => placed,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let request = match request_of(&placed) {
            Ok(request) => request,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        let expires_at = Utc::now() + self.ttl;
        match reservations::reserve(&self.pool, step, &placed.order_id, &request, expires_at).await {
            Ok(Reserved::All) => Outcome::Ack,
            Ok(Reserved::Refused(short)) => {
                tracing::info!(short_lines = short.len(), "Stock is short; reserved nothing");
                Outcome::Ack
            }
            Ok(Reserved::AlreadySettled | Reserved::Duplicate) => {
                tracing::info!("Order already settled by inventory; nothing to do");
                Outcome::Ack
            }
            Err(error) => outcome_of(error),
        }
    }
}

/// `release-stock`.
#[derive(Debug, Clone)]
pub struct ReleaseStock {
    pool: MySqlPool,
}

impl ReleaseStock {
    pub const CONSUMER: &'static str = "release-stock";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl EventHandler for ReleaseStock {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != ORDER_CANCELLED_V1 {
            return Outcome::Ack;
        }
        let cancelled: OrderCancelledV1 = match events::envelope::data_json(event) {
            Ok(cancelled) => cancelled,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        settled(reservations::release(&self.pool, step, &cancelled.order_id).await)
    }
}

/// `commit-stock`.
#[derive(Debug, Clone)]
pub struct CommitStock {
    pool: MySqlPool,
}

impl CommitStock {
    pub const CONSUMER: &'static str = "commit-stock";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl EventHandler for CommitStock {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != ORDER_CONFIRMED_V1 {
            return Outcome::Ack;
        }
        let confirmed: OrderConfirmedV1 = match events::envelope::data_json(event) {
            Ok(confirmed) => confirmed,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        settled(reservations::commit(&self.pool, step, &confirmed.order_id).await)
    }
}

fn request_of(placed: &OrderPlacedV1) -> Result<ReservationRequest, crate::domain::InvalidInput> {
    let lines = placed
        .lines
        .iter()
        .map(|line| {
            Ok((
                Sku::parse(&line.product_id)?,
                Quantity::new(i64::from(line.quantity))?,
            ))
        })
        .collect::<Result<Vec<_>, crate::domain::InvalidInput>>()?;
    ReservationRequest::new(lines)
}

fn settled(result: Result<Settled, ReservationError>) -> Outcome {
    match result {
        Ok(Settled::Changed) => Outcome::Ack,
        Ok(Settled::NothingToDo | Settled::Duplicate) => {
            tracing::info!("Reservation already settled; nothing to do");
            Outcome::Ack
        }
        Err(error) => outcome_of(error),
    }
}

fn outcome_of(error: ReservationError) -> Outcome {
    match error {
        ReservationError::NotCommittable { .. } => Outcome::Reject(error.to_string()),
        ReservationError::Database(_) | ReservationError::Unexpected(_) => {
            Outcome::Retry(format!("{error:#}"))
        }
    }
}

/// `expire-reservations`: a scheduled sweep that releases reservations whose time ran out.
#[derive(Debug, Clone)]
pub struct ExpireReservations {
    pool: MySqlPool,
}

impl ExpireReservations {
    /// Reservations released per transaction; a sweep runs batches until one comes back short.
    pub const BATCH: u32 = 100;
    /// Batches per run, so one run stays well inside a function's time limit.
    pub const MAX_BATCHES: u32 = 50;

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl runtime::schedule::ScheduledJob for ExpireReservations {
    async fn run(&self) -> anyhow::Result<serde_json::Value> {
        let mut released = 0;
        for _ in 0..Self::MAX_BATCHES {
            let batch = reservations::expire(&self.pool, Utc::now(), Self::BATCH).await?;
            released += batch;
            if batch < Self::BATCH {
                break;
            }
        }
        Ok(serde_json::json!({ "released": released }))
    }
}
