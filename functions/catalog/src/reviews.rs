//! Reviews and likes. A review is written by the buyer of a confirmed order line of the
//! product (catalog knows the lines from `order.confirmed`), one per order line; only its
//! author edits or deletes it. Likes on products and on reviews are a set of users: liking
//! twice is one like, and unliking what was not liked changes nothing, so both requests are
//! idempotent. Every change keeps the product's (or review's) counters in the same
//! transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::mariadb::{DUPLICATE_KEY, error_number};
use uuid::Uuid;

use crate::domain::{Page, ProductId, Rating, Text};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    pub review_id: String,
    pub product_id: String,
    pub order_id: String,
    pub sku: String,
    pub user_id: String,
    pub rating: i8,
    pub title: String,
    pub content: String,
    pub like_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type ReviewRow = (
    String,
    String,
    String,
    String,
    String,
    i8,
    String,
    String,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
);

macro_rules! review_columns {
    () => {
        "review_id, product_id, order_id, sku, user_id, rating, title, content, like_count, created_at, updated_at"
    };
}

fn view(row: ReviewRow) -> ReviewView {
    let (
        review_id,
        product_id,
        order_id,
        sku,
        user_id,
        rating,
        title,
        content,
        like_count,
        created_at,
        updated_at,
    ) = row;
    ReviewView {
        review_id,
        product_id,
        order_id,
        sku,
        user_id,
        rating,
        title,
        content,
        like_count,
        created_at,
        updated_at,
    }
}

