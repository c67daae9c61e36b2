//! Category attributes: a category defines them (STRING, NUMBER, ENUM or BOOLEAN, optionally
//! required), its sub-categories inherit them, and a product gives them values that are
//! checked against every attribute of its category's lineage. Browsing filters on the values.
//!
//! - [`rules`]: the rules without I/O.
//! - This module: the use cases on MariaDB (docs/adr/0042).
//!
//! Attribute writes lock the rows of the category's lineage exclusively and value writes lock
//! them shared, so a name stays unique along a lineage and an ENUM option is never removed
//! while a product is being given it. No other context needs attributes, so no event is
//! written.

pub mod rules;

use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool, QueryBuilder};
use store::mariadb::{DUPLICATE_KEY, error_number};

use crate::domain::{CategoryId, ProductId};
use rules::{Applicable, Attribute, AttributeType, InvalidAttribute, ValuesRejected};

/// The columns an [`Attribute`] is read from.
macro_rules! attribute_select {
    () => {
        "SELECT attribute_id, category_id, name, type, required, CAST(options AS CHAR), position"
    };
}

/// An attribute as the API shows it for one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeView {
    pub attribute_id: i64,
    /// The category that defines it: an ancestor's when it is inherited.
    pub category_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<String>,
    pub position: i32,
    pub inherited: bool,
}

impl From<Applicable> for AttributeView {
    fn from(applicable: Applicable) -> Self {
        let Applicable { attribute, inherited } = applicable;
        Self {
            attribute_id: attribute.attribute_id,
            category_id: attribute.category_id,
            name: attribute.name,
            kind: attribute.kind.as_str(),
            required: attribute.required,
            options: attribute.options,
            position: attribute.position,
            inherited,
        }
    }
}

/// A new attribute, its name and options already checked by [`rules`].
#[derive(Debug, Clone)]
pub struct NewAttribute {
    pub name: String,
    pub kind: AttributeType,
    pub required: bool,
    pub options: Vec<String>,
    /// None: after the category's last attribute.
    pub position: Option<i32>,
}

/// What an admin may change of an attribute. The type is fixed: stored values were checked
/// against it.
#[derive(Debug, Clone)]
pub struct AttributeChange {
    pub name: String,
    /// When given, must be the attribute's type.
    pub kind: Option<AttributeType>,
    pub required: bool,
    /// Unchecked, since what is valid depends on the stored type.
    pub options: Option<Vec<String>>,
    /// None keeps the position.
    pub position: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error("no such category")]
    CategoryNotFound,
    #[error("the category has no attribute with this id")]
    AttributeNotFound,
    #[error("an attribute of this name applies to the category or to a category below it")]
    NameTaken,
    #[error("an attribute's type cannot change")]
    TypeFixed,
    #[error("products use the options {0:?}")]
    OptionsInUse(Vec<String>),
    #[error("{0}")]
    Invalid(InvalidAttribute),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn unexpected(error: sqlx::Error) -> anyhow::Error {
    anyhow::Error::from(error)
}

