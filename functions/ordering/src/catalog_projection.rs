//! The projection of catalog events into `ordering.product_price`.
//!
//! Events of one product arrive in order (they share a Kafka key), at least once, and may be
//! replayed from any point. Two guards make that harmless: the inbox skips an event id seen
//! before, and a change older than the newest one applied to the product is ignored, which
//! also covers replays after the inbox rows were purged.

use chrono::{DateTime, Utc};
use events::catalog::ProductEvent;
use events::value::{Money, Sku};
use sqlx::MySqlConnection;
use store::consumer::{Consumer, Received, Retryable};

/// What a catalog event means for the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    Created {
        product_id: Sku,
        name: String,
        price: Money,
    },
    PriceChanged {
        product_id: Sku,
        price: Money,
    },
    Discontinued {
        product_id: Sku,
    },
    Reactivated {
        product_id: Sku,
    },
    /// A SKU of a product with options (or the one SKU of a product without).
    SkuCreated {
        product_id: Sku,
        sku: Sku,
        name: String,
        price: Money,
        /// The price before promotions, when catalog said it (in the same currency).
        list_price: Option<Money>,
    },
    SkuPriceChanged {
        sku: Sku,
        price: Money,
        list_price: Option<Money>,
    },
    SkuDeactivated {
        sku: Sku,
    },
}

/// An event this projection cannot apply: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(String);

impl CatalogChange {
    /// What a catalog event changes, if anything. Its ids and currency were checked when it
    /// was decoded; the projection adds that a price is never negative. The base price of a
    /// product with options prices no SKU (its SKUs' own events do), so it changes nothing.
    pub fn of(event: &ProductEvent) -> Result<Option<Self>, InvalidEvent> {
        let invalid = |error: events::value::MoneyError| match error {
            events::value::MoneyError::Negative(minor) => InvalidEvent(format!("price {minor} is negative")),
            other => InvalidEvent(format!("price: {other}")),
        };
        Ok(Some(match event {
            ProductEvent::Created(created) if created.has_options => return Ok(None),
            ProductEvent::PriceChanged(changed) if changed.has_options => return Ok(None),
            ProductEvent::Created(created) => Self::Created {
                product_id: created.product_id.clone(),
                name: created.name.clone(),
                price: created.price().map_err(invalid)?,
            },
            ProductEvent::PriceChanged(changed) => Self::PriceChanged {
                product_id: changed.product_id.clone(),
                price: changed.price().map_err(invalid)?,
            },
            ProductEvent::Discontinued(discontinued) => Self::Discontinued {
                product_id: discontinued.product_id.clone(),
            },
            ProductEvent::Reactivated(reactivated) => Self::Reactivated {
                product_id: reactivated.product_id.clone(),
            },
            ProductEvent::SkuCreated(created) => Self::SkuCreated {
                product_id: created.product_id.clone(),
                sku: created.sku.clone(),
                name: created.name.clone(),
                price: created.price().map_err(invalid)?,
                list_price: list_price(created.list_price_minor, created.currency).map_err(invalid)?,
            },
            ProductEvent::SkuPriceChanged(changed) => Self::SkuPriceChanged {
                sku: changed.sku.clone(),
                price: changed.price().map_err(invalid)?,
                list_price: list_price(changed.list_price_minor, changed.currency).map_err(invalid)?,
            },
            ProductEvent::SkuDeactivated(deactivated) => Self::SkuDeactivated {
                sku: deactivated.sku.clone(),
            },
        }))
    }
}

/// The optional list price of a SKU event, checked like its selling price.
fn list_price(
    minor: Option<i64>,
    currency: events::value::Currency,
) -> Result<Option<Money>, events::value::MoneyError> {
    minor.map(|minor| Money::new(minor, currency)).transpose()
}

/// The `project-catalog-product` function.
#[derive(Debug, Clone, Copy)]
pub struct ProjectCatalogProduct;

impl Consumer for ProjectCatalogProduct {
    const NAME: &'static str = "project-catalog-product";
    type Event = ProductEvent;
    type Error = ProjectionError;
    type Prepared = ();

