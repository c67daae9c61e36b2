//! Brands: admins create, rename and delete them; anyone may list them. Deleting is soft: the
//! products that carry a brand keep it (and its filter keeps finding them), but the brand is
//! no longer listed and no product can take it anew.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::MySqlPool;
use store::mariadb::{DUPLICATE_KEY, error_number};

use crate::domain::{BrandId, Text};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandView {
    pub brand_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum BrandError {
    #[error("a brand with this id exists")]
    AlreadyExists,
    #[error("no such brand")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a brand. The id of a deleted brand is taken back: the brand returns under the new
/// name, with the products that kept it (a brand is deleted softly, so its id stays taken, and
/// refusing it for good would leave an admin, or a second run of the seed, no way back).
pub async fn create_brand(
    pool: &MySqlPool,
    brand_id: &BrandId,
    name: &Text,
) -> Result<BrandView, BrandError> {
    let inserted = sqlx::query("INSERT INTO brand (brand_id, name) VALUES (?, ?)")
        .bind(brand_id.as_str())
        .bind(name.as_str())
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => {}
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => {
            let restored = sqlx::query(
                "UPDATE brand SET name = ?, deleted_at = NULL, updated_at = NOW(6)
                 WHERE brand_id = ? AND deleted_at IS NOT NULL",
            )
            .bind(name.as_str())
            .bind(brand_id.as_str())
            .execute(pool)
            .await
            .map_err(anyhow::Error::from)?;
            if restored.rows_affected() == 0 {
                return Err(BrandError::AlreadyExists);
            }
        }
        Err(error) => return Err(anyhow::Error::from(error).into()),
    }
    get_brand(pool, brand_id.as_str())
        .await?
        .ok_or(BrandError::NotFound)
}

/// Renames a brand. The products' search text keeps the old name until they are next edited.
pub async fn rename_brand(
    pool: &MySqlPool,
    brand_id: &BrandId,
    name: &Text,
) -> Result<BrandView, BrandError> {
    sqlx::query("UPDATE brand SET name = ?, updated_at = NOW(6) WHERE brand_id = ? AND deleted_at IS NULL")
        .bind(name.as_str())
        .bind(brand_id.as_str())
        .execute(pool)
        .await
        .map_err(anyhow::Error::from)?;
    get_brand(pool, brand_id.as_str())
        .await?
        .ok_or(BrandError::NotFound)
}

/// Deletes a brand; deleting it again changes nothing and is not an error, so a retried
/// request succeeds. A brand that never existed is not found.
pub async fn delete_brand(pool: &MySqlPool, brand_id: &BrandId) -> Result<(), BrandError> {
    let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM brand WHERE brand_id = ?")
        .bind(brand_id.as_str())
        .fetch_one(pool)
        .await
        .map_err(anyhow::Error::from)?;
    if known == 0 {
        return Err(BrandError::NotFound);
    }
    sqlx::query("UPDATE brand SET deleted_at = NOW(6) WHERE brand_id = ? AND deleted_at IS NULL")
        .bind(brand_id.as_str())
        .execute(pool)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// A brand that was not deleted.
pub async fn get_brand(pool: &MySqlPool, brand_id: &str) -> Result<Option<BrandView>, anyhow::Error> {
    let row: Option<BrandRow> = sqlx::query_as(
        "SELECT brand_id, name, created_at, updated_at FROM brand WHERE brand_id = ? AND deleted_at IS NULL",
    )
    .bind(brand_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(view))
}

type BrandRow = (String, String, DateTime<Utc>, DateTime<Utc>);

fn view((brand_id, name, created_at, updated_at): BrandRow) -> BrandView {
    BrandView {
        brand_id,
        name,
        created_at,
        updated_at,
    }
}

/// Every brand that was not deleted, by name.
pub async fn list_brands(pool: &MySqlPool) -> Result<Vec<BrandView>, anyhow::Error> {
    let rows: Vec<BrandRow> = sqlx::query_as(
        "SELECT brand_id, name, created_at, updated_at FROM brand WHERE deleted_at IS NULL ORDER BY name, brand_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(view).collect())
}
