//! Promotions and selling prices on MariaDB. A promotion takes a rate or an amount off every
//! SKU of a product for a time window; the selling price is what the winning active promotion
//! leaves (`domain::selling_price`). Selling prices are stored with the product and its SKUs
//! and recomputed in the transaction of every change to a price or a promotion, and by the
//! scheduled `apply-promotion-schedule` when a window opens or closes. Every SKU whose selling
//! price changed is announced with `sku-price-changed`, so ordering prices an order with the
//! selling price of the moment it is placed.

use chrono::{DateTime, Utc};
use events::catalog::SkuPriceChangedV1;
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, EventContext, Origin};

use crate::domain::{ActivePromotion, Discount, ProductId, Text, selling_price};
use crate::products::load;

/// The promotions of a product that are running at `now`.
pub(crate) async fn active_promotions(
    connection: &mut MySqlConnection,
    product_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ActivePromotion>, anyhow::Error> {
    let rows: Vec<(String, i64, i32)> = sqlx::query_as(
        "SELECT discount_type, discount_value, priority FROM promotion
         WHERE product_id = ? AND starts_at <= ? AND (ends_at IS NULL OR ends_at > ?)",
    )
    .bind(product_id)
    .bind(now)
    .bind(now)
    .fetch_all(connection)
    .await?;
    rows.into_iter()
        .map(|(kind, value, priority)| {
            let discount = Discount::new(&kind, value)
                .map_err(|error| anyhow::anyhow!("stored promotion is invalid: {error}"))?;
            Ok(ActivePromotion { discount, priority })
        })
        .collect()
}

/// Recomputes the selling prices of a product and its active SKUs as of `now`, and announces
/// every SKU whose selling price changed (all of them with `announce_all`, after a new list
/// price). Answers how many SKUs were announced.
pub(crate) async fn reprice_selling(
    transaction: &mut MySqlConnection,
    product_id: &ProductId,
    now: DateTime<Utc>,
    origin: &Origin,
    announce_all: bool,
) -> Result<usize, anyhow::Error> {
    let product = load(transaction, product_id.as_str(), true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("product {} is missing", product_id.as_str()))?;
    let currency = events::value::Currency::parse(&product.currency)
        .map_err(|_| anyhow::anyhow!("stored currency {:?} is invalid", product.currency))?;
    let active = active_promotions(transaction, product_id.as_str(), now).await?;
    let skus: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT sku, price_minor, selling_price_minor FROM sku WHERE product_id = ? AND status = 'ACTIVE' ORDER BY sku",
    )
    .bind(product_id.as_str())
    .fetch_all(&mut *transaction)
    .await?;
    let mut announced = 0;
    for (sku, list, old_selling) in skus {
        let selling = selling_price(list, &active);
        if selling == old_selling && !announce_all {
            continue;
        }
        sqlx::query("UPDATE sku SET selling_price_minor = ? WHERE sku = ?")
            .bind(selling)
            .bind(&sku)
            .execute(&mut *transaction)
            .await?;
        let changed = SkuPriceChangedV1 {
            product_id: product_id.clone(),
            sku: events::value::Sku::parse(&sku)
                .map_err(|_| anyhow::anyhow!("stored SKU {sku:?} is invalid"))?,
            price_minor: selling,
            currency,
            list_price_minor: Some(list),
        };
        outbox::append(transaction, origin, &changed).await?;
        announced += 1;
    }
    sqlx::query("UPDATE product SET selling_price_minor = ?, prices_as_of = ? WHERE product_id = ?")
        .bind(selling_price(product.price_minor, &active))
        .bind(now)
        .bind(product_id.as_str())
        .execute(&mut *transaction)
        .await?;
    Ok(announced)
}

