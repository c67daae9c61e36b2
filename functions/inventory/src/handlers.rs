//! The event functions of inventory: `reserve-stock` on `order.placed`, `release-stock` on
//! `order.cancelled`, `commit-stock` on `order.confirmed`, `restock-refund` on
//! `order.refunded` and `open-sku-stock` on catalog's `sku-created`, each a [`Consumer`] that the shared runner drives (every other event type on
//! the topic is acknowledged untouched, so producers can add event types freely); and the
//! scheduled `expire-reservations`.

use chrono::{Duration, Utc};
use events::catalog::SkuCreatedV1;
use events::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderPlacedV1, OrderRefundedV1};
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received, Retryable};

use crate::cache::{self, ChangesStock, StockCache};
use crate::domain::{InvalidInput, Quantity, ReservationRequest};
use crate::refunds::{self, RestockError};
use crate::reservations::{self, ReservationError};
use crate::stock::{self, OpenStockError};

/// How long a reservation holds stock for an unpaid order unless configured otherwise. Longer
/// than ordering's payment deadline, so an order normally expires (and releases) first.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::minutes(30);

/// `reserve-stock`: reserves every line of a placed order, or none, for `ttl`.
#[derive(Debug, Clone, Copy)]
pub struct ReserveStock {
    pub ttl: Duration,
}

impl Consumer for ReserveStock {
    const NAME: &'static str = "reserve-stock";
    // A saga step with only local writes: what waits under load commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = OrderPlacedV1;
    type Error = ReservationError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        placed: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let request = request_of(&placed.data)?;
        let expires_at = Utc::now() + self.ttl;
        reservations::reserve(
            transaction,
            &placed.origin,
            &placed.data.order_id,
            &request,
            expires_at,
        )
        .await?;
        Ok(())
    }
}

/// `release-stock`: gives a cancelled order's stock back.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseStock;

impl Consumer for ReleaseStock {
    const NAME: &'static str = "release-stock";
    type Event = OrderCancelledV1;
    type Error = ReservationError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cancelled: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        reservations::release(transaction, &cancelled.origin, &cancelled.data.order_id).await?;
        Ok(())
    }
}

/// `commit-stock`: turns a confirmed order's reservation into a sale.
#[derive(Debug, Clone, Copy)]
pub struct CommitStock;

impl Consumer for CommitStock {
    const NAME: &'static str = "commit-stock";
    // A saga step with only local writes: what waits under load commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = OrderConfirmedV1;
    type Error = ReservationError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        confirmed: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        reservations::commit(transaction, &confirmed.origin, &confirmed.data.order_id).await?;
        Ok(())
    }
}

/// `restock-refund`: puts the units of refunded order lines back on hand, once per refund.
#[derive(Debug, Clone, Copy)]
pub struct RestockRefund;

impl Consumer for RestockRefund {
    const NAME: &'static str = "restock-refund";
    type Event = OrderRefundedV1;
    type Error = RestockError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        refunded: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        refunds::restock(transaction, &refunded.origin, &refunded.data).await?;
        Ok(())
    }
}

impl Retryable for RestockError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::RefundId(_) | Self::UnknownSku(_) => false,
            Self::Database(_) | Self::Unexpected(_) => true,
        }
    }
}

impl ChangesStock for RestockRefund {
    async fn changed_skus(
        _pool: &MySqlPool,
        refunded: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        Ok(refunded
            .data
            .lines
            .iter()
            .map(|line| line.sku.as_str().to_owned())
            .collect())
    }
}

/// `open-sku-stock`: gives every SKU catalog announces a stock row with nothing on hand, so
/// carts and admins find it at once. Stock an admin set before the announcement arrived is
/// kept, and a replayed announcement changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct OpenSkuStock;

impl Consumer for OpenSkuStock {
    const NAME: &'static str = "open-sku-stock";
    type Event = SkuCreatedV1;
    type Error = OpenStockError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        created: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        stock::open_stock(transaction, &created.origin, &created.data.sku).await?;
        Ok(())
    }
}

impl Retryable for OpenStockError {
    fn is_retryable(&self) -> bool {
        true
    }
}

fn request_of(placed: &OrderPlacedV1) -> Result<ReservationRequest, InvalidInput> {
    let lines = placed
        .lines
        .iter()
        .map(|line| Ok((line.product_id.clone(), Quantity::new(i64::from(line.quantity))?)))
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    ReservationRequest::new(lines)
}

impl Retryable for ReservationError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::NotCommittable { .. } => false,
            Self::Database(_) | Self::Unexpected(_) => true,
        }
    }
}

impl ChangesStock for ReserveStock {
    async fn changed_skus(
        pool: &MySqlPool,
        placed: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        cache::skus_of_order(pool, &placed.data.order_id).await
    }
}

impl ChangesStock for ReleaseStock {
    async fn changed_skus(
        pool: &MySqlPool,
        cancelled: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        cache::skus_of_order(pool, &cancelled.data.order_id).await
    }
}

impl ChangesStock for CommitStock {
    async fn changed_skus(
        pool: &MySqlPool,
        confirmed: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        cache::skus_of_order(pool, &confirmed.data.order_id).await
    }
}

impl ChangesStock for OpenSkuStock {
    async fn changed_skus(
        _pool: &MySqlPool,
        created: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        Ok(vec![created.data.sku.as_str().to_owned()])
    }
}

/// `expire-reservations`: a scheduled sweep that releases reservations whose time ran out.
#[derive(Debug, Clone)]
pub struct ExpireReservations {
    pool: MySqlPool,
    cache: StockCache,
}

impl ExpireReservations {
    /// Reservations released per transaction; a sweep runs batches until one comes back short.
    pub const BATCH: u32 = 100;
    /// Batches per run, so one run stays well inside a function's time limit.
    pub const MAX_BATCHES: u32 = 50;

    pub fn new(pool: MySqlPool) -> Self {
        Self {
            pool,
            cache: StockCache::off(),
        }
    }

    /// The same sweep, forgetting the cached availability of what it releases.
    pub fn with_cache(self, cache: StockCache) -> Self {
        Self { cache, ..self }
    }
}

impl runtime::schedule::ScheduledJob for ExpireReservations {
    async fn readiness(&self) -> Result<(), String> {
        store::mariadb::ping(&self.pool).await
    }

    async fn run(&self) -> anyhow::Result<serde_json::Value> {
        let mut released = 0;
        for _ in 0..Self::MAX_BATCHES {
            let orders = reservations::expire_orders(&self.pool, Utc::now(), Self::BATCH).await?;
            self.cache.forget_orders(&self.pool, &orders).await;
            let batch = u32::try_from(orders.len()).unwrap_or(u32::MAX);
            released += batch;
            if batch < Self::BATCH {
                break;
            }
        }
        Ok(serde_json::json!({ "released": released }))
    }
}
