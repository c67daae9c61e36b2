//! The projection of catalog events into `ordering.product_price`.
//!
//! Events of one product arrive in order (they share a Kafka key), at least once, and may be
//! replayed from any point. Two guards make that harmless: the inbox skips an event id seen
//! before, and a change older than the newest one applied to the product is ignored, which
//! also covers replays after the inbox rows were purged.

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Event};
use events::catalog::{
    PRODUCT_CREATED_V1, PRODUCT_DISCONTINUED_V1, PRODUCT_PRICE_CHANGED_V1, PRODUCT_REACTIVATED_V1,
    ProductCreatedV1, ProductDiscontinuedV1, ProductPriceChangedV1, ProductReactivatedV1,
};
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::MySqlPool;
use store::inbox::{self, Claim};

/// The name this consumer records in the inbox.
pub const CONSUMER: &str = "project-catalog-product";

/// A price in integer minor units of an ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    minor: i64,
    currency: [u8; 3],
}

impl Price {
    pub fn new(minor: i64, currency: &str) -> Result<Self, InvalidEvent> {
        if minor < 0 {
            return Err(InvalidEvent(format!("price {minor} is negative")));
        }
        let bytes = currency.as_bytes();
        match <[u8; 3]>::try_from(bytes) {
            Ok(code) if code.iter().all(u8::is_ascii_uppercase) => Ok(Self {
                minor,
                currency: code,
            }),
            _ => Err(InvalidEvent(format!(
                "currency {currency:?} is not an ISO 4217 code"
            ))),
        }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> &str {
        // Built only from three ASCII uppercase letters.
        std::str::from_utf8(&self.currency).unwrap_or("XXX")
    }
}

/// What a catalog event means for the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    Created {
        product_id: String,
        name: String,
        price: Price,
    },
    PriceChanged {
        product_id: String,
        price: Price,
    },
    Discontinued {
        product_id: String,
    },
    Reactivated {
        product_id: String,
    },
}

/// An event this projection cannot apply: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(String);