    /// Applies one event once. Database failures are transient; a bad event is not.
    #[tracing::instrument(skip_all, fields(product_id = %event.data.product_id()))]
    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        if let Some(change) = CatalogChange::of(&event.data)? {
            let occurred_at = event.time.unwrap_or_else(Utc::now);
            write(transaction, &change, occurred_at).await?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Invalid(#[from] InvalidEvent),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl Retryable for ProjectionError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}

async fn write(
    connection: &mut MySqlConnection,
    change: &CatalogChange,
    occurred_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
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
            .bind(product_id.as_str())
            .bind(name)
            .bind(price.minor())
            .bind(price.currency().as_str())
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
            .bind(product_id.as_str())
            .bind(price.minor())
            .bind(price.currency().as_str())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::Discontinued { product_id } => {
            sqlx::query(
                "UPDATE product_price SET orderable = FALSE, last_event_at = GREATEST(last_event_at, ?)
                 WHERE (product_id = ? OR product_of = ?) AND last_event_at <= ?",
            )
            .bind(occurred_at)
            .bind(product_id.as_str())
            .bind(product_id.as_str())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::Reactivated { product_id } => {
            sqlx::query(
                "UPDATE product_price SET orderable = TRUE, last_event_at = GREATEST(last_event_at, ?)
                 WHERE (product_id = ? OR product_of = ?) AND last_event_at <= ?",
            )
            .bind(occurred_at)
            .bind(product_id.as_str())
            .bind(product_id.as_str())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::SkuCreated {
            product_id,
            sku,
            name,
            price,
            list_price,
        } => {
            // The one SKU of a product without options is the product itself: product.created
            // wrote the same row a moment before, and this rewrites it with the same values.
            let product_of = (product_id != sku).then_some(product_id.as_str());
            sqlx::query(
                "INSERT INTO product_price (product_id, product_of, name, price_minor, list_price_minor, currency,
                                            orderable, last_event_at)
                 VALUES (?, ?, ?, ?, ?, ?, TRUE, ?)
                 ON DUPLICATE KEY UPDATE
                   product_of = VALUES(product_of),
                   name = IF(VALUES(last_event_at) >= last_event_at, VALUES(name), name),
                   price_minor = IF(VALUES(last_event_at) >= last_event_at, VALUES(price_minor), price_minor),
                   list_price_minor = IF(VALUES(last_event_at) >= last_event_at, VALUES(list_price_minor), list_price_minor),
                   currency = IF(VALUES(last_event_at) >= last_event_at, VALUES(currency), currency),
                   last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
            )
            .bind(sku.as_str())
            .bind(product_of)
            .bind(name)
            .bind(price.minor())
            .bind(list_price.map(|price| price.minor()))
            .bind(price.currency().as_str())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::SkuPriceChanged {
            sku,
            price,
            list_price,
        } => {
            sqlx::query(
                "UPDATE product_price SET price_minor = ?, list_price_minor = ?, currency = ?,
                        last_event_at = GREATEST(last_event_at, ?)
                 WHERE product_id = ? AND last_event_at <= ?",
            )
            .bind(price.minor())
            .bind(list_price.map(|price| price.minor()))
            .bind(price.currency().as_str())
            .bind(occurred_at)
            .bind(sku.as_str())
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        CatalogChange::SkuDeactivated { sku } => {
            // Final whatever its time: no later event reactivates a SKU.
            sqlx::query(
                "UPDATE product_price SET sku_active = FALSE, last_event_at = GREATEST(last_event_at, ?)
                 WHERE product_id = ?",
            )
            .bind(occurred_at)
            .bind(sku.as_str())
            .execute(connection)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{Event, EventBuilder, EventBuilderV10};
    use events::catalog::{ProductCreatedV1, ProductPriceChangedV1, ProductReactivatedV1};
    use events::{Decode, EventType};

    fn event(ty: &str, data: serde_json::Value) -> Event {
        EventBuilderV10::new()
            .id("e-1")
            .ty(ty)
            .source("commerce/catalog")
            .data("application/json", data)
            .build()
            .expect("event")
    }

    /// What the projection makes of an event, as the runner and the use case see it.
    fn change_of(event: &Event) -> Result<Option<CatalogChange>, String> {
        match ProductEvent::decode(event).map_err(|error| error.to_string())? {
            Some(read) => CatalogChange::of(&read).map_err(|error| error.to_string()),
            None => Ok(None),
        }
    }

    fn sku(id: &str) -> Sku {
        Sku::parse(id).expect("sku")
    }

    #[test]
    fn a_created_product_becomes_a_priced_orderable_line() {
        let change = change_of(&event(
            ProductCreatedV1::NAME,
            serde_json::json!({"productId": "p-1", "name": "Cup", "priceMinor": 1290, "currency": "EUR"}),
        ));
        assert_eq!(
            change,
            Ok(Some(CatalogChange::Created {
                product_id: sku("p-1"),
                name: "Cup".to_owned(),
                price: Money::parse(1290, "EUR").expect("valid")
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
                change_of(&event(ProductPriceChangedV1::NAME, data.clone())).is_err(),
                "{data}"
            );
        }
    }

    #[test]
    fn the_base_price_of_a_product_with_options_prices_no_sku_but_its_skus_do() {
        let created = serde_json::json!({"productId": "tee", "name": "Tee", "priceMinor": 1000,
                                         "currency": "EUR", "hasOptions": true});
        assert_eq!(change_of(&event(ProductCreatedV1::NAME, created)), Ok(None));
        let sku_created = serde_json::json!({"productId": "tee", "sku": "tee-1", "name": "Tee (Red)",
                                             "priceMinor": 1200, "currency": "EUR", "options": {"Colour": "Red"}});
        assert_eq!(
            change_of(&event(events::catalog::SkuCreatedV1::NAME, sku_created)),
            Ok(Some(CatalogChange::SkuCreated {
                product_id: sku("tee"),
                sku: sku("tee-1"),
                name: "Tee (Red)".to_owned(),
                price: Money::parse(1200, "EUR").expect("valid"),
                list_price: None,
            }))
        );
    }

    #[test]
    fn event_types_the_projection_does_not_need_are_ignored() {
        let change = change_of(&event("commerce.product.image-added.v1", serde_json::json!({})));
        assert_eq!(change, Ok(None));
    }

    #[test]
    fn a_reactivated_product_becomes_orderable_again() {
        let change = change_of(&event(
            ProductReactivatedV1::NAME,
            serde_json::json!({"productId": "p-1"}),
        ));
        assert_eq!(
            change,
            Ok(Some(CatalogChange::Reactivated {
                product_id: sku("p-1")
            }))
        );
    }
}
