//! Options and SKUs on MariaDB: making a product's SKUs from its option groups, adding and
//! removing options, repricing, and finding the SKU a shopper's choice of options names.
//!
//! Every SKU made is announced with `sku-created` (inventory opens its stock at 0, ordering
//! prices it), every new price with `sku-price-changed`, every SKU an option removal stops with
//! `sku-deactivated`. The product's row is locked (`FOR UPDATE`) by every change to its
//! options, so two admins never number two SKUs alike.

use std::collections::{BTreeMap, BTreeSet};

use events::catalog::{SkuCreatedV1, SkuDeactivatedV1};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::mariadb::{DUPLICATE_KEY, error_number};
use store::outbox::{self, EventContext, Origin};

use crate::domain::{
    Combination, InvalidInput, LiveOption, MAX_SKUS, OptionSpec, Price, ProductId, ProductStatus,
    check_options_of_group, combinations, sku_id,
};
use crate::products::{NewProduct, load};

#[derive(Debug, thiserror::Error)]
pub enum MakeSkusError {
    #[error("{0}")]
    Invalid(InvalidInput),
    #[error("a SKU with the id {0} exists")]
    SkuTaken(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Stores a new product's option groups and options, and makes its SKUs: one per
/// combination, or the single SKU under the product's id when it has no options.
pub(crate) async fn create_options_and_skus(
    transaction: &mut MySqlConnection,
    product: &NewProduct,
    origin: &Origin,
) -> Result<(), MakeSkusError> {
    for (position, group) in product.option_groups.iter().enumerate() {
        let group_id = sqlx::query("INSERT INTO option_group (product_id, name, position) VALUES (?, ?, ?)")
            .bind(product.product_id.as_str())
            .bind(group.name.as_str())
            .bind(position as i64)
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?
            .last_insert_id();
        insert_options(
            transaction,
            &product.product_id,
            group_id as i64,
            0,
            &group.options,
        )
        .await?;
    }
    make_missing_skus(transaction, &product.product_id, origin).await?;
    Ok(())
}

async fn insert_options(
    transaction: &mut MySqlConnection,
    product_id: &ProductId,
    group_id: i64,
    first_position: i64,
    options: &[OptionSpec],
) -> Result<(), anyhow::Error> {
    for (offset, option) in options.iter().enumerate() {
        sqlx::query(
            "INSERT INTO product_option (group_id, product_id, name, surcharge_minor, position) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(group_id)
        .bind(product_id.as_str())
        .bind(option.name.as_str())
        .bind(option.surcharge_minor)
        .bind(first_position + offset as i64)
        .execute(&mut *transaction)
        .await?;
    }
    Ok(())
}

/// The live options of a product, grouped in group order, each group's in option order.
async fn live_options(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<Vec<(i64, Vec<LiveOption>)>, anyhow::Error> {
    let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(
        "SELECT g.group_id, g.name, o.option_id, o.name, o.surcharge_minor
         FROM option_group g JOIN product_option o ON o.group_id = g.group_id AND o.removed_at IS NULL
         WHERE g.product_id = ? ORDER BY g.position, o.position, o.option_id",
    )
    .bind(product_id.as_str())
    .fetch_all(connection)
    .await?;
    let mut groups: Vec<(i64, Vec<LiveOption>)> = Vec::new();
    for (group_id, group, option_id, name, surcharge_minor) in rows {
        let option = LiveOption {
            option_id,
            group,
            name,
            surcharge_minor,
        };
        match groups.last_mut() {
            Some((last, options)) if *last == group_id => options.push(option),
            _ => groups.push((group_id, vec![option])),
        }
    }
    Ok(groups)
}

/// Makes a SKU of every combination of live options that has none yet, and announces each.
/// Answers how many were made.
async fn make_missing_skus(
    transaction: &mut MySqlConnection,
    product_id: &ProductId,
    origin: &Origin,
) -> Result<usize, MakeSkusError> {
    let product = load(transaction, product_id.as_str(), true)
        .await?
        .ok_or_else(|| anyhow::anyhow!("product {} is missing", product_id.as_str()))?;
    let groups: Vec<Vec<LiveOption>> = live_options(transaction, product_id)
        .await?
        .into_iter()
        .map(|(_, options)| options)
        .collect();
    let existing: Vec<(String, String)> =
        sqlx::query_as("SELECT option_key, status FROM sku WHERE product_id = ?")
            .bind(product_id.as_str())
            .fetch_all(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
    let known: BTreeSet<&str> = existing.iter().map(|(key, _)| key.as_str()).collect();
    let active = existing.iter().filter(|(_, status)| status == "ACTIVE").count();
    let missing: Vec<Combination> = combinations(&groups)
        .into_iter()
        .filter(|combination| !known.contains(combination.key().as_str()))
        .collect();
    if active + missing.len() > MAX_SKUS {
        return Err(MakeSkusError::Invalid(InvalidInput::TooManySkus(
            active + missing.len(),
        )));
    }
    let stored: i32 = sqlx::query_scalar("SELECT sku_count FROM product WHERE product_id = ?")
        .bind(product_id.as_str())
        .fetch_one(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    let mut number = u32::try_from(stored).map_err(anyhow::Error::from)?;
    let active =
        crate::promotions::active_promotions(transaction, product_id.as_str(), chrono::Utc::now()).await?;
    for combination in &missing {
        let price_minor = combination
            .price(product.price_minor)
            .map_err(MakeSkusError::Invalid)?;
        let selling_minor = crate::domain::selling_price(price_minor, &active);
        let sku = if product.has_options {
            number += 1;
            sku_id(product_id, number)
        } else {
            product_id.clone()
        };
        let options = combination.options();
        let inserted = sqlx::query(
            "INSERT INTO sku (sku, product_id, option_key, options, price_minor, selling_price_minor, status)
             VALUES (?, ?, ?, ?, ?, ?, 'ACTIVE')",
        )
        .bind(sku.as_str())
        .bind(product_id.as_str())
        .bind(combination.key())
        .bind(serde_json::to_string(&options).map_err(anyhow::Error::from)?)
        .bind(price_minor)
        .bind(selling_minor)
        .execute(&mut *transaction)
        .await;
        match inserted {
            Ok(_) => {}
            Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => {
                return Err(MakeSkusError::SkuTaken(sku.as_str().to_owned()));
            }
            Err(error) => return Err(anyhow::Error::from(error).into()),
        }
        let created = SkuCreatedV1 {
            product_id: product_id.clone(),
            sku,
            name: combination.name(&product.name),
            price_minor: selling_minor,
            currency: events::value::Currency::parse(&product.currency)
                .map_err(|_| anyhow::anyhow!("stored currency {:?} is invalid", product.currency))?,
            options,
            list_price_minor: Some(price_minor),
        };
        outbox::append(transaction, origin, &created)
            .await
            .map_err(anyhow::Error::from)?;
    }
    sqlx::query("UPDATE product SET sku_count = ?, updated_at = NOW(6) WHERE product_id = ?")
        .bind(number)
        .bind(product_id.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(missing.len())
}

/// Sets every active SKU's list price to the new base price plus its surcharges (checking
/// every price before writing any), then recomputes the selling prices and announces every
/// SKU's, so ordering follows the new price even where a promotion leaves it unchanged.
pub(crate) async fn reprice(
    transaction: &mut MySqlConnection,
    product_id: &ProductId,
    base: Price,
    origin: &Origin,
) -> Result<(), MakeSkusError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.sku,
                CAST(COALESCE((SELECT SUM(o.surcharge_minor) FROM product_option o
                               WHERE FIND_IN_SET(o.option_id, s.option_key)), 0) AS SIGNED)
         FROM sku s WHERE s.product_id = ? AND s.status = 'ACTIVE' ORDER BY s.sku",
    )
    .bind(product_id.as_str())
    .fetch_all(&mut *transaction)
    .await
    .map_err(anyhow::Error::from)?;
    let mut prices = Vec::new();
    for (sku, surcharges) in rows {
        let price = base
            .minor()
            .checked_add(surcharges)
            .filter(|price| *price <= Price::MAX_MINOR)
            .ok_or(MakeSkusError::Invalid(InvalidInput::SkuPrice))?;
        prices.push((sku, price));
    }
    for (sku, price_minor) in prices {
        sqlx::query("UPDATE sku SET price_minor = ? WHERE sku = ?")
            .bind(price_minor)
            .bind(&sku)
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
    }
    crate::promotions::reprice_selling(transaction, product_id, chrono::Utc::now(), origin, true).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeOptionsError {
    #[error("no such product")]
    ProductNotFound,
    #[error("the product has no such option group")]
    GroupNotFound,
    #[error("the product has no such option")]
    OptionNotFound,
    #[error("only an active product's options can change")]
    NotActive,
    #[error("the last option of a group cannot be removed")]
    LastOption,
    #[error("{0}")]
    Invalid(InvalidInput),
    #[error("a SKU with the id {0} exists")]
    SkuTaken(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<MakeSkusError> for ChangeOptionsError {
    fn from(error: MakeSkusError) -> Self {
        match error {
            MakeSkusError::Invalid(invalid) => Self::Invalid(invalid),
            MakeSkusError::SkuTaken(sku) => Self::SkuTaken(sku),
            MakeSkusError::Unexpected(cause) => Self::Unexpected(cause),
        }
    }
}

async fn lock_active_product(
    transaction: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<(), ChangeOptionsError> {
    let product = load(transaction, product_id.as_str(), true)
        .await?
        .ok_or(ChangeOptionsError::ProductNotFound)?;
    if ProductStatus::parse(&product.status) != Some(ProductStatus::Active) {
        return Err(ChangeOptionsError::NotActive);
    }
    Ok(())
}

/// Adds options to one of a product's groups and makes the SKUs they complete. Answers the
/// product's options and SKUs after the change.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str(), group_id))]
pub async fn add_options(
    pool: &MySqlPool,
    product_id: &ProductId,
    group_id: i64,
    options: &[OptionSpec],
    context: &EventContext,
) -> Result<ProductOptions, ChangeOptionsError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    lock_active_product(&mut transaction, product_id).await?;
    let groups = live_options(&mut transaction, product_id).await?;
    let belongs: Option<i64> =
        sqlx::query_scalar("SELECT group_id FROM option_group WHERE group_id = ? AND product_id = ?")
            .bind(group_id)
            .bind(product_id.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
    if belongs.is_none() {
        return Err(ChangeOptionsError::GroupNotFound);
    }
    let live: Vec<&LiveOption> = groups
        .iter()
        .filter(|(id, _)| *id == group_id)
        .flat_map(|(_, options)| options)
        .collect();
    let names = live
        .iter()
        .map(|option| option.name.as_str())
        .chain(options.iter().map(|option| option.name.as_str()));
    check_options_of_group(live.len() + options.len(), names).map_err(ChangeOptionsError::Invalid)?;
    let next_position: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(position) + 1, 0) AS SIGNED) FROM product_option WHERE group_id = ?",
    )
    .bind(group_id)
    .fetch_one(&mut *transaction)
    .await
    .map_err(anyhow::Error::from)?;
    insert_options(&mut transaction, product_id, group_id, next_position, options).await?;
    let origin = Origin::new("change-product-options", context.clone());
    make_missing_skus(&mut transaction, product_id, &origin).await?;
    let view = product_options(&mut transaction, product_id).await?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// Removes an option and deactivates every SKU that has it, for good.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str(), option_id))]
pub async fn remove_option(
    pool: &MySqlPool,
    product_id: &ProductId,
    option_id: i64,
    context: &EventContext,
) -> Result<ProductOptions, ChangeOptionsError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    lock_active_product(&mut transaction, product_id).await?;
    let groups = live_options(&mut transaction, product_id).await?;
    let group = groups
        .iter()
        .find(|(_, options)| options.iter().any(|option| option.option_id == option_id))
        .ok_or(ChangeOptionsError::OptionNotFound)?;
    if group.1.len() == 1 {
        return Err(ChangeOptionsError::LastOption);
    }
    sqlx::query("UPDATE product_option SET removed_at = NOW(6) WHERE option_id = ?")
        .bind(option_id)
        .execute(&mut *transaction)
        .await
        .map_err(anyhow::Error::from)?;
    let stopped: Vec<String> = sqlx::query_scalar(
        "SELECT sku FROM sku WHERE product_id = ? AND status = 'ACTIVE' AND FIND_IN_SET(?, option_key) ORDER BY sku",
    )
    .bind(product_id.as_str())
    .bind(option_id.to_string())
    .fetch_all(&mut *transaction)
    .await
    .map_err(anyhow::Error::from)?;
    let origin = Origin::new("change-product-options", context.clone());
    for sku in stopped {
        sqlx::query("UPDATE sku SET status = 'DEACTIVATED' WHERE sku = ?")
            .bind(&sku)
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
        let deactivated = SkuDeactivatedV1 {
            product_id: product_id.clone(),
            sku: events::value::Sku::parse(&sku)
                .map_err(|_| anyhow::anyhow!("stored SKU {sku:?} is invalid"))?,
        };
        outbox::append(&mut transaction, &origin, &deactivated)
            .await
            .map_err(anyhow::Error::from)?;
    }
    crate::activity::refresh_availability(&mut transaction, product_id.as_str())
        .await
        .map_err(anyhow::Error::from)?;
    let view = product_options(&mut transaction, product_id).await?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// A product's live options and all its SKUs, as the product page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOptions {
    pub option_groups: Vec<OptionGroupView>,
    pub skus: Vec<SkuView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionGroupView {
    pub group_id: i64,
    pub name: String,
    pub options: Vec<OptionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionView {
    pub option_id: i64,
    pub name: String,
    pub surcharge_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkuView {
    pub sku: String,
    pub options: BTreeMap<String, String>,
    /// Base price plus the options' surcharges.
    pub price_minor: i64,
    /// What an order pays now: the price after the winning promotion.
    pub selling_price_minor: i64,
    pub status: String,
}

pub(crate) async fn product_options(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<ProductOptions, anyhow::Error> {
    let option_groups = live_options(connection, product_id)
        .await?
        .into_iter()
        .map(|(group_id, options)| OptionGroupView {
            group_id,
            name: options
                .first()
                .map(|option| option.group.clone())
                .unwrap_or_default(),
            options: options
                .into_iter()
                .map(|option| OptionView {
                    option_id: option.option_id,
                    name: option.name,
                    surcharge_minor: option.surcharge_minor,
                })
                .collect(),
        })
        .collect();
    let rows: Vec<(String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT sku, CAST(options AS CHAR), price_minor, selling_price_minor, status FROM sku WHERE product_id = ?
         ORDER BY status, LENGTH(sku), sku",
    )
    .bind(product_id.as_str())
    .fetch_all(connection)
    .await?;
    let skus = rows
        .into_iter()
        .map(|(sku, options, price_minor, selling_price_minor, status)| {
            Ok(SkuView {
                sku,
                options: serde_json::from_str(&options)?,
                price_minor,
                selling_price_minor,
                status,
            })
        })
        .collect::<Result<_, anyhow::Error>>()?;
    Ok(ProductOptions { option_groups, skus })
}

#[derive(Debug, thiserror::Error)]
pub enum FindSkuError {
    #[error("no such product")]
    ProductNotFound,
    #[error("the options do not name an active SKU of the product")]
    SkuNotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The active SKU that has exactly the options chosen (group name to option name).
pub async fn find_sku(
    pool: &MySqlPool,
    product_id: &ProductId,
    chosen: &BTreeMap<String, String>,
) -> Result<SkuView, FindSkuError> {
    let mut connection = pool.acquire().await.map_err(anyhow::Error::from)?;
    if load(&mut connection, product_id.as_str(), false).await?.is_none() {
        return Err(FindSkuError::ProductNotFound);
    }
    let options = product_options(&mut connection, product_id).await?;
    options
        .skus
        .into_iter()
        .find(|sku| sku.status == "ACTIVE" && &sku.options == chosen)
        .ok_or(FindSkuError::SkuNotFound)
}
