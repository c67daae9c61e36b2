//! How many units of each SKU inventory can sell now, for the lines of a cart: a port and its
//! HTTP adapter, which asks inventory's public `POST /inventory/availability` (docs/adr/0045).
//!
//! The cart only shows availability; the order saga reserves stock from events as before. So
//! an answer that does not come quickly is no answer: the cart shows "unknown" and never
//! waits or fails because inventory is slow or down.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Units available per SKU, for the SKUs inventory knows.
pub type AvailableUnits = BTreeMap<String, i64>;

/// The answer of a port, boxed so the port can be shared as a trait object.
pub type AvailabilityFuture<'a> = Pin<Box<dyn Future<Output = Option<AvailableUnits>> + Send + 'a>>;

/// Inventory's current availability of SKUs.
pub trait StockAvailability: Send + Sync + std::fmt::Debug {
    /// The available units of each of `skus` inventory knows (a SKU it does not know is left
    /// out), or `None` when it did not answer in time or answered something unreadable. Must
    /// return within the implementation's short timeout and never panic.
    fn available_units<'a>(&'a self, skus: &'a [String]) -> AvailabilityFuture<'a>;
}

/// What a cart line shows about its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineAvailability {
    /// At least the line's quantity is available.
    Available,
    /// Some, but fewer than the line's quantity.
    Insufficient,
    OutOfStock,
    /// Inventory did not answer, or does not know the SKU.
    Unknown,
}

impl LineAvailability {
    pub fn of(available: Option<i64>, quantity: u32) -> Self {
        match available {
            None => Self::Unknown,
            Some(units) if units >= i64::from(quantity) => Self::Available,
            Some(units) if units > 0 => Self::Insufficient,
            Some(_) => Self::OutOfStock,
        }
    }
}

/// No inventory configured: every line is "unknown".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInventory;

impl StockAvailability for NoInventory {
    fn available_units<'a>(&'a self, _skus: &'a [String]) -> AvailabilityFuture<'a> {
        Box::pin(async { None })
    }
}

/// Inventory's bulk endpoint over HTTP.
#[derive(Debug, Clone)]
pub struct HttpInventory {
    client: reqwest::Client,
    endpoint: String,
}

impl HttpInventory {
    /// The default time inventory has to answer.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(300);

    /// `base_url` is where inventory's routes are served (the gateway, or the API's URL).
    pub fn new(base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            endpoint: format!("{}/inventory/availability", base_url.trim_end_matches('/')),
        })
    }

    async fn ask(&self, skus: &[String]) -> anyhow::Result<AvailableUnits> {
        #[derive(Serialize)]
        struct Request<'a> {
            skus: &'a [String],
        }
        #[derive(Deserialize)]
        struct Envelope {
            data: Answer,
        }
        #[derive(Deserialize)]
        struct Answer {
            items: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            sku: String,
            available: i64,
        }
        let response = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&Request { skus })?)
            .send()
            .await?
            .error_for_status()?;
        let answer: Envelope = serde_json::from_slice(&response.bytes().await?)?;
        Ok(answer
            .data
            .items
            .into_iter()
            .map(|item| (item.sku, item.available))
            .collect())
    }
}

impl StockAvailability for HttpInventory {
    fn available_units<'a>(&'a self, skus: &'a [String]) -> AvailabilityFuture<'a> {
        Box::pin(async move {
            if skus.is_empty() {
                return Some(AvailableUnits::new());
            }
            match self.ask(skus).await {
                Ok(units) => Some(units),
                Err(error) => {
                    tracing::warn!(error = %error, endpoint = %self.endpoint, "Inventory did not answer; availability unknown");
                    None
                }
            }
        })
    }
}

/// `INVENTORY_URL` (inventory's base URL; unset: availability is always unknown) and
/// `INVENTORY_TIMEOUT_MS` (default 300).
pub fn from_env() -> anyhow::Result<std::sync::Arc<dyn StockAvailability>> {
    let millis: u64 = runtime::config::parsed_or(
        "INVENTORY_TIMEOUT_MS",
        u64::try_from(HttpInventory::DEFAULT_TIMEOUT.as_millis()).unwrap_or(300),
    )?;
    match std::env::var("INVENTORY_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        Some(url) => Ok(std::sync::Arc::new(HttpInventory::new(
            &url,
            Duration::from_millis(millis),
        )?)),
        None => {
            tracing::warn!("INVENTORY_URL is not set; cart lines show availability UNKNOWN");
            Ok(std::sync::Arc::new(NoInventory))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_available_when_inventory_has_its_quantity() {
        assert_eq!(LineAvailability::of(Some(5), 5), LineAvailability::Available);
        assert_eq!(LineAvailability::of(Some(4), 5), LineAvailability::Insufficient);
        assert_eq!(LineAvailability::of(Some(0), 1), LineAvailability::OutOfStock);
        assert_eq!(LineAvailability::of(None, 1), LineAvailability::Unknown);
    }
}
