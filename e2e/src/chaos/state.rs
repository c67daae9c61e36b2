//! What the databases hold about the run, read with the stack's administrative account
//! (`STACK_MARIADB_ADMIN_URL`), which may read every context's schema.

use std::collections::{BTreeMap, HashMap};

use sqlx::{AssertSqlSafe, MySqlPool};

use super::checks::{OrderAtRest, ReservationAtRest, StockAtRest};

/// MariaDB takes many placeholders, but a few thousand per statement keeps them small.
const CHUNK: usize = 1_000;

/// Everything the checks need from the databases.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub orders: Vec<OrderAtRest>,
    pub stock: Vec<StockAtRest>,
    /// Rows of the run's orders still in the ordering, inventory and payment outboxes.
    pub left_in_outbox: i64,
}

impl RunState {
    /// Whether the saga has finished with every order: terminal orders, nothing reserved,
    /// every reservation and payment settled, and the outboxes published and purged.
    pub fn at_rest(&self) -> bool {
        self.left_in_outbox == 0
            && self.stock.iter().all(|sku| sku.reserved == 0)
            && self.orders.iter().all(|order| {
                matches!(order.status.as_str(), "CONFIRMED" | "CANCELLED")
                    && order
                        .reservation
                        .as_ref()
                        .is_some_and(|reservation| reservation.status != "RESERVED")
                    && order
                        .payment
                        .as_deref()
                        .is_some_and(|payment| !matches!(payment, "PENDING" | "AUTHORIZED"))
            })
    }

    /// How many orders are still PLACED (for progress lines).
    pub fn open_orders(&self) -> usize {
        self.orders
            .iter()
            .filter(|order| order.status == "PLACED")
            .count()
    }
}