/// A promotion as an admin asks for it.
#[derive(Debug, Clone)]
pub struct NewPromotion {
    pub name: Text,
    pub discount: Discount,
    pub priority: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionView {
    pub promotion_id: i64,
    pub product_id: String,
    pub name: String,
    pub discount_type: String,
    pub discount_value: i64,
    pub priority: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Running now (started and not ended).
    pub active: bool,
}

type PromotionRow = (
    i64,
    String,
    String,
    String,
    i64,
    i32,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn view(row: PromotionRow, now: DateTime<Utc>) -> PromotionView {
    let (promotion_id, product_id, name, discount_type, discount_value, priority, starts_at, ends_at) = row;
    PromotionView {
        promotion_id,
        product_id,
        name,
        discount_type,
        discount_value,
        priority,
        starts_at,
        ends_at,
        active: starts_at <= now && ends_at.is_none_or(|end| end > now),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    #[error("no such product")]
    ProductNotFound,
    #[error("the product has no such promotion")]
    PromotionNotFound,
    #[error("an amount must be less than the product's base price")]
    DiscountTooLarge,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PromotionError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// Adds a promotion; if its window is open now, the selling prices change at once. It reprices
/// SKU rows that other writers (an admin's price change, the promotion schedule) lock too, so
/// MariaDB may pick it as a deadlock's victim: the transaction was rolled back whole, and it is
/// run again, up to three times, before the error reaches the client.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str()))]
pub async fn create_promotion(
    pool: &MySqlPool,
    product_id: &ProductId,
    promotion: &NewPromotion,
    context: &EventContext,
) -> Result<PromotionView, PromotionError> {
    let mut attempt = 1;
    loop {
        match create_promotion_once(pool, product_id, promotion, context).await {
            Err(PromotionError::Unexpected(cause)) if attempt < 3 && lost_a_race(&cause) => {
                tracing::warn!(
                    attempt,
                    "Lost a lock race to another writer; running the promotion's transaction again"
                );
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Whether a failure was a deadlock or a lock wait timeout: another transaction won a race.
fn lost_a_race(cause: &anyhow::Error) -> bool {
    cause
        .chain()
        .filter_map(|error| error.downcast_ref::<sqlx::Error>())
        .any(|error| matches!(store::mariadb::error_number(error), Some(1205 | 1213)))
}

async fn create_promotion_once(
    pool: &MySqlPool,
    product_id: &ProductId,
    promotion: &NewPromotion,
    context: &EventContext,
) -> Result<PromotionView, PromotionError> {
    let mut transaction = pool.begin().await?;
    let product = load(&mut transaction, product_id.as_str(), true)
        .await?
        .ok_or(PromotionError::ProductNotFound)?;
    if let Discount::Amount(amount) = promotion.discount
        && amount >= product.price_minor
    {
        return Err(PromotionError::DiscountTooLarge);
    }
    let promotion_id = sqlx::query(
        "INSERT INTO promotion (product_id, name, discount_type, discount_value, priority, starts_at, ends_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(product_id.as_str())
    .bind(promotion.name.as_str())
    .bind(promotion.discount.kind())
    .bind(promotion.discount.value())
    .bind(promotion.priority)
    .bind(promotion.starts_at)
    .bind(promotion.ends_at)
    .execute(&mut *transaction)
    .await?
    .last_insert_id();
    let now = Utc::now();
    let origin = Origin::new("manage-promotions", context.clone());
    reprice_selling(&mut transaction, product_id, now, &origin, false).await?;
    let created = load_promotion(&mut transaction, product_id, promotion_id as i64, now)
        .await?
        .ok_or(PromotionError::PromotionNotFound)?;
    transaction.commit().await?;
    Ok(created)
}

async fn load_promotion(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
    promotion_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<PromotionView>, sqlx::Error> {
    let row: Option<PromotionRow> = sqlx::query_as(
        "SELECT promotion_id, product_id, name, discount_type, discount_value, priority, starts_at, ends_at
         FROM promotion WHERE promotion_id = ? AND product_id = ?",
    )
    .bind(promotion_id)
    .bind(product_id.as_str())
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|row| view(row, now)))
}

/// Ends a promotion now (one not yet started never starts). Ending one that ended already
/// changes nothing.
pub async fn end_promotion(
    pool: &MySqlPool,
    product_id: &ProductId,
    promotion_id: i64,
    context: &EventContext,
) -> Result<(), PromotionError> {
    let mut transaction = pool.begin().await?;
    if load(&mut transaction, product_id.as_str(), true).await?.is_none() {
        return Err(PromotionError::ProductNotFound);
    }
    let now = Utc::now();
    let promotion = load_promotion(&mut transaction, product_id, promotion_id, now)
        .await?
        .ok_or(PromotionError::PromotionNotFound)?;
    if promotion.ends_at.is_none_or(|end| end > now) {
        // A window may not end before it starts: one not yet started ends the moment it would
        // have started, and so never runs.
        let ends_at = now.max(promotion.starts_at + chrono::Duration::microseconds(1));
        sqlx::query("UPDATE promotion SET ends_at = ? WHERE promotion_id = ?")
            .bind(ends_at)
            .bind(promotion_id)
            .execute(&mut *transaction)
            .await?;
        let origin = Origin::new("manage-promotions", context.clone());
        reprice_selling(&mut transaction, product_id, now, &origin, false).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// A product's promotions that are running or will run, by start.
pub async fn list_promotions(
    pool: &MySqlPool,
    product_id: &ProductId,
) -> Result<Vec<PromotionView>, PromotionError> {
    let mut connection = pool.acquire().await?;
    if load(&mut connection, product_id.as_str(), false).await?.is_none() {
        return Err(PromotionError::ProductNotFound);
    }
    let now = Utc::now();
    let rows: Vec<PromotionRow> = sqlx::query_as(
        "SELECT promotion_id, product_id, name, discount_type, discount_value, priority, starts_at, ends_at
         FROM promotion WHERE product_id = ? AND (ends_at IS NULL OR ends_at > ?) ORDER BY starts_at, promotion_id",
    )
    .bind(product_id.as_str())
    .bind(now)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows.into_iter().map(|row| view(row, now)).collect())
}

/// Reprices every product whose promotion window opened or closed since its prices were last
/// computed, up to `limit` products; answers how many it repriced. Run on a schedule, it
/// catches up after any pause: the windows passed while it was not running are all found.
pub async fn apply_schedule(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<usize, anyhow::Error> {
    Ok(apply_schedule_to(pool, now, limit).await?.len())
}

/// [`apply_schedule`], answering the products it repriced (whose cached pages are stale).
pub async fn apply_schedule_to(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<String>, anyhow::Error> {
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT p.product_id FROM promotion p JOIN product ON product.product_id = p.product_id
         WHERE (p.starts_at <= ? AND (product.prices_as_of IS NULL OR p.starts_at > product.prices_as_of))
            OR (p.ends_at <= ? AND (product.prices_as_of IS NULL OR p.ends_at > product.prices_as_of))
         LIMIT ?",
    )
    .bind(now)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let origin = Origin::new("apply-promotion-schedule", EventContext::default());
    for product in &due {
        let product_id =
            crate::domain::product_id(product).map_err(|error| anyhow::anyhow!("{product}: {error}"))?;
        let mut transaction = pool.begin().await?;
        reprice_selling(&mut transaction, &product_id, now, &origin, false).await?;
        transaction.commit().await?;
    }
    Ok(due)
}

/// The scheduled `apply-promotion-schedule`.
#[derive(Debug, Clone)]
pub struct ApplyPromotionSchedule {
    pool: MySqlPool,
    cache: crate::cache::CatalogCache,
}

impl ApplyPromotionSchedule {
    /// Products repriced per run; a run repeats until a batch comes back short.
    pub const BATCH: u32 = 200;
    pub const MAX_BATCHES: u32 = 25;

    pub fn new(pool: MySqlPool) -> Self {
        Self {
            pool,
            cache: crate::cache::CatalogCache::off(),
        }
    }

    /// The same job, retiring the cached pages of the products it reprices.
    pub fn with_cache(self, cache: crate::cache::CatalogCache) -> Self {
        Self { cache, ..self }
    }
}

impl runtime::schedule::ScheduledJob for ApplyPromotionSchedule {
    async fn readiness(&self) -> Result<(), String> {
        store::mariadb::ping(&self.pool).await
    }

    async fn run(&self) -> anyhow::Result<serde_json::Value> {
        let mut repriced = 0;
        for _ in 0..Self::MAX_BATCHES {
            let products = apply_schedule_to(&self.pool, Utc::now(), Self::BATCH).await?;
            if !products.is_empty() {
                self.cache.forget_products(&products).await;
            }
            let batch = products.len();
            repriced += batch;
            if batch < Self::BATCH as usize {
                break;
            }
        }
        Ok(serde_json::json!({ "repriced": repriced }))
    }
}