impl CatalogChange {
    /// Reads a catalog event. `Ok(None)` for event types the projection does not need, so the
    /// catalog can publish new kinds of events without breaking ordering.
    pub fn from_event(event: &Event) -> Result<Option<Self>, InvalidEvent> {
        let invalid = |error: events::envelope::DataError| InvalidEvent(format!("{}: {error}", event.ty()));
        let change = match event.ty() {
            PRODUCT_CREATED_V1 => {
                let data: ProductCreatedV1 = events::envelope::data_json(event).map_err(invalid)?;
                Self::Created {
                    price: Price::new(data.price_minor, &data.currency)?,
                    product_id: non_empty(data.product_id)?,
                    name: data.name,
                }
            }
            PRODUCT_PRICE_CHANGED_V1 => {
                let data: ProductPriceChangedV1 = events::envelope::data_json(event).map_err(invalid)?;
                Self::PriceChanged {
                    price: Price::new(data.price_minor, &data.currency)?,
                    product_id: non_empty(data.product_id)?,
                }
            }
            PRODUCT_DISCONTINUED_V1 => {
                let data: ProductDiscontinuedV1 = events::envelope::data_json(event).map_err(invalid)?;
                Self::Discontinued {
                    product_id: non_empty(data.product_id)?,
                }
            }
            PRODUCT_REACTIVATED_V1 => {
                let data: ProductReactivatedV1 = events::envelope::data_json(event).map_err(invalid)?;
                Self::Reactivated {
                    product_id: non_empty(data.product_id)?,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(change))
    }
}

fn non_empty(product_id: String) -> Result<String, InvalidEvent> {
    if product_id.trim().is_empty() || product_id.len() > 64 {
        return Err(InvalidEvent(format!(
            "product id {product_id:?} is empty or longer than 64 characters"
        )));
    }
    Ok(product_id)
}

/// The `project-catalog-product` function.
#[derive(Debug, Clone)]
pub struct ProjectCatalogProduct {
    pool: MySqlPool,
}

impl ProjectCatalogProduct {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Applies one event once. Database failures are transient; a bad event is not.
    #[tracing::instrument(skip_all, fields(product_id))]
    pub async fn apply(&self, event: &Event) -> Result<Applied, ProjectionError> {
        let Some(change) = CatalogChange::from_event(event)? else {
            return Ok(Applied::Ignored);
        };
        let occurred_at = event.time().copied().unwrap_or_else(Utc::now);
        let mut transaction = match inbox::claim(&self.pool, CONSUMER, event.id()).await? {
            Claim::New(transaction) => transaction,
            Claim::AlreadyProcessed => return Ok(Applied::Duplicate),
        };
        write(&mut transaction, &change, occurred_at).await?;
        transaction.commit().await?;
        Ok(Applied::Changed)
    }
}

/// What [`ProjectCatalogProduct::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Duplicate,
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Invalid(#[from] InvalidEvent),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
}

async fn write(
    connection: &mut sqlx::MySqlConnection,
    change: &CatalogChange,
    occurred_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    tracing::Span::current().record(
        "product_id",
        match change {
            CatalogChange::Created { product_id, .. }
            | CatalogChange::PriceChanged { product_id, .. }
            | CatalogChange::Discontinued { product_id }
            | CatalogChange::Reactivated { product_id } => product_id.as_str(),
        },
    );
    // Each statement only moves a row forward in time: an update carries the guard in its
    // WHERE clause, an insert of a product never seen before has nothing to be older than.
    match change {
        CatalogChange::Created {
            product_id,
            name,
            price,
        } => {
            sqlx::query(
                "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at)
                 VALUES (?, ?, ?, ?, TRUE, ?)
                 ON DUPLICATE KEY UPDATE
                   name = IF(VALUES(last_event_at) >= last_event_at, VALUES(name), name),
                   price_minor = IF(VALUES(last_event_at) >= last_event_at, VALUES(price_minor), price_minor),
                   currency = IF(VALUES(last_event_at) >= last_event_at, VALUES(currency), currency),
                   last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
            )
            .bind(product_id)
            .bind(name)
            .bind(price.minor())
            .bind(price.currency())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::PriceChanged { product_id, price } => {
            sqlx::query(
                "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at)
                 VALUES (?, NULL, ?, ?, TRUE, ?)
                 ON DUPLICATE KEY UPDATE
                   price_minor = IF(VALUES(last_event_at) >= last_event_at, VALUES(price_minor), price_minor),
                   currency = IF(VALUES(last_event_at) >= last_event_at, VALUES(currency), currency),
                   last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
            )
            .bind(product_id)
            .bind(price.minor())
            .bind(price.currency())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::Discontinued { product_id } => {
            sqlx::query(
                "UPDATE product_price SET orderable = FALSE, last_event_at = GREATEST(last_event_at, ?)
                 WHERE product_id = ? AND last_event_at <= ?",
            )
            .bind(occurred_at)
            .bind(product_id)
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::Reactivated { product_id } => {
            sqlx::query(
                "UPDATE product_price SET orderable = TRUE, last_event_at = GREATEST(last_event_at, ?)
                 WHERE product_id = ? AND last_event_at <= ?",
            )
            .bind(occurred_at)
            .bind(product_id)
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
    }
    Ok(())
}

impl EventHandler for ProjectCatalogProduct {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        match self.apply(event).await {
            Ok(Applied::Changed) => Outcome::Ack,
            Ok(Applied::Duplicate) => {
                tracing::info!("Event already projected; nothing to do");
                Outcome::Ack
            }
            Ok(Applied::Ignored) => Outcome::Ack,
            Err(ProjectionError::Invalid(reason)) => Outcome::Reject(reason.to_string()),
            Err(ProjectionError::Database(error)) => Outcome::Retry(format!("the database failed: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};

    fn event(ty: &str, data: serde_json::Value) -> Event {
        EventBuilderV10::new()
            .id("e-1")
            .ty(ty)
            .source("commerce/catalog")
            .data("application/json", data)
            .build()
            .expect("event")
    }

    #[test]
    fn a_created_product_becomes_a_priced_orderable_line() {
        let change = CatalogChange::from_event(&event(
            PRODUCT_CREATED_V1,
            serde_json::json!({"productId": "p-1", "name": "Cup", "priceMinor": 1290, "currency": "EUR"}),
        ));
        assert_eq!(
            change,
            Ok(Some(CatalogChange::Created {
                product_id: "p-1".to_owned(),
                name: "Cup".to_owned(),
                price: Price::new(1290, "EUR").expect("valid")
            }))
        );
    }

    #[test]
    fn negative_prices_bad_currencies_and_missing_fields_are_invalid() {
        for data in [
            serde_json::json!({"productId": "p-1", "priceMinor": -1, "currency": "EUR"}),
            serde_json::json!({"productId": "p-1", "priceMinor": 100, "currency": "euro"}),
            serde_json::json!({"productId": "p-1", "currency": "EUR"}),
            serde_json::json!({"productId": "", "priceMinor": 100, "currency": "EUR"}),
        ] {
            assert!(
                CatalogChange::from_event(&event(PRODUCT_PRICE_CHANGED_V1, data.clone())).is_err(),
                "{data}"
            );
        }
    }

    #[test]
    fn event_types_the_projection_does_not_need_are_ignored() {
        let change =
            CatalogChange::from_event(&event("commerce.product.image-added.v1", serde_json::json!({})));
        assert_eq!(change, Ok(None));
    }

    #[test]
    fn a_reactivated_product_becomes_orderable_again() {
        let change = CatalogChange::from_event(&event(
            PRODUCT_REACTIVATED_V1,
            serde_json::json!({"productId": "p-1"}),
        ));
        assert_eq!(
            change,
            Ok(Some(CatalogChange::Reactivated {
                product_id: "p-1".to_owned()
            }))
        );
    }
}
