//! Stock levels: admins set or adjust the units on hand of a SKU; anyone may ask what is
//! available. Neither ever touches what live reservations hold.

use serde::Serialize;
use sqlx::MySqlPool;

use crate::domain::{InvalidInput, Sku, StockLevel, adjusted_on_hand};

/// A SKU's stock as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
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
) -> Result<Availability, SetStockError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    sqlx::query("INSERT IGNORE INTO stock (sku, on_hand) VALUES (?, 0)")
        .bind(sku.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    let reserved: i64 = sqlx::query_scalar("SELECT reserved FROM stock WHERE sku = ? FOR UPDATE")
        .bind(sku.as_str())
        .fetch_one(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    if level.units() < reserved {
        return Err(SetStockError::BelowReserved { reserved });
    }
    sqlx::query("UPDATE stock SET on_hand = ?, updated_at = NOW(6) WHERE sku = ?")
        .bind(level.units())
        .bind(sku.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(Availability {
        sku: sku.as_str().to_owned(),
        on_hand: level.units(),
        reserved,
        available: level.units() - reserved,
    })
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
pub async fn adjust_stock(pool: &MySqlPool, sku: &Sku, delta: i64) -> Result<Availability, AdjustStockError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = ? FOR UPDATE")
            .bind(sku.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
    let (on_hand, reserved) = row.ok_or(AdjustStockError::UnknownSku)?;
    let level = adjusted_on_hand(on_hand, reserved, delta).map_err(AdjustStockError::Refused)?;
    sqlx::query("UPDATE stock SET on_hand = ?, updated_at = NOW(6) WHERE sku = ?")
        .bind(level.units())
        .bind(sku.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(Availability {
        sku: sku.as_str().to_owned(),
        on_hand: level.units(),
        reserved,
        available: level.units() - reserved,
    })
}

/// What is available of `sku`; `None` when inventory does not know it.
pub async fn availability(pool: &MySqlPool, sku: &Sku) -> Result<Option<Availability>, anyhow::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = ?")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(on_hand, reserved)| Availability {
        sku: sku.as_str().to_owned(),
        on_hand,
        reserved,
        available: on_hand - reserved,
    }))
}
