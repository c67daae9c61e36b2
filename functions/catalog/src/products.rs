//! The catalog use cases on MariaDB. Every change that other contexts care about (a new
//! product, a new price, discontinuing and re-activating) appends its event to the outbox in
//! the transaction of the change; a change that changes nothing writes no event.

use chrono::{DateTime, Utc};
use events::catalog::{ProductCreatedV1, ProductDiscontinuedV1, ProductPriceChangedV1, ProductReactivatedV1};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::mariadb::{DUPLICATE_KEY, MISSING_REFERENCE, error_number};
use store::outbox::{self, EventContext, Origin};

use crate::domain::{
    BrandId, CategoryId, InvalidInput, InvalidTransition, OptionGroupSpec, Page, Price, ProductId,
    ProductStatus, Sort, Text, status_change,
};
use crate::search::{Keywords, product_search_text};
use crate::skus;

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub product_id: String,
    pub name: String,
    pub description: String,
    pub category_id: Option<String>,
    pub brand_id: Option<String>,
    /// Sold as the SKUs of its options rather than under its own id.
    pub has_options: bool,
    /// The base price; a SKU adds its options' surcharges.
    pub price_minor: i64,
    /// The base price after the winning active promotion.
    pub selling_price_minor: i64,
    /// How much cheaper the selling price is, in whole percent.
    pub discount_rate: i64,
    pub currency: String,
    /// `DRAFT`, `ACTIVE`, `SUSPENDED` or `DELETED`.
    pub status: String,
    /// The mean rating of the visible reviews, to two decimals; none without reviews.
    pub average_rating: Option<f64>,
    pub review_count: i32,
    pub like_count: i32,
    /// Units sold in confirmed orders.
    pub sales_count: i64,
    /// Whether an active SKU has stock (from inventory's events).
    pub available: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns a [`ProductView`] is read from, in every statement that reads one.
macro_rules! product_columns {
    () => {
        "product_id, name, description, category_id, brand_id, has_options, price_minor, selling_price_minor,
         currency, status, rating_sum, review_count, like_count, sales_count, available, created_at, updated_at"
    };
}