/// Reads the run's orders (those of `customers`) and `products` (SKU → initial units).
pub async fn read(
    pool: &MySqlPool,
    customers: &[String],
    products: &BTreeMap<String, i64>,
) -> anyhow::Result<RunState> {
    let mut orders: Vec<(String, String, Option<String>, String)> = Vec::new();
    let mut lines: Vec<(String, String, i32)> = Vec::new();
    for chunk in customers.chunks(CHUNK) {
        let marks = placeholders(chunk.len());
        let query = format!(
            "SELECT order_id, status, cancel_reason, payment_token FROM ordering.orders WHERE user_id IN ({marks})"
        );
        orders.extend(
            bind_all(sqlx::query_as(AssertSqlSafe(query)), chunk)
                .fetch_all(pool)
                .await?,
        );
        let query = format!(
            "SELECT l.order_id, l.product_id, l.quantity FROM ordering.order_line l
             JOIN ordering.orders o ON o.order_id = l.order_id WHERE o.user_id IN ({marks})"
        );
        lines.extend(
            bind_all(sqlx::query_as(AssertSqlSafe(query)), chunk)
                .fetch_all(pool)
                .await?,
        );
    }
    let order_ids: Vec<String> = orders.iter().map(|(order_id, ..)| order_id.clone()).collect();

    let mut reservations: HashMap<String, ReservationAtRest> = HashMap::new();
    let mut payments: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut left_in_outbox = 0;
    for chunk in order_ids.chunks(CHUNK) {
        let marks = placeholders(chunk.len());
        let query = format!(
            "SELECT r.order_id, r.status,
                    (SELECT COUNT(*) FROM inventory.reservation_line l WHERE l.order_id = r.order_id)
             FROM inventory.reservation r WHERE r.order_id IN ({marks})"
        );
        let rows: Vec<(String, String, i64)> = bind_all(sqlx::query_as(AssertSqlSafe(query)), chunk)
            .fetch_all(pool)
            .await?;
        for (order_id, status, lines) in rows {
            reservations.insert(
                order_id,
                ReservationAtRest {
                    status,
                    holds_lines: lines > 0,
                },
            );
        }
        let query = format!(
            "SELECT order_id, status, decline_reason FROM payment.payment WHERE order_id IN ({marks})"
        );
        let rows: Vec<(String, String, Option<String>)> =
            bind_all(sqlx::query_as(AssertSqlSafe(query)), chunk)
                .fetch_all(pool)
                .await?;
        payments.extend(
            rows.into_iter()
                .map(|(order_id, status, decline_reason)| (order_id, (status, decline_reason))),
        );
        for schema in ["ordering", "inventory", "payment"] {
            let query = format!("SELECT COUNT(*) FROM {schema}.outbox WHERE aggregateid IN ({marks})");
            let count: i64 = bind_all_scalar(sqlx::query_scalar(AssertSqlSafe(query)), chunk)
                .fetch_one(pool)
                .await?;
            left_in_outbox += count;
        }
    }

    let confirmed: std::collections::HashSet<&str> = orders
        .iter()
        .filter(|(_, status, ..)| status == "CONFIRMED")
        .map(|(order_id, ..)| order_id.as_str())
        .collect();
    let mut confirmed_units: HashMap<&str, i64> = HashMap::new();
    for (order_id, sku, quantity) in &lines {
        if confirmed.contains(order_id.as_str()) {
            *confirmed_units.entry(sku.as_str()).or_default() += i64::from(*quantity);
        }
    }
    let skus: Vec<String> = products.keys().cloned().collect();
    let marks = placeholders(skus.len());
    let query = format!("SELECT sku, on_hand, reserved FROM inventory.stock WHERE sku IN ({marks})");
    let rows: Vec<(String, i64, i64)> = if skus.is_empty() {
        Vec::new()
    } else {
        bind_all(sqlx::query_as(AssertSqlSafe(query)), &skus)
            .fetch_all(pool)
            .await?
    };
    let found: HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|(sku, on_hand, reserved)| (sku, (on_hand, reserved)))
        .collect();
    let stock = products
        .iter()
        .map(|(sku, initial_units)| {
            let (on_hand, reserved) = found.get(sku).copied().unwrap_or((-1, -1));
            StockAtRest {
                sku: sku.clone(),
                initial_units: *initial_units,
                confirmed_units: confirmed_units.get(sku.as_str()).copied().unwrap_or(0),
                on_hand,
                reserved,
            }
        })
        .collect();

    let orders = orders
        .into_iter()
        .map(|(order_id, status, cancel_reason, token)| {
            let (payment, decline_reason) = payments.remove(&order_id).unzip();
            OrderAtRest {
                reservation: reservations.remove(&order_id),
                payment,
                decline_reason: decline_reason.flatten(),
                order_id,
                token,
                status,
                cancel_reason,
            }
        })
        .collect();
    Ok(RunState {
        orders,
        stock,
        left_in_outbox,
    })
}

/// How many of `skus` ordering's price projection knows (the products are orderable).
pub async fn projected_products(pool: &MySqlPool, skus: &[String]) -> anyhow::Result<usize> {
    let query = format!(
        "SELECT COUNT(*) FROM ordering.product_price WHERE product_id IN ({})",
        placeholders(skus.len())
    );
    let count: i64 = bind_all_scalar(sqlx::query_scalar(AssertSqlSafe(query)), skus)
        .fetch_one(pool)
        .await?;
    Ok(usize::try_from(count).unwrap_or(0))
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

type Query<'q, T> = sqlx::query::QueryAs<'q, sqlx::MySql, T, sqlx::mysql::MySqlArguments>;
type ScalarQuery<'q, T> = sqlx::query::QueryScalar<'q, sqlx::MySql, T, sqlx::mysql::MySqlArguments>;

fn bind_all<'q, T>(mut query: Query<'q, T>, values: &'q [String]) -> Query<'q, T> {
    for value in values {
        query = query.bind(value.as_str());
    }
    query
}

fn bind_all_scalar<'q, T>(mut query: ScalarQuery<'q, T>, values: &'q [String]) -> ScalarQuery<'q, T> {
    for value in values {
        query = query.bind(value.as_str());
    }
    query
}
