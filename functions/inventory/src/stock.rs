//! Stock levels: catalog's SKUs open with none, admins set or adjust the units on hand of a
//! SKU, and anyone may ask what is available. None of them ever touches what live reservations
//! hold. Every change is logged and may announce that a SKU ran out or came back
//! ([`crate::changes`]).

use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{EventContext, Origin};

use crate::changes::{self, Change};
use crate::domain::{InvalidInput, Levels, Sku, SkuList, StockAction, StockLevel, adjusted_on_hand};

/// A SKU's stock as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"sku": "mug-blue", "onHand": 40, "reserved": 3, "available": 37}))]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

impl Availability {
    pub(crate) fn of(sku: &Sku, levels: Levels) -> Self {
        Self {
            sku: sku.as_str().to_owned(),
            on_hand: levels.on_hand,
            reserved: levels.reserved,
            available: levels.available(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetStockError {
    /// The new level is below what live reservations hold.
    #[error("{reserved} units are reserved; the stock cannot go below that")]
    BelowReserved { reserved: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Sets the units on hand of `sku`, creating the SKU if inventory did not know it.
pub async fn set_stock(
    pool: &MySqlPool,
    sku: &Sku,
    level: StockLevel,
    context: &EventContext,
) -> Result<Availability, SetStockError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let created = sqlx::query("INSERT IGNORE INTO stock (sku, on_hand) VALUES (?, 0)")
        .bind(sku.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?
        .rows_affected()
        == 1;
    let before = changes::lock_levels(&mut transaction, sku.as_str())
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| anyhow::anyhow!("the stock row of {sku} vanished under its lock"))?;
    if level.units() < before.reserved {
        return Err(SetStockError::BelowReserved {
            reserved: before.reserved,
        });
    }
    let after = Levels {
        on_hand: level.units(),
        ..before
    };
    // Setting the level a SKU already has changes nothing, so it logs nothing; creating the
    // row is a change even at zero.
    if created || after != before {
        sqlx::query("UPDATE stock SET on_hand = ?, updated_at = NOW(6) WHERE sku = ?")
            .bind(after.on_hand)
            .bind(sku.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
        let change = Change {
            sku,
            order_id: None,
            action: StockAction::Set,
            before,
            after,
        };
        changes::record(
            &mut transaction,
            &Origin::new("set-stock", context.clone()),
            &change,
        )
        .await
        .map_err(anyhow::Error::from)?;
    }
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(Availability::of(sku, after))
}

#[derive(Debug, thiserror::Error)]
pub enum AdjustStockError {
    #[error("inventory does not know this SKU")]
    UnknownSku,
    /// The adjustment would take the stock below zero or below what is reserved.
    #[error(transparent)]
    Refused(InvalidInput),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Adds `delta` units (negative to remove: breakage, stock-taking) to a known SKU.
pub async fn adjust_stock(
    pool: &MySqlPool,
    sku: &Sku,
    delta: i64,
    context: &EventContext,
) -> Result<Availability, AdjustStockError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let before = changes::lock_levels(&mut transaction, sku.as_str())
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(AdjustStockError::UnknownSku)?;
    let level =
        adjusted_on_hand(before.on_hand, before.reserved, delta).map_err(AdjustStockError::Refused)?;
    let after = Levels {
        on_hand: level.units(),
        ..before
    };
    sqlx::query("UPDATE stock SET on_hand = ?, updated_at = NOW(6) WHERE sku = ?")
        .bind(after.on_hand)
        .bind(sku.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    let change = Change {
        sku,
        order_id: None,
        action: StockAction::Adjust,
        before,
        after,
    };
    changes::record(
        &mut transaction,
        &Origin::new("adjust-stock", context.clone()),
        &change,
    )
    .await
    .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(Availability::of(sku, after))
}

/// Opening a SKU's stock failed; the database did, so trying again can help.
#[derive(Debug, thiserror::Error)]
#[error("the database failed: {0}")]
pub struct OpenStockError(#[from] pub sqlx::Error);

/// Opens the stock of a SKU catalog announced, with nothing on hand, on the caller's
/// transaction. A SKU that already has stock (an admin set it first, or the announcement came
/// again) is left as it is; answers whether the stock was opened.
pub async fn open_stock(
    connection: &mut MySqlConnection,
    origin: &Origin,
    sku: &Sku,
) -> Result<bool, OpenStockError> {
    let opened = sqlx::query("INSERT IGNORE INTO stock (sku, on_hand) VALUES (?, 0)")
        .bind(sku.as_str())
        .execute(&mut *connection)
        .await?
        .rows_affected()
        == 1;
    if opened {
        let change = Change {
            sku,
            order_id: None,
            action: StockAction::Initialize,
            before: Levels::NONE,
            after: Levels::NONE,
        };
        changes::record(connection, origin, &change).await?;
    }
    Ok(opened)
}

/// What is available of `sku`; `None` when inventory does not know it.
pub async fn availability(pool: &MySqlPool, sku: &Sku) -> Result<Option<Availability>, anyhow::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = ?")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(on_hand, reserved)| Availability::of(sku, Levels { on_hand, reserved })))
}

/// What is available of several SKUs at once, as a cart shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkAvailability {
    /// The SKUs inventory knows, in the order asked.
    pub items: Vec<Availability>,
    /// The SKUs it does not know, in the order asked: nothing of them can be bought.
    pub unknown: Vec<String>,
}

/// What is available of every SKU of `skus`, with one query.
pub async fn availability_of(pool: &MySqlPool, skus: &SkuList) -> Result<BulkAvailability, anyhow::Error> {
    let mut query = sqlx::QueryBuilder::new("SELECT sku, on_hand, reserved FROM stock WHERE sku IN (");
    let mut ids = query.separated(", ");
    for sku in skus.skus() {
        ids.push_bind(sku.as_str());
    }
    query.push(")");
    let rows: Vec<(String, i64, i64)> = query.build_query_as().fetch_all(pool).await?;
    // The column's collation ignores case, so the row of `mug` answers for `MUG` too, as it
    // does for a single SKU; rows are matched to the ids asked for the same way.
    let found: std::collections::HashMap<String, Levels> = rows
        .into_iter()
        .map(|(sku, on_hand, reserved)| (sku.to_ascii_lowercase(), Levels { on_hand, reserved }))
        .collect();
    let mut answer = BulkAvailability {
        items: Vec::new(),
        unknown: Vec::new(),
    };
    for sku in skus.skus() {
        match found.get(&sku.as_str().to_ascii_lowercase()) {
            Some(levels) => answer.items.push(Availability::of(sku, *levels)),
            None => answer.unknown.push(sku.as_str().to_owned()),
        }
    }
    Ok(answer)
}
