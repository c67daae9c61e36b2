//! A customer's shipping addresses: at most [`MAX_ADDRESSES`], exactly one default while any
//! exist (the first becomes it; deleting it promotes the oldest other one). Checkout copies
//! the chosen address onto the order, so deleting or changing one never changes an order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use uuid::Uuid;

use crate::shopper;
use crate::shopping::{Address, MAX_ADDRESSES};

/// An address as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressView {
    pub address_id: String,
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

impl AddressView {
    /// The address without its bookkeeping, as an order keeps it.
    pub fn address(&self) -> Address {
        Address {
            recipient: self.recipient.clone(),
            phone: self.phone.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("a customer keeps at most {MAX_ADDRESSES} addresses")]
    TooMany,
    /// No such address, or not this customer's: the same answer.
    #[error("no such address")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AddressError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

type AddressRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    bool,
    DateTime<Utc>,
);

fn view(row: AddressRow) -> AddressView {
    let (address_id, recipient, phone, line1, line2, city, postal_code, country, is_default, created_at) =
        row;
    AddressView {
        address_id,
        recipient,
        phone,
        line1,
        line2,
        city,
        postal_code,
        country,
        is_default,
        created_at,
    }
}

/// The customer's addresses, the default first, then oldest first.
pub async fn list(
    connection: &mut MySqlConnection,
    user_id: Uuid,
) -> Result<Vec<AddressView>, anyhow::Error> {
    let rows: Vec<AddressRow> = sqlx::query_as(
        "SELECT address_id, recipient, phone, line1, line2, city, postal_code, country, is_default, created_at
         FROM address WHERE user_id = ? ORDER BY is_default DESC, created_at, address_id",
    )
    .bind(user_id.to_string())
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// One of the customer's addresses.
pub async fn find(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    address_id: &str,
) -> Result<Option<AddressView>, anyhow::Error> {
    // Address ids are ASCII (the column too); anything else names no address, and MariaDB
    // refuses to compare it with the column at all.
    if !address_id.is_ascii() {
        return Ok(None);
    }
    let row: Option<AddressRow> = sqlx::query_as(
        "SELECT address_id, recipient, phone, line1, line2, city, postal_code, country, is_default, created_at
         FROM address WHERE user_id = ? AND address_id = ?",
    )
    .bind(user_id.to_string())
    .bind(address_id)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(view))
}

/// The customer's addresses.
pub async fn list_addresses(pool: &MySqlPool, user_id: Uuid) -> Result<Vec<AddressView>, anyhow::Error> {
    let mut connection = pool.acquire().await?;
    list(&mut connection, user_id).await
}

/// Adds an address; the customer's first becomes the default.
#[tracing::instrument(skip_all, fields(user_id = %user_id, address_id))]
pub async fn add_address(
    pool: &MySqlPool,
    user_id: Uuid,
    address: &Address,
) -> Result<AddressView, AddressError> {
    let mut transaction = pool.begin().await?;
    shopper::lock(&mut transaction, user_id).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM address WHERE user_id = ?")
        .bind(user_id.to_string())
        .fetch_one(&mut *transaction)
        .await?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ADDRESSES {
        return Err(AddressError::TooMany);
    }
    let address_id = Uuid::now_v7().to_string();
    tracing::Span::current().record("address_id", &address_id);
    sqlx::query(
        "INSERT INTO address (address_id, user_id, recipient, phone, line1, line2, city, postal_code, country,
                              is_default, default_of, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6))",
    )
    .bind(&address_id)
    .bind(user_id.to_string())
    .bind(&address.recipient)
    .bind(&address.phone)
    .bind(&address.line1)
    .bind(&address.line2)
    .bind(&address.city)
    .bind(&address.postal_code)
    .bind(&address.country)
    .bind(count == 0)
    .bind((count == 0).then(|| user_id.to_string()))
    .execute(&mut *transaction)
    .await?;
    let added = find(&mut transaction, user_id, &address_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the address just stored is missing"))?;
    transaction.commit().await?;
    Ok(added)
}

/// Deletes an address; when it was the default, the oldest remaining one becomes the default.
#[tracing::instrument(skip_all, fields(user_id = %user_id, address_id = %address_id))]
pub async fn delete_address(pool: &MySqlPool, user_id: Uuid, address_id: &str) -> Result<(), AddressError> {
    let mut transaction = pool.begin().await?;
    shopper::lock(&mut transaction, user_id).await?;
    let address = find(&mut transaction, user_id, address_id)
        .await?
        .ok_or(AddressError::NotFound)?;
    sqlx::query("DELETE FROM address WHERE address_id = ?")
        .bind(address_id)
        .execute(&mut *transaction)
        .await?;
    if address.is_default {
        sqlx::query(
            "UPDATE address SET is_default = TRUE, default_of = user_id WHERE user_id = ?
             ORDER BY created_at, address_id LIMIT 1",
        )
        .bind(user_id.to_string())
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Makes an address the default (the previous default stops being it).
#[tracing::instrument(skip_all, fields(user_id = %user_id, address_id = %address_id))]
pub async fn set_default(
    pool: &MySqlPool,
    user_id: Uuid,
    address_id: &str,
) -> Result<AddressView, AddressError> {
    let mut transaction = pool.begin().await?;
    shopper::lock(&mut transaction, user_id).await?;
    find(&mut transaction, user_id, address_id)
        .await?
        .ok_or(AddressError::NotFound)?;
    // Two statements: the unique index on the default allows one per customer at any moment.
    sqlx::query("UPDATE address SET is_default = FALSE, default_of = NULL WHERE user_id = ? AND is_default")
        .bind(user_id.to_string())
        .execute(&mut *transaction)
        .await?;
    sqlx::query("UPDATE address SET is_default = TRUE, default_of = user_id WHERE address_id = ?")
        .bind(address_id)
        .execute(&mut *transaction)
        .await?;
    let address = find(&mut transaction, user_id, address_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the address just changed is missing"))?;
    transaction.commit().await?;
    Ok(address)
}
