//! The catalog use cases on MariaDB. Every change that other contexts care about (a new
//! product, a new price, discontinuing and re-activating) appends its event to the outbox in
//! the transaction of the change; a change that changes nothing writes no event.

use chrono::{DateTime, Utc};
use events::catalog::{ProductCreatedV1, ProductDiscontinuedV1, ProductPriceChangedV1, ProductReactivatedV1};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::mariadb::{DUPLICATE_KEY, MISSING_REFERENCE, error_number};
use store::outbox::{self, EventContext, Origin};

use crate::domain::{CategoryId, Page, Price, ProductId, ProductStatus, Sort, Text, status_change};

/// The ids of a category and all its descendants, as the CTE `tree`.
macro_rules! category_tree_sql {
    () => {
        "WITH RECURSIVE tree (category_id) AS (
             SELECT category_id FROM category WHERE category_id = ?
             UNION ALL
             SELECT child.category_id FROM category child JOIN tree ON child.parent_id = tree.category_id
         )"
    };
}

macro_rules! browse_sql {
    () => {
        concat!(
            category_tree_sql!(),
            " SELECT product_id, name, description, category_id, price_minor, currency, status, created_at, updated_at
              FROM product WHERE status = 'ACTIVE'
              AND (? IS NULL OR category_id IN (SELECT category_id FROM tree))"
        )
    };
}

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub product_id: String,
    pub name: String,
    pub description: String,
    pub category_id: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new product: active from the start, with its first price.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub product_id: ProductId,
    pub name: Text,
    pub description: Text,
    pub category_id: Option<CategoryId>,
    pub price: Price,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateProductError {
    #[error("a product with this id exists")]
    AlreadyExists,
    #[error("the category does not exist")]
    UnknownCategory,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a product and announces it with `product.created`.
#[tracing::instrument(skip_all, fields(product_id = product.product_id.as_str()))]
pub async fn create_product(
    pool: &MySqlPool,
    product: &NewProduct,
    context: &EventContext,
) -> Result<ProductView, CreateProductError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO product (product_id, name, description, category_id, price_minor, currency, status,
                              created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'ACTIVE', ?, ?)",
    )
    .bind(product.product_id.as_str())
    .bind(product.name.as_str())
    .bind(product.description.as_str())
    .bind(product.category_id.as_ref().map(CategoryId::as_str))
    .bind(product.price.minor())
    .bind(product.price.currency().as_str())
    .bind(now)
    .bind(now)
    .execute(&mut *transaction)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => {
            return Err(CreateProductError::AlreadyExists);
        }
        Err(error) if error_number(&error) == Some(MISSING_REFERENCE) => {
            return Err(CreateProductError::UnknownCategory);
        }
        Err(error) => return Err(anyhow::Error::from(error).into()),
    }
    let created = ProductCreatedV1 {
        product_id: product.product_id.clone(),
        name: product.name.as_str().to_owned(),
        price_minor: product.price.minor(),
        currency: product.price.currency(),
    };
    let origin = Origin::new("create-product", context.clone());
    outbox::append(&mut transaction, &origin, &created)
        .await
        .map_err(anyhow::Error::from)?;
    let view = load(&mut transaction, product.product_id.as_str(), false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the product just created is missing"))?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// The descriptive fields of a product an admin may edit.
#[derive(Debug, Clone)]
pub struct ProductDetails {
    pub name: Text,
    pub description: Text,
    pub category_id: Option<CategoryId>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateProductError {
    #[error("no such product")]
    NotFound,
    #[error("the category does not exist")]
    UnknownCategory,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Replaces a product's name, description and category. No other context needs them, so no
/// event is written.
pub async fn update_product(
    pool: &MySqlPool,
    product_id: &ProductId,
    details: &ProductDetails,
) -> Result<ProductView, UpdateProductError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let updated = sqlx::query(
        "UPDATE product SET name = ?, description = ?, category_id = ?, updated_at = ? WHERE product_id = ?",
    )
    .bind(details.name.as_str())
    .bind(details.description.as_str())
    .bind(details.category_id.as_ref().map(CategoryId::as_str))
    .bind(Utc::now())
    .bind(product_id.as_str())
    .execute(&mut *transaction)
    .await;
    match updated {
        Ok(_) => {}
        Err(error) if error_number(&error) == Some(MISSING_REFERENCE) => {
            return Err(UpdateProductError::UnknownCategory);
        }
        Err(error) => return Err(anyhow::Error::from(error).into()),
    }
    let view = load(&mut transaction, product_id.as_str(), false)
        .await?
        .ok_or(UpdateProductError::NotFound)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePriceError {
    #[error("no such product")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Sets a product's price and announces it with `product.price-changed` (only if it changed).
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str()))]
pub async fn change_price(
    pool: &MySqlPool,
    product_id: &ProductId,
    price: Price,
    context: &EventContext,
) -> Result<ProductView, ChangePriceError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let current = load(&mut transaction, product_id.as_str(), true)
        .await?
        .ok_or(ChangePriceError::NotFound)?;
    if current.price_minor != price.minor() || current.currency != price.currency().as_str() {
        sqlx::query("UPDATE product SET price_minor = ?, currency = ?, updated_at = ? WHERE product_id = ?")
            .bind(price.minor())
            .bind(price.currency().as_str())
            .bind(Utc::now())
            .bind(product_id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
        let changed = ProductPriceChangedV1 {
            product_id: product_id.clone(),
            price_minor: price.minor(),
            currency: price.currency(),
        };
        let origin = Origin::new("change-product-price", context.clone());
        outbox::append(&mut transaction, &origin, &changed)
            .await
            .map_err(anyhow::Error::from)?;
    }
    let view = load(&mut transaction, product_id.as_str(), false)
        .await?
        .ok_or(ChangePriceError::NotFound)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeStatusError {
    #[error("no such product")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Discontinues (`product.discontinued`) or re-activates (`product.reactivated`) a product;
/// asking for the status it already has changes nothing.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str(), ?wanted))]
pub async fn change_status(
    pool: &MySqlPool,
    product_id: &ProductId,
    wanted: ProductStatus,
    context: &EventContext,
) -> Result<ProductView, ChangeStatusError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let current = load(&mut transaction, product_id.as_str(), true)
        .await?
        .ok_or(ChangeStatusError::NotFound)?;
    let status = ProductStatus::parse(&current.status)
        .ok_or_else(|| anyhow::anyhow!("unknown product status {:?}", current.status))?;
    if let Some(next) = status_change(status, wanted) {
        sqlx::query("UPDATE product SET status = ?, updated_at = ? WHERE product_id = ?")
            .bind(next.as_str())
            .bind(Utc::now())
            .bind(product_id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
        let product_id = product_id.clone();
        let appended = match next {
            ProductStatus::Discontinued => {
                let origin = Origin::new("discontinue-product", context.clone());
                outbox::append(&mut transaction, &origin, &ProductDiscontinuedV1 { product_id }).await
            }
            ProductStatus::Active => {
                let origin = Origin::new("activate-product", context.clone());
                outbox::append(&mut transaction, &origin, &ProductReactivatedV1 { product_id }).await
            }
        };
        appended.map_err(anyhow::Error::from)?;
    }
    let view = load(&mut transaction, product_id.as_str(), false)
        .await?
        .ok_or(ChangeStatusError::NotFound)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// One product, whatever its status (a discontinued product's page still exists).
pub async fn get_product(pool: &MySqlPool, product_id: &str) -> Result<Option<ProductView>, anyhow::Error> {
    let mut connection = pool.acquire().await?;
    load(&mut connection, product_id, false).await
}

/// A page of active products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductPage {
    pub products: Vec<ProductView>,
    pub page: u32,
    pub size: u32,
    pub total: i64,
}

/// Active products, optionally in a category or any of its descendants, sorted and paged.
pub async fn browse(
    pool: &MySqlPool,
    category: Option<&CategoryId>,
    sort: Sort,
    page: Page,
) -> Result<ProductPage, anyhow::Error> {
    // One statement per sort keeps every query text static and lets MariaDB use the index
    // that matches the order. The category clause is switched off by a NULL parameter.
    let sql = match sort {
        Sort::PriceAscending => concat!(
            browse_sql!(),
            " ORDER BY price_minor ASC, product_id ASC LIMIT ? OFFSET ?"
        ),
        Sort::PriceDescending => concat!(
            browse_sql!(),
            " ORDER BY price_minor DESC, product_id ASC LIMIT ? OFFSET ?"
        ),
        Sort::Name => concat!(
            browse_sql!(),
            " ORDER BY name ASC, product_id ASC LIMIT ? OFFSET ?"
        ),
        Sort::Newest => concat!(
            browse_sql!(),
            " ORDER BY created_at DESC, product_id ASC LIMIT ? OFFSET ?"
        ),
    };
    let category = category.map(CategoryId::as_str);
    let rows: Vec<ProductRow> = sqlx::query_as(sql)
        .bind(category)
        .bind(category)
        .bind(page.size())
        .bind(page.offset())
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(concat!(
        category_tree_sql!(),
        " SELECT COUNT(*) FROM product WHERE status = 'ACTIVE'
           AND (? IS NULL OR category_id IN (SELECT category_id FROM tree))"
    ))
    .bind(category)
    .bind(category)
    .fetch_one(pool)
    .await?;
    Ok(ProductPage {
        products: rows.into_iter().map(view).collect(),
        page: page.number(),
        size: page.size(),
        total,
    })
}

/// A category with its children, as `GET /categories` shows the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryNode {
    pub category_id: String,
    pub name: String,
    pub children: Vec<CategoryNode>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateCategoryError {
    #[error("a category with this id exists")]
    AlreadyExists,
    #[error("the parent category does not exist")]
    UnknownParent,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Adds a category under `parent` (or at the root). A parent must exist first, so the tree
/// can never hold a cycle.
pub async fn create_category(
    pool: &MySqlPool,
    category_id: &CategoryId,
    name: &Text,
    parent: Option<&CategoryId>,
) -> Result<CategoryNode, CreateCategoryError> {
    let inserted = sqlx::query("INSERT INTO category (category_id, parent_id, name) VALUES (?, ?, ?)")
        .bind(category_id.as_str())
        .bind(parent.map(CategoryId::as_str))
        .bind(name.as_str())
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => Ok(CategoryNode {
            category_id: category_id.as_str().to_owned(),
            name: name.as_str().to_owned(),
            children: Vec::new(),
        }),
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => Err(CreateCategoryError::AlreadyExists),
        Err(error) if error_number(&error) == Some(MISSING_REFERENCE) => {
            Err(CreateCategoryError::UnknownParent)
        }
        Err(error) => Err(anyhow::Error::from(error).into()),
    }
}

/// The whole category tree, each level sorted by name.
pub async fn category_tree(pool: &MySqlPool) -> Result<Vec<CategoryNode>, anyhow::Error> {
    let rows: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT category_id, parent_id, name FROM category ORDER BY name, category_id")
            .fetch_all(pool)
            .await?;
    Ok(build_tree(&rows, None))
}

fn build_tree(rows: &[(String, Option<String>, String)], parent: Option<&str>) -> Vec<CategoryNode> {
    rows.iter()
        .filter(|(_, row_parent, _)| row_parent.as_deref() == parent)
        .map(|(id, _, name)| CategoryNode {
            category_id: id.clone(),
            name: name.clone(),
            children: build_tree(rows, Some(id)),
        })
        .collect()
}

type ProductRow = (
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn view(row: ProductRow) -> ProductView {
    let (product_id, name, description, category_id, price_minor, currency, status, created_at, updated_at) =
        row;
    ProductView {
        product_id,
        name,
        description,
        category_id,
        price_minor,
        currency,
        status,
        created_at,
        updated_at,
    }
}

async fn load(
    connection: &mut MySqlConnection,
    product_id: &str,
    for_update: bool,
) -> Result<Option<ProductView>, anyhow::Error> {
    let sql = if for_update {
        "SELECT product_id, name, description, category_id, price_minor, currency, status, created_at, updated_at
         FROM product WHERE product_id = ? FOR UPDATE"
    } else {
        "SELECT product_id, name, description, category_id, price_minor, currency, status, created_at, updated_at
         FROM product WHERE product_id = ?"
    };
    let row: Option<ProductRow> = sqlx::query_as(sql)
        .bind(product_id)
        .fetch_optional(connection)
        .await?;
    Ok(row.map(view))
}
