//! The saga's steps that happen in other contexts, as ordering hears of them: inventory's
//! `stock.reserved` and payment's `payment.authorized`. `record-order-progress` keeps the time
//! of each in `order_progress`, and the order view lists them, so an order's page can show
//! every step between PLACED and CONFIRMED with its time (docs/adr/0051).
//!
//! The steps inform; they decide nothing. Confirmation and cancellation stay with
//! `confirm-order` and `cancel-order`, which read their own events. A step is recorded once:
//! the first event of a step for an order wins, so redeliveries and replays change nothing.

use chrono::{DateTime, Utc};
use events::inventory::StockReservedV1;
use events::payment::PaymentAuthorizedV1;
use serde::Serialize;
use sqlx::MySqlConnection;
use store::consumer::{Consumer, Received, Retryable};

events::one_of! {
    /// What ordering records as a step of an order's saga.
    pub enum ProgressEvent {
        StockReserved(StockReservedV1),
        PaymentAuthorized(PaymentAuthorizedV1),
    }
}

/// A step of the saga that another context took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    StockReserved,
    PaymentAuthorized,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StockReserved => "STOCK_RESERVED",
            Self::PaymentAuthorized => "PAYMENT_AUTHORIZED",
        }
    }

    fn of(event: &ProgressEvent) -> (Self, &str) {
        match event {
            ProgressEvent::StockReserved(reserved) => (Self::StockReserved, &reserved.order_id),
            ProgressEvent::PaymentAuthorized(authorized) => (Self::PaymentAuthorized, &authorized.order_id),
        }
    }
}

/// A step as the order's owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// `STOCK_RESERVED` or `PAYMENT_AUTHORIZED`.
    pub step: String,
    pub at: DateTime<Utc>,
}

/// One event of an order's saga as one of ordering's functions received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HopView {
    /// The CloudEvent type, e.g. `commerce.payment.payment.authorized.v1`.
    pub event: String,
    /// The function that handled it.
    pub consumer: String,
    /// When its producer committed it; absent when the producer gave no time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When the relay published it to Kafka; absent when the trigger does not tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    /// When the function began on it.
    pub received_at: DateTime<Utc>,
    /// The delivery attempt that got through, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u16>,
}

/// The `record-order-progress` function.
#[derive(Debug, Clone, Copy)]
pub struct RecordOrderProgress;

impl Consumer for RecordOrderProgress {
    const NAME: &'static str = "record-order-progress";
    // A projection: a batch of records commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = ProgressEvent;
    type Error = ProgressError;
    type Prepared = ();

    /// Records the step at the producer's time (or now, when the event has none).
    #[tracing::instrument(skip_all, fields(order_id))]
    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let (step, order_id) = Step::of(&event.data);
        tracing::Span::current().record("order_id", order_id);
        let recorded = sqlx::query(
            "INSERT IGNORE INTO order_progress (order_id, step, occurred_at, event_id) VALUES (?, ?, ?, ?)",
        )
        .bind(order_id)
        .bind(step.as_str())
        .bind(event.time.unwrap_or_else(Utc::now))
        .bind(&event.id)
        .execute(transaction)
        .await?;
        if recorded.rows_affected() == 1 {
            tracing::info!(step = step.as_str(), "Order progress recorded");
        } else {
            tracing::info!(step = step.as_str(), "Step recorded before; kept the first");
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl Retryable for ProgressError {
    fn is_retryable(&self) -> bool {
        true
    }
}

/// The steps recorded for an order, in the order they happened.
pub(crate) async fn load_steps(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Vec<StepView>, sqlx::Error> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT step, occurred_at FROM order_progress WHERE order_id = ? ORDER BY occurred_at, step",
    )
    .bind(order_id)
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().map(|(step, at)| StepView { step, at }).collect())
}

/// The events of the order's saga that ordering's functions handled, oldest first: their inbox
/// rows (docs/adr/0057). Rows written before the inbox kept types and sagas are not found.
pub(crate) async fn load_hops(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Vec<HopView>, sqlx::Error> {
    type Row = (
        Option<String>,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        Option<u16>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_type, consumer, occurred_at, published_at, processed_at, attempt \
         FROM processed_event WHERE correlation_id = ? ORDER BY processed_at, consumer",
    )
    .bind(order_id)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(event, consumer, occurred_at, published_at, received_at, attempt)| HopView {
                event: event.unwrap_or_default(),
                consumer,
                occurred_at,
                published_at,
                received_at,
                attempt,
            },
        )
        .collect())
}