impl<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow> for ProductView {
    fn from_row(row: &'r sqlx::mysql::MySqlRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let rating_sum: i64 = row.try_get("rating_sum")?;
        let review_count: i32 = row.try_get("review_count")?;
        let price_minor: i64 = row.try_get("price_minor")?;
        let selling_price_minor: i64 = row.try_get("selling_price_minor")?;
        Ok(Self {
            product_id: row.try_get("product_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            category_id: row.try_get("category_id")?,
            brand_id: row.try_get("brand_id")?,
            has_options: row.try_get("has_options")?,
            price_minor,
            selling_price_minor,
            discount_rate: crate::domain::discount_rate(price_minor, selling_price_minor),
            currency: row.try_get("currency")?,
            status: row.try_get("status")?,
            average_rating: crate::domain::average_rating(rating_sum, review_count),
            review_count,
            like_count: row.try_get("like_count")?,
            sales_count: row.try_get("sales_count")?,
            available: row.try_get("available")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// A new product: active from the start, with its first price.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub product_id: ProductId,
    pub name: Text,
    pub description: Text,
    pub category_id: Option<CategoryId>,
    pub brand_id: Option<BrandId>,
    pub price: Price,
    /// Empty for a product sold as one SKU under its own id.
    pub option_groups: Vec<OptionGroupSpec>,
    /// Created as a DRAFT (not sold until activated) rather than ACTIVE.
    pub draft: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateProductError {
    #[error("a product with this id exists")]
    AlreadyExists,
    #[error("a SKU with the id {0} exists")]
    SkuTaken(String),
    #[error("the category does not exist")]
    UnknownCategory,
    #[error("the brand does not exist")]
    UnknownBrand,
    #[error("{0}")]
    Invalid(InvalidInput),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a product with its SKUs and announces it with `product.created` and one
/// `sku-created` per SKU.
#[tracing::instrument(skip_all, fields(product_id = product.product_id.as_str()))]
pub async fn create_product(
    pool: &MySqlPool,
    product: &NewProduct,
    context: &EventContext,
) -> Result<ProductView, CreateProductError> {
    let has_options = !product.option_groups.is_empty();
    if has_options && product.product_id.as_str().len() > crate::domain::MAX_PRODUCT_ID_WITH_OPTIONS {
        return Err(CreateProductError::Invalid(
            InvalidInput::ProductIdTooLongForOptions(crate::domain::MAX_PRODUCT_ID_WITH_OPTIONS),
        ));
    }
    crate::domain::check_option_groups(&product.option_groups).map_err(CreateProductError::Invalid)?;
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let brand_name = match &product.brand_id {
        Some(brand) => Some(
            live_brand_name(&mut transaction, brand)
                .await?
                .ok_or(CreateProductError::UnknownBrand)?,
        ),
        None => None,
    };
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO product (product_id, name, description, category_id, brand_id, has_options, price_minor,
                              selling_price_minor, currency, status, search_text, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(product.product_id.as_str())
    .bind(product.name.as_str())
    .bind(product.description.as_str())
    .bind(product.category_id.as_ref().map(CategoryId::as_str))
    .bind(product.brand_id.as_ref().map(BrandId::as_str))
    .bind(has_options)
    .bind(product.price.minor())
    .bind(product.price.minor())
    .bind(product.price.currency().as_str())
    .bind(
        if product.draft {
            ProductStatus::Draft
        } else {
            ProductStatus::Active
        }
        .as_str(),
    )
    .bind(product_search_text(
        product.name.as_str(),
        product.description.as_str(),
        brand_name.as_deref(),
    ))
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
        has_options,
    };
    let origin = Origin::new("create-product", context.clone());
    outbox::append(&mut transaction, &origin, &created)
        .await
        .map_err(anyhow::Error::from)?;
    skus::create_options_and_skus(&mut transaction, product, &origin)
        .await
        .map_err(|error| match error {
            skus::MakeSkusError::Invalid(invalid) => CreateProductError::Invalid(invalid),
            skus::MakeSkusError::SkuTaken(sku) => CreateProductError::SkuTaken(sku),
            skus::MakeSkusError::Unexpected(cause) => CreateProductError::Unexpected(cause),
        })?;
    if product.draft {
        // Ordering learns of a draft's SKUs with everything else, but may not sell them yet.
        let discontinued = ProductDiscontinuedV1 {
            product_id: product.product_id.clone(),
        };
        outbox::append(&mut transaction, &origin, &discontinued)
            .await
            .map_err(anyhow::Error::from)?;
    }
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
    pub brand_id: Option<BrandId>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateProductError {
    #[error("no such product")]
    NotFound,
    #[error("the category does not exist")]
    UnknownCategory,
    #[error("the brand does not exist")]
    UnknownBrand,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Replaces a product's name, description, category and brand. No other context needs them,
/// so no event is written. A brand that was deleted may stay on the products that had it,
/// but no product takes it anew.
pub async fn update_product(
    pool: &MySqlPool,
    product_id: &ProductId,
    details: &ProductDetails,
) -> Result<ProductView, UpdateProductError> {
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let current = load(&mut transaction, product_id.as_str(), true)
        .await?
        .ok_or(UpdateProductError::NotFound)?;
    let brand_name = match &details.brand_id {
        Some(brand) => {
            let name = brand_name(&mut transaction, brand).await?;
            let kept = current.brand_id.as_deref() == Some(brand.as_str());
            match name {
                Some((name, deleted)) if !deleted || kept => Some(name),
                _ => return Err(UpdateProductError::UnknownBrand),
            }
        }
        None => None,
    };
    let updated = sqlx::query(
        "UPDATE product SET name = ?, description = ?, category_id = ?, brand_id = ?, search_text = ?, updated_at = ?
         WHERE product_id = ?",
    )
    .bind(details.name.as_str())
    .bind(details.description.as_str())
    .bind(details.category_id.as_ref().map(CategoryId::as_str))
    .bind(details.brand_id.as_ref().map(BrandId::as_str))
    .bind(product_search_text(
        details.name.as_str(),
        details.description.as_str(),
        brand_name.as_deref(),
    ))
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
    #[error("a SKU would cost more than the price limit")]
    SkuPrice,
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
            has_options: current.has_options,
        };
        let origin = Origin::new("change-product-price", context.clone());
        outbox::append(&mut transaction, &origin, &changed)
            .await
            .map_err(anyhow::Error::from)?;
        skus::reprice(&mut transaction, product_id, price, &origin)
            .await
            .map_err(|error| match error {
                skus::MakeSkusError::Invalid(_) => ChangePriceError::SkuPrice,
                skus::MakeSkusError::SkuTaken(sku) => {
                    anyhow::anyhow!("SKU {sku} taken while repricing").into()
                }
                skus::MakeSkusError::Unexpected(cause) => ChangePriceError::Unexpected(cause),
            })?;
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
    Invalid(#[from] InvalidTransition),
    #[error("a product needs an active SKU to be sold")]
    NotReady,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Moves a product along its lifecycle (`domain::status_change`). Whether it can be ordered is
/// what other contexts care about: becoming ACTIVE announces `product.reactivated`, leaving
/// ACTIVE (suspended or deleted) announces `product.discontinued`; the other moves change
/// nothing ordering sees. Asking for the status it has changes nothing.
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
    if let Some(next) = status_change(status, wanted)? {
        if next == ProductStatus::Active {
            let active_skus: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sku WHERE product_id = ? AND status = 'ACTIVE'")
                    .bind(product_id.as_str())
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(anyhow::Error::from)?;
            if !crate::domain::ready_for_activation(active_skus) {
                return Err(ChangeStatusError::NotReady);
            }
        }
        sqlx::query("UPDATE product SET status = ?, updated_at = ? WHERE product_id = ?")
            .bind(next.as_str())
            .bind(Utc::now())
            .bind(product_id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(anyhow::Error::from)?;
        let origin = Origin::new("change-product-status", context.clone());
        let product_id = product_id.clone();
        if next == ProductStatus::Active {
            outbox::append(&mut transaction, &origin, &ProductReactivatedV1 { product_id })
                .await
                .map_err(anyhow::Error::from)?;
        } else if status == ProductStatus::Active {
            outbox::append(&mut transaction, &origin, &ProductDiscontinuedV1 { product_id })
                .await
                .map_err(anyhow::Error::from)?;
        }
    }
    let view = load(&mut transaction, product_id.as_str(), false)
        .await?
        .ok_or(ChangeStatusError::NotFound)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// A product's page: the product with its live options and all its SKUs.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: ProductView,
    #[serde(flatten)]
    pub options: skus::ProductOptions,
}

pub async fn get_product_detail(
    pool: &MySqlPool,
    product_id: &ProductId,
) -> Result<Option<ProductDetail>, anyhow::Error> {
    let mut connection = pool.acquire().await?;
    let Some(product) = load(&mut connection, product_id.as_str(), false).await? else {
        return Ok(None);
    };
    // A draft is not published yet and a deleted product is gone; a suspended one keeps its
    // page (it may come back).
    if matches!(product.status.as_str(), "DRAFT" | "DELETED") {
        return Ok(None);
    }
    let options = skus::product_options(&mut connection, product_id).await?;
    Ok(Some(ProductDetail { product, options }))
}

/// A page of active products.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPage {
    pub products: Vec<ProductView>,
    pub page: u32,
    pub size: u32,
    pub total: i64,
}

/// What a shopper narrows a browse to. Every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct BrowseFilter {
    pub category: Option<CategoryId>,
    pub brand: Option<BrandId>,
    /// Inclusive bounds on the price, in minor units.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub keywords: Option<Keywords>,
    /// Values the product must have, every one (docs/adr/0042).
    pub attributes: Vec<crate::attributes::AttributeFilter>,
}

/// Active products matching the filter, sorted and paged. Keywords rank by relevance unless
/// another order is asked for.
pub async fn browse(
    pool: &MySqlPool,
    filter: &BrowseFilter,
    sort: Sort,
    page: Page,
) -> Result<ProductPage, anyhow::Error> {
    // The category tree is a CTE that every statement carries; a NULL parameter switches it
    // off. The other filters are added only when present, so each statement uses the index
    // that fits it (the FULLTEXT index for keywords).
    let category = filter.category.as_ref().map(CategoryId::as_str);
    let keywords = filter.keywords.as_ref().map(Keywords::boolean_query);
    let conditions = |query: &mut sqlx::QueryBuilder<sqlx::MySql>| {
        query.push(" WHERE status = 'ACTIVE' AND (");
        query.push_bind(category);
        query.push(" IS NULL OR category_id IN (SELECT category_id FROM tree))");
        if let Some(brand) = &filter.brand {
            query
                .push(" AND brand_id = ")
                .push_bind(brand.as_str().to_owned());
        }
        if let Some(min) = filter.min_price {
            query.push(" AND selling_price_minor >= ").push_bind(min);
        }
        if let Some(max) = filter.max_price {
            query.push(" AND selling_price_minor <= ").push_bind(max);
        }
        if let Some(keywords) = keywords {
            query
                .push(" AND MATCH (search_text) AGAINST (")
                .push_bind(keywords.to_owned())
                .push(" IN BOOLEAN MODE)");
        }
        // One semi-join per filter, each answered from the (attribute, value, product) index.
        for wanted in &filter.attributes {
            query
                .push(
                    " AND EXISTS (SELECT 1 FROM product_attribute_value attribute_value
                       WHERE attribute_value.product_id = product.product_id AND attribute_value.attribute_id = ",
                )
                .push_bind(wanted.attribute_id)
                .push(" AND attribute_value.value = ")
                .push_bind(wanted.value.clone())
                .push(")");
        }
    };
    let tree = |query: &mut sqlx::QueryBuilder<sqlx::MySql>| {
        query.push(
            "WITH RECURSIVE tree (category_id) AS (
                 SELECT category_id FROM category WHERE category_id = ",
        );
        query.push_bind(category);
        query.push(
            " UNION ALL
                 SELECT child.category_id FROM category child JOIN tree ON child.parent_id = tree.category_id
             )",
        );
    };

    let mut select = sqlx::QueryBuilder::new("");
    tree(&mut select);
    select.push(concat!(" SELECT ", product_columns!(), " FROM product"));
    conditions(&mut select);
    let order = match (sort, keywords) {
        (Sort::Relevance, Some(keywords)) => {
            select
                .push(" ORDER BY MATCH (search_text) AGAINST (")
                .push_bind(keywords.to_owned())
                .push(" IN BOOLEAN MODE) DESC, product_id ASC");
            ""
        }
        // Relevance without keywords has nothing to rank: newest first, as by default.
        (Sort::Relevance | Sort::Newest, _) => " ORDER BY created_at DESC, product_id ASC",
        (Sort::Recommended, _) => {
            " ORDER BY available DESC, 3 * sales_count + 2 * like_count + review_count DESC, created_at DESC, product_id ASC"
        }
        (Sort::Popularity, _) => {
            " ORDER BY 3 * sales_count + 2 * like_count + review_count DESC, product_id ASC"
        }
        (Sort::BestSelling, _) => " ORDER BY sales_count DESC, product_id ASC",
        (Sort::Rating, _) => {
            " ORDER BY review_count = 0, rating_sum / NULLIF(review_count, 0) DESC, review_count DESC, product_id ASC"
        }
        (Sort::ReviewCount, _) => " ORDER BY review_count DESC, product_id ASC",
        (Sort::PriceAscending, _) => " ORDER BY selling_price_minor ASC, product_id ASC",
        (Sort::PriceDescending, _) => " ORDER BY selling_price_minor DESC, product_id ASC",
        (Sort::Name, _) => " ORDER BY name ASC, product_id ASC",
    };
    select.push(order);
    select.push(" LIMIT ").push_bind(page.size());
    select.push(" OFFSET ").push_bind(page.offset());
    let products: Vec<ProductView> = select.build_query_as().fetch_all(pool).await?;

    let mut count = sqlx::QueryBuilder::new("");
    tree(&mut count);
    count.push(" SELECT COUNT(*) FROM product");
    conditions(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok(ProductPage {
        products,
        page: page.number(),
        size: page.size(),
        total,
    })
}

/// A category with its children, as `GET /categories` shows the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CategoryNode {
    pub category_id: String,
    pub name: String,
    #[schema(no_recursion)]
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

/// A brand's name and whether it was deleted.
async fn brand_name(
    connection: &mut MySqlConnection,
    brand: &BrandId,
) -> Result<Option<(String, bool)>, anyhow::Error> {
    let row: Option<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT name, deleted_at FROM brand WHERE brand_id = ? LOCK IN SHARE MODE")
            .bind(brand.as_str())
            .fetch_optional(connection)
            .await?;
    Ok(row.map(|(name, deleted_at)| (name, deleted_at.is_some())))
}

/// The name of a brand that was not deleted.
async fn live_brand_name(
    connection: &mut MySqlConnection,
    brand: &BrandId,
) -> Result<Option<String>, anyhow::Error> {
    Ok(brand_name(connection, brand)
        .await?
        .and_then(|(name, deleted)| (!deleted).then_some(name)))
}

pub(crate) async fn load(
    connection: &mut MySqlConnection,
    product_id: &str,
    for_update: bool,
) -> Result<Option<ProductView>, anyhow::Error> {
    let sql = if for_update {
        concat!(
            "SELECT ",
            product_columns!(),
            " FROM product WHERE product_id = ? FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            product_columns!(),
            " FROM product WHERE product_id = ?"
        )
    };
    Ok(sqlx::query_as(sql)
        .bind(product_id)
        .fetch_optional(connection)
        .await?)
}