/// Adds an attribute to a category. Its name must be free along the category's lineage and
/// below it, so no product ever sees two attributes of one name.
#[tracing::instrument(skip_all, fields(category_id = category_id.as_str()))]
pub async fn create_attribute(
    pool: &MySqlPool,
    category_id: &CategoryId,
    attribute: &NewAttribute,
) -> Result<AttributeView, AttributeError> {
    let mut transaction = pool.begin().await.map_err(unexpected)?;
    let lineage = lineage(&mut transaction, category_id.as_str(), Lock::Exclusive).await?;
    if lineage.is_empty() {
        return Err(AttributeError::CategoryNotFound);
    }
    check_name_free(&mut transaction, &lineage, &attribute.name, None).await?;
    let position = match attribute.position {
        Some(position) => position,
        None => {
            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM category_attribute WHERE category_id = ?",
            )
            .bind(category_id.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(unexpected)?;
            i32::try_from(next).map_err(anyhow::Error::from)?
        }
    };
    let inserted = sqlx::query(
        "INSERT INTO category_attribute (category_id, name, type, required, options, position)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(category_id.as_str())
    .bind(&attribute.name)
    .bind(attribute.kind.as_str())
    .bind(attribute.required)
    .bind(options_json(attribute.kind, &attribute.options)?)
    .bind(position)
    .execute(&mut *transaction)
    .await;
    let attribute_id = match inserted {
        Ok(done) => i64::try_from(done.last_insert_id()).map_err(anyhow::Error::from)?,
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => return Err(AttributeError::NameTaken),
        Err(error) => return Err(unexpected(error).into()),
    };
    transaction.commit().await.map_err(unexpected)?;
    Ok(AttributeView::from(Applicable {
        attribute: Attribute {
            attribute_id,
            category_id: category_id.as_str().to_owned(),
            name: attribute.name.clone(),
            kind: attribute.kind,
            required: attribute.required,
            options: attribute.options.clone(),
            position,
        },
        inherited: false,
    }))
}

/// Renames an attribute, makes it required or optional, replaces an ENUM's options or moves
/// it. An ENUM option that products have as their value cannot be removed: they would keep a
/// value the attribute no longer allows.
#[tracing::instrument(skip_all, fields(category_id = category_id.as_str(), attribute_id))]
pub async fn update_attribute(
    pool: &MySqlPool,
    category_id: &CategoryId,
    attribute_id: i64,
    change: &AttributeChange,
) -> Result<AttributeView, AttributeError> {
    let mut transaction = pool.begin().await.map_err(unexpected)?;
    let lineage = lineage(&mut transaction, category_id.as_str(), Lock::Exclusive).await?;
    if lineage.is_empty() {
        return Err(AttributeError::CategoryNotFound);
    }
    let current = own_attribute(&mut transaction, category_id, attribute_id).await?;
    if change.kind.is_some_and(|kind| kind != current.kind) {
        return Err(AttributeError::TypeFixed);
    }
    let options =
        rules::attribute_options(current.kind, change.options.as_deref()).map_err(AttributeError::Invalid)?;
    check_name_free(&mut transaction, &lineage, &change.name, Some(attribute_id)).await?;
    let removed = rules::removed_options(&current.options, &options);
    if !removed.is_empty() {
        let mut used =
            QueryBuilder::new("SELECT DISTINCT value FROM product_attribute_value WHERE attribute_id = ");
        used.push_bind(attribute_id).push(" AND value IN (");
        let mut list = used.separated(", ");
        for option in &removed {
            list.push_bind(*option);
        }
        used.push(") ORDER BY value");
        let used: Vec<String> = used
            .build_query_scalar()
            .fetch_all(&mut *transaction)
            .await
            .map_err(unexpected)?;
        if !used.is_empty() {
            return Err(AttributeError::OptionsInUse(used));
        }
    }
    let position = change.position.unwrap_or(current.position);
    let updated = sqlx::query(
        "UPDATE category_attribute SET name = ?, required = ?, options = ?, position = ?, updated_at = NOW(6)
         WHERE attribute_id = ?",
    )
    .bind(&change.name)
    .bind(change.required)
    .bind(options_json(current.kind, &options)?)
    .bind(position)
    .bind(attribute_id)
    .execute(&mut *transaction)
    .await;
    match updated {
        Ok(_) => {}
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => return Err(AttributeError::NameTaken),
        Err(error) => return Err(unexpected(error).into()),
    }
    transaction.commit().await.map_err(unexpected)?;
    Ok(AttributeView::from(Applicable {
        attribute: Attribute {
            name: change.name.clone(),
            required: change.required,
            options,
            position,
            ..current
        },
        inherited: false,
    }))
}

/// Deletes an attribute with every product's value of it: a value of an attribute that no
/// longer exists means nothing, and keeping the attribute to protect them would leave admins
/// no way to retire one.
#[tracing::instrument(skip_all, fields(category_id = category_id.as_str(), attribute_id))]
pub async fn delete_attribute(
    pool: &MySqlPool,
    category_id: &CategoryId,
    attribute_id: i64,
) -> Result<(), AttributeError> {
    let mut transaction = pool.begin().await.map_err(unexpected)?;
    let lineage = lineage(&mut transaction, category_id.as_str(), Lock::Exclusive).await?;
    if lineage.is_empty() {
        return Err(AttributeError::CategoryNotFound);
    }
    own_attribute(&mut transaction, category_id, attribute_id).await?;
    sqlx::query("DELETE FROM product_attribute_value WHERE attribute_id = ?")
        .bind(attribute_id)
        .execute(&mut *transaction)
        .await
        .map_err(unexpected)?;
    sqlx::query("DELETE FROM category_attribute WHERE attribute_id = ?")
        .bind(attribute_id)
        .execute(&mut *transaction)
        .await
        .map_err(unexpected)?;
    transaction.commit().await.map_err(unexpected)?;
    Ok(())
}

/// A category's attributes, with its ancestors' first when `include_inherited`.
pub async fn list_attributes(
    pool: &MySqlPool,
    category_id: &CategoryId,
    include_inherited: bool,
) -> Result<Vec<AttributeView>, AttributeError> {
    let mut connection = pool.acquire().await.map_err(unexpected)?;
    let mut lineage = lineage(&mut connection, category_id.as_str(), Lock::None).await?;
    if lineage.is_empty() {
        return Err(AttributeError::CategoryNotFound);
    }
    if !include_inherited {
        lineage.truncate(1);
    }
    let attributes = attributes_of(&mut connection, &lineage).await?;
    Ok(rules::applicable(&lineage, attributes)
        .into_iter()
        .map(AttributeView::from)
        .collect())
}

/// A product's value of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductAttributeView {
    pub attribute_id: i64,
    pub attribute_name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SetValuesError {
    #[error("no such product")]
    ProductNotFound,
    #[error("the product has no category, so no attribute applies to it")]
    NoCategory,
    #[error("the values break the category's attribute rules")]
    Rejected(ValuesRejected),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Replaces all of a product's attribute values with `given` (attribute id, raw value),
/// checked against the attributes of its category and the category's ancestors.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str()))]
pub async fn set_product_attributes(
    pool: &MySqlPool,
    product_id: &ProductId,
    given: &[(i64, String)],
) -> Result<Vec<ProductAttributeView>, SetValuesError> {
    let mut transaction = pool.begin().await.map_err(unexpected)?;
    let category: Option<Option<String>> =
        sqlx::query_scalar("SELECT category_id FROM product WHERE product_id = ? FOR UPDATE")
            .bind(product_id.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(unexpected)?;
    let category = category
        .ok_or(SetValuesError::ProductNotFound)?
        .ok_or(SetValuesError::NoCategory)?;
    let lineage = lineage(&mut transaction, &category, Lock::Shared).await?;
    let attributes = attributes_of(&mut transaction, &lineage).await?;
    let applicable = rules::applicable(&lineage, attributes);
    let values = rules::check_values(&applicable, given).map_err(SetValuesError::Rejected)?;
    sqlx::query("DELETE FROM product_attribute_value WHERE product_id = ?")
        .bind(product_id.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(unexpected)?;
    if !values.is_empty() {
        let mut insert =
            QueryBuilder::new("INSERT INTO product_attribute_value (product_id, attribute_id, value) ");
        insert.push_values(&values, |mut row, (attribute_id, value)| {
            row.push_bind(product_id.as_str())
                .push_bind(*attribute_id)
                .push_bind(value.as_str());
        });
        insert
            .build()
            .execute(&mut *transaction)
            .await
            .map_err(unexpected)?;
    }
    transaction.commit().await.map_err(unexpected)?;
    Ok(product_values(&applicable, &values))
}

/// A product's attribute values, in the order its category lists the attributes; none when
/// the product is unknown. Values of attributes that no longer apply (the product moved to
/// another category) are not shown.
pub async fn product_attributes(
    pool: &MySqlPool,
    product_id: &ProductId,
) -> Result<Option<Vec<ProductAttributeView>>, anyhow::Error> {
    let mut connection = pool.acquire().await?;
    let category: Option<Option<String>> =
        sqlx::query_scalar("SELECT category_id FROM product WHERE product_id = ?")
            .bind(product_id.as_str())
            .fetch_optional(&mut *connection)
            .await?;
    let Some(category) = category else {
        return Ok(None);
    };
    let Some(category) = category else {
        return Ok(Some(Vec::new()));
    };
    let lineage = lineage(&mut connection, &category, Lock::None).await?;
    let attributes = attributes_of(&mut connection, &lineage).await?;
    let applicable = rules::applicable(&lineage, attributes);
    let values: Vec<(i64, String)> =
        sqlx::query_as("SELECT attribute_id, value FROM product_attribute_value WHERE product_id = ?")
            .bind(product_id.as_str())
            .fetch_all(&mut *connection)
            .await?;
    Ok(Some(product_values(&applicable, &values.into_iter().collect())))
}

fn product_values(
    applicable: &[Applicable],
    values: &std::collections::BTreeMap<i64, String>,
) -> Vec<ProductAttributeView> {
    applicable
        .iter()
        .filter_map(|applicable| {
            let attribute = &applicable.attribute;
            values
                .get(&attribute.attribute_id)
                .map(|value| ProductAttributeView {
                    attribute_id: attribute.attribute_id,
                    attribute_name: attribute.name.clone(),
                    kind: attribute.kind.as_str(),
                    value: value.clone(),
                })
        })
        .collect()
}

/// A browse filter: products whose value of the attribute is exactly this (normalized) one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeFilter {
    pub attribute_id: i64,
    pub value: String,
}

/// One browse filter the shopper got wrong: the query parameter and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterProblem {
    pub parameter: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid attribute filters")]
    Invalid(Vec<FilterProblem>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Reads `attr.<attributeId>=<value>` query parameters into filters, each value normalized by
/// its attribute's type, so `attr.7=007.50` finds the products stored with `7.5`. An id that
/// names no attribute is a problem rather than an empty page: it is a broken link or a typo.
pub async fn attribute_filters(
    pool: &MySqlPool,
    parameters: &[(String, String)],
) -> Result<Vec<AttributeFilter>, FilterError> {
    let ids: Vec<Option<i64>> = parameters
        .iter()
        .map(|(name, _)| {
            name.strip_prefix("attr.")
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| *id > 0)
        })
        .collect();
    let known: Vec<i64> = ids.iter().flatten().copied().collect();
    let attributes = if known.is_empty() {
        Vec::new()
    } else {
        let mut connection = pool.acquire().await.map_err(unexpected)?;
        let mut select = QueryBuilder::new(concat!(
            attribute_select!(),
            " FROM category_attribute WHERE attribute_id IN ("
        ));
        let mut list = select.separated(", ");
        for id in &known {
            list.push_bind(*id);
        }
        select.push(")");
        read_attributes(&mut connection, select).await?
    };
    let mut filters = Vec::new();
    let mut problems = Vec::new();
    for ((parameter, value), id) in parameters.iter().zip(ids) {
        let attribute = id.and_then(|id| attributes.iter().find(|attribute| attribute.attribute_id == id));
        let normalized = attribute
            .ok_or(InvalidAttribute::UnknownAttribute)
            .and_then(|attribute| Ok((attribute.attribute_id, attribute.normalize(value)?)));
        match normalized {
            Ok((attribute_id, value)) => filters.push(AttributeFilter { attribute_id, value }),
            Err(InvalidAttribute::UnknownAttribute) => problems.push(FilterProblem {
                parameter: parameter.clone(),
                reason: "no attribute has this id".to_owned(),
            }),
            Err(problem) => problems.push(FilterProblem {
                parameter: parameter.clone(),
                reason: problem.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(filters)
    } else {
        Err(FilterError::Invalid(problems))
    }
}

/// How a use case locks the rows of a lineage while it reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    None,
    /// Value writes: no attribute of the lineage may change until they commit.
    Shared,
    /// Attribute writes: one at a time along any lineage. Two categories where one is below
    /// the other share the upper one's row, so their writes queue there.
    Exclusive,
}

/// The category's id followed by its ancestors' up to the root; empty for an unknown
/// category. A category's parent never changes, so the lineage read before locking is the
/// lineage locked.
async fn lineage(
    connection: &mut MySqlConnection,
    category_id: &str,
    lock: Lock,
) -> Result<Vec<String>, anyhow::Error> {
    let lineage: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE lineage (category_id, parent_id, depth) AS (
             SELECT category_id, parent_id, 0 FROM category WHERE category_id = ?
             UNION ALL
             SELECT parent.category_id, parent.parent_id, lineage.depth + 1
             FROM category parent JOIN lineage ON parent.category_id = lineage.parent_id
         )
         SELECT category_id FROM lineage ORDER BY depth",
    )
    .bind(category_id)
    .fetch_all(&mut *connection)
    .await?;
    let suffix = match lock {
        Lock::None => return Ok(lineage),
        Lock::Shared => " LOCK IN SHARE MODE",
        Lock::Exclusive => " FOR UPDATE",
    };
    if !lineage.is_empty() {
        // One statement in primary key order, so two writers never take the rows they share
        // in opposite orders.
        let mut locking = QueryBuilder::new("SELECT category_id FROM category WHERE category_id IN (");
        let mut list = locking.separated(", ");
        for id in &lineage {
            list.push_bind(id.as_str());
        }
        locking.push(") ORDER BY category_id");
        locking.push(suffix);
        locking.build().fetch_all(&mut *connection).await?;
    }
    Ok(lineage)
}

/// Every category below this one, at any depth.
async fn descendants(
    connection: &mut MySqlConnection,
    category_id: &str,
) -> Result<Vec<String>, anyhow::Error> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE below (category_id) AS (
             SELECT category_id FROM category WHERE parent_id = ?
             UNION ALL
             SELECT child.category_id FROM category child JOIN below ON child.parent_id = below.category_id
         )
         SELECT category_id FROM below",
    )
    .bind(category_id)
    .fetch_all(connection)
    .await?)
}

/// Refuses a name that an attribute of the lineage or of a category below already has (other
/// than the attribute being renamed).
async fn check_name_free(
    connection: &mut MySqlConnection,
    lineage: &[String],
    name: &str,
    renamed: Option<i64>,
) -> Result<(), AttributeError> {
    let mut categories = lineage.to_vec();
    categories.extend(descendants(connection, &lineage[0]).await?);
    let others: Vec<Attribute> = attributes_of(connection, &categories)
        .await?
        .into_iter()
        .filter(|attribute| Some(attribute.attribute_id) != renamed)
        .collect();
    if rules::name_is_free(name, others.iter().map(|attribute| attribute.name.as_str())) {
        Ok(())
    } else {
        Err(AttributeError::NameTaken)
    }
}

/// An attribute the category defines itself (an inherited one is changed on its own
/// category).
async fn own_attribute(
    connection: &mut MySqlConnection,
    category_id: &CategoryId,
    attribute_id: i64,
) -> Result<Attribute, AttributeError> {
    let mut select = QueryBuilder::new(concat!(
        attribute_select!(),
        " FROM category_attribute WHERE attribute_id = "
    ));
    select
        .push_bind(attribute_id)
        .push(" AND category_id = ")
        .push_bind(category_id.as_str());
    read_attributes(connection, select)
        .await?
        .pop()
        .ok_or(AttributeError::AttributeNotFound)
}

async fn attributes_of(
    connection: &mut MySqlConnection,
    categories: &[String],
) -> Result<Vec<Attribute>, anyhow::Error> {
    if categories.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = QueryBuilder::new(concat!(
        attribute_select!(),
        " FROM category_attribute WHERE category_id IN ("
    ));
    let mut list = select.separated(", ");
    for category in categories {
        list.push_bind(category.as_str());
    }
    select.push(")");
    read_attributes(connection, select).await
}

type AttributeRow = (i64, String, String, String, bool, Option<String>, i32);

async fn read_attributes(
    connection: &mut MySqlConnection,
    mut select: QueryBuilder<sqlx::MySql>,
) -> Result<Vec<Attribute>, anyhow::Error> {
    let rows: Vec<AttributeRow> = select.build_query_as().fetch_all(connection).await?;
    rows.into_iter()
        .map(
            |(attribute_id, category_id, name, kind, required, options, position)| {
                Ok(Attribute {
                    attribute_id,
                    category_id,
                    name,
                    kind: AttributeType::parse(&kind)
                        .map_err(|_| anyhow::anyhow!("unknown attribute type {kind:?}"))?,
                    required,
                    options: options
                        .map(|options| serde_json::from_str(&options))
                        .transpose()?
                        .unwrap_or_default(),
                    position,
                })
            },
        )
        .collect()
}

/// The options column: a JSON list for an ENUM, NULL otherwise (a CHECK keeps it so).
fn options_json(kind: AttributeType, options: &[String]) -> Result<Option<String>, anyhow::Error> {
    match kind {
        AttributeType::Enum => Ok(Some(serde_json::to_string(options)?)),
        _ => Ok(None),
    }
}