/// A review as its author writes it.
#[derive(Debug, Clone)]
pub struct ReviewText {
    pub rating: Rating,
    pub title: Text,
    pub content: Text,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such product")]
    ProductNotFound,
    #[error("no such review")]
    ReviewNotFound,
    #[error("only a buyer of a confirmed order of the product may review it")]
    NotABuyer,
    #[error("the order has several SKUs of the product; name the one reviewed")]
    SkuRequired,
    #[error("this order line has a review already")]
    AlreadyReviewed,
    #[error("only the review's author may change it")]
    NotTheAuthor,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ReviewError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

async fn product_exists(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<bool, sqlx::Error> {
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM product WHERE product_id = ?")
        .bind(product_id.as_str())
        .fetch_one(connection)
        .await?;
    Ok(found > 0)
}

/// Writes the buyer's review of an order line of the product.
#[tracing::instrument(skip_all, fields(product_id = product_id.as_str(), order_id))]
pub async fn write_review(
    pool: &MySqlPool,
    user_id: Uuid,
    product_id: &ProductId,
    order_id: &str,
    sku: Option<&str>,
    text: &ReviewText,
) -> Result<ReviewView, ReviewError> {
    let mut transaction = pool.begin().await?;
    if !product_exists(&mut transaction, product_id).await? {
        return Err(ReviewError::ProductNotFound);
    }
    let lines: Vec<String> = sqlx::query_scalar(
        "SELECT sku FROM sold_line WHERE order_id = ? AND user_id = ? AND product_id = ? ORDER BY sku",
    )
    .bind(order_id)
    .bind(user_id.to_string())
    .bind(product_id.as_str())
    .fetch_all(&mut *transaction)
    .await?;
    let line = match (sku, lines.as_slice()) {
        (_, []) => return Err(ReviewError::NotABuyer),
        (None, [only]) => only.clone(),
        (None, _) => return Err(ReviewError::SkuRequired),
        (Some(sku), lines) => lines
            .iter()
            .find(|line| line.as_str() == sku)
            .cloned()
            .ok_or(ReviewError::NotABuyer)?,
    };
    let review_id = Uuid::now_v7().to_string();
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO review (review_id, product_id, order_id, sku, user_id, rating, title, content, status,
                             created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'VISIBLE', ?, ?)",
    )
    .bind(&review_id)
    .bind(product_id.as_str())
    .bind(order_id)
    .bind(&line)
    .bind(user_id.to_string())
    .bind(text.rating.stars())
    .bind(text.title.as_str())
    .bind(text.content.as_str())
    .bind(now)
    .bind(now)
    .execute(&mut *transaction)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if error_number(&error) == Some(DUPLICATE_KEY) => {
            return Err(ReviewError::AlreadyReviewed);
        }
        Err(error) => return Err(error.into()),
    }
    sqlx::query("UPDATE product SET rating_sum = rating_sum + ?, review_count = review_count + 1 WHERE product_id = ?")
        .bind(text.rating.stars())
        .bind(product_id.as_str())
        .execute(&mut *transaction)
        .await?;
    let review = load_review(&mut transaction, &review_id, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the review just written is missing"))?;
    transaction.commit().await?;
    Ok(review)
}

async fn load_review(
    connection: &mut MySqlConnection,
    review_id: &str,
    for_update: bool,
) -> Result<Option<ReviewView>, sqlx::Error> {
    let sql = if for_update {
        concat!(
            "SELECT ",
            review_columns!(),
            " FROM review WHERE review_id = ? AND status = 'VISIBLE' FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            review_columns!(),
            " FROM review WHERE review_id = ? AND status = 'VISIBLE'"
        )
    };
    let row: Option<ReviewRow> = sqlx::query_as(sql)
        .bind(review_id)
        .fetch_optional(connection)
        .await?;
    Ok(row.map(view))
}

/// The author's visible review, locked, or why it cannot be changed.
async fn authors_review(
    connection: &mut MySqlConnection,
    user_id: Uuid,
    review_id: &str,
) -> Result<ReviewView, ReviewError> {
    // Review ids are ASCII (the column too); anything else names no review, and MariaDB
    // refuses to compare it with the column at all.
    if !review_id.is_ascii() {
        return Err(ReviewError::ReviewNotFound);
    }
    let review = load_review(connection, review_id, true)
        .await?
        .ok_or(ReviewError::ReviewNotFound)?;
    if review.user_id != user_id.to_string() {
        return Err(ReviewError::NotTheAuthor);
    }
    Ok(review)
}

/// Replaces the rating and text of the author's review.
pub async fn edit_review(
    pool: &MySqlPool,
    user_id: Uuid,
    review_id: &str,
    text: &ReviewText,
) -> Result<ReviewView, ReviewError> {
    let mut transaction = pool.begin().await?;
    let review = authors_review(&mut transaction, user_id, review_id).await?;
    sqlx::query("UPDATE review SET rating = ?, title = ?, content = ?, updated_at = ? WHERE review_id = ?")
        .bind(text.rating.stars())
        .bind(text.title.as_str())
        .bind(text.content.as_str())
        .bind(Utc::now())
        .bind(review_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("UPDATE product SET rating_sum = rating_sum - ? + ? WHERE product_id = ?")
        .bind(review.rating)
        .bind(text.rating.stars())
        .bind(&review.product_id)
        .execute(&mut *transaction)
        .await?;
    let edited = load_review(&mut transaction, review_id, false)
        .await?
        .ok_or(ReviewError::ReviewNotFound)?;
    transaction.commit().await?;
    Ok(edited)
}

/// Deletes the author's review (it no longer shows or counts; its order line stays reviewed);
/// answers the id of the reviewed product, whose rating changed.
pub async fn delete_review(pool: &MySqlPool, user_id: Uuid, review_id: &str) -> Result<String, ReviewError> {
    let mut transaction = pool.begin().await?;
    let review = authors_review(&mut transaction, user_id, review_id).await?;
    sqlx::query("UPDATE review SET status = 'DELETED', updated_at = ? WHERE review_id = ?")
        .bind(Utc::now())
        .bind(review_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("UPDATE product SET rating_sum = rating_sum - ?, review_count = review_count - 1 WHERE product_id = ?")
        .bind(review.rating)
        .bind(&review.product_id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(review.product_id)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewPage {
    pub reviews: Vec<ReviewView>,
    pub page: u32,
    pub size: u32,
    pub total: i64,
}

/// A product's visible reviews, newest first.
pub async fn list_reviews(
    pool: &MySqlPool,
    product_id: &ProductId,
    page: Page,
) -> Result<ReviewPage, ReviewError> {
    let mut connection = pool.acquire().await?;
    if !product_exists(&mut connection, product_id).await? {
        return Err(ReviewError::ProductNotFound);
    }
    let rows: Vec<ReviewRow> = sqlx::query_as(concat!(
        "SELECT ",
        review_columns!(),
        " FROM review WHERE product_id = ? AND status = 'VISIBLE'
          ORDER BY created_at DESC, review_id DESC LIMIT ? OFFSET ?"
    ))
    .bind(product_id.as_str())
    .bind(page.size())
    .bind(page.offset())
    .fetch_all(&mut *connection)
    .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM review WHERE product_id = ? AND status = 'VISIBLE'")
            .bind(product_id.as_str())
            .fetch_one(&mut *connection)
            .await?;
    Ok(ReviewPage {
        reviews: rows.into_iter().map(view).collect(),
        page: page.number(),
        size: page.size(),
        total,
    })
}

/// Whether the caller likes the thing now, and how many do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Liked {
    pub liked: bool,
    pub like_count: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum LikeError {
    #[error("nothing to like here")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for LikeError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// What can be liked: a product, or a visible review.
#[derive(Debug, Clone, Copy)]
pub enum Likeable<'a> {
    Product(&'a str),
    Review(&'a str),
}

/// Sets whether the user likes a product or review; a second like or unlike changes nothing.
pub async fn set_like(
    pool: &MySqlPool,
    user_id: Uuid,
    target: Likeable<'_>,
    like: bool,
) -> Result<Liked, LikeError> {
    let (id, exists_sql, like_sql, unlike_sql, count_sql, counter_sql) = match target {
        Likeable::Product(id) => (
            id,
            "SELECT COUNT(*) FROM product WHERE product_id = ? FOR UPDATE",
            "INSERT IGNORE INTO product_like (product_id, user_id) VALUES (?, ?)",
            "DELETE FROM product_like WHERE product_id = ? AND user_id = ?",
            "UPDATE product SET like_count = like_count + ? WHERE product_id = ?",
            "SELECT like_count FROM product WHERE product_id = ?",
        ),
        Likeable::Review(id) => (
            id,
            "SELECT COUNT(*) FROM review WHERE review_id = ? AND status = 'VISIBLE' FOR UPDATE",
            "INSERT IGNORE INTO review_like (review_id, user_id) VALUES (?, ?)",
            "DELETE FROM review_like WHERE review_id = ? AND user_id = ?",
            "UPDATE review SET like_count = like_count + ? WHERE review_id = ?",
            "SELECT like_count FROM review WHERE review_id = ?",
        ),
    };
    // Ids are ASCII; anything else names nothing (and cannot be compared with an ASCII column).
    if !id.is_ascii() {
        return Err(LikeError::NotFound);
    }
    let mut transaction = pool.begin().await?;
    let exists: i64 = sqlx::query_scalar(exists_sql)
        .bind(id)
        .fetch_one(&mut *transaction)
        .await?;
    if exists == 0 {
        return Err(LikeError::NotFound);
    }
    let changed = sqlx::query(if like { like_sql } else { unlike_sql })
        .bind(id)
        .bind(user_id.to_string())
        .execute(&mut *transaction)
        .await?;
    if changed.rows_affected() == 1 {
        sqlx::query(count_sql)
            .bind(if like { 1 } else { -1 })
            .bind(id)
            .execute(&mut *transaction)
            .await?;
    }
    let like_count: i32 = sqlx::query_scalar(counter_sql)
        .bind(id)
        .fetch_one(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(Liked {
        liked: like,
        like_count,
    })
}
