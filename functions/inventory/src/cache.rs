//! Inventory's read cache (docs/adr/0041): what is available of a SKU, for
//! `GET /inventory/{sku}` and `POST /inventory/availability`, in Redis when `REDIS_URL` is set.
//!
//! Each SKU's two counters are cached under the SKU, lower-cased because SKUs compare without
//! case, so a cart's bulk read and a product page's single read share entries, and a cart
//! reads every SKU it needs in one round trip and only the missing ones from MariaDB. Every
//! change to a SKU's stock deletes its key after the commit: the HTTP writes do it themselves,
//! the event functions through [`ForgetsAvailability`], and the expiry sweep with the orders it
//! released. SKUs inventory does not know are never cached, so a SKU opened later is seen at
//! once. Availability is advisory (a reservation decides under row locks), and the TTL is a
//! backstop for a delete that failed.

use std::collections::HashMap;
use std::time::Duration;

use cache::{Lookup, ReadCache};
use serde::{Deserialize, Serialize};
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received};

use crate::domain::{Levels, Sku, SkuList};
use crate::stock::{self, Availability, BulkAvailability};

/// How long a SKU's counters are kept when nothing deletes them.
pub const AVAILABILITY_TTL: Duration = Duration::from_secs(30);
/// The `cache` label on the metrics.
const AVAILABILITY: &str = "availability";

/// The counters of one SKU as cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Cached {
    on_hand: i64,
    reserved: i64,
}

impl From<&Availability> for Cached {
    fn from(availability: &Availability) -> Self {
        Self {
            on_hand: availability.on_hand,
            reserved: availability.reserved,
        }
    }
}

impl From<Cached> for Levels {
    fn from(cached: Cached) -> Self {
        Levels {
            on_hand: cached.on_hand,
            reserved: cached.reserved,
        }
    }
}

/// The key of a SKU's counters.
pub fn availability_key(sku: &str) -> String {
    format!("inventory:availability:{}", sku.to_ascii_lowercase())
}

/// Inventory's cache of availability; off without Redis.
#[derive(Debug, Clone)]
pub struct StockCache {
    cache: ReadCache,
}

impl StockCache {
    pub fn new(cache: ReadCache) -> Self {
        Self { cache }
    }

    /// No cache: every read goes to the database.
    pub fn off() -> Self {
        Self::new(ReadCache::off())
    }

    /// The cache on `REDIS_URL`, or off without it.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self::new(ReadCache::from_env("commerce:")?))
    }

    /// The underlying cache (its counts, for tests and benchmarks).
    pub fn read_cache(&self) -> &ReadCache {
        &self.cache
    }

    /// What is available of `sku`, from the cache or else the database (then cached);
    /// `None` when inventory does not know it.
    pub async fn availability(&self, pool: &MySqlPool, sku: &Sku) -> anyhow::Result<Option<Availability>> {
        let key = availability_key(sku.as_str());
        let fill = match self.cache.get::<Cached>(AVAILABILITY, &key).await {
            Lookup::Hit(cached) => return Ok(Some(Availability::of(sku, cached.into()))),
            Lookup::Miss => true,
            Lookup::Unavailable => false,
        };
        let found = stock::availability(pool, sku).await?;
        if fill && let Some(availability) = &found {
            self.cache
                .put(&key, &Cached::from(availability), AVAILABILITY_TTL)
                .await;
        }
        Ok(found)
    }

    /// What is available of every SKU of `skus`: the cached ones from one round trip to
    /// Redis, the others with one query (then cached).
    pub async fn availability_of(
        &self,
        pool: &MySqlPool,
        skus: &SkuList,
    ) -> anyhow::Result<BulkAvailability> {
        let keys: Vec<String> = skus
            .skus()
            .iter()
            .map(|sku| availability_key(sku.as_str()))
            .collect();
        let Some(cached) = self.cache.get_many::<Cached>(AVAILABILITY, &keys).await else {
            return stock::availability_of(pool, skus).await;
        };
        let missing: Vec<Option<&str>> = skus
            .skus()
            .iter()
            .zip(&cached)
            .filter(|(_, cached)| cached.is_none())
            .map(|(sku, _)| Some(sku.as_str()))
            .collect();
        let mut read: HashMap<String, Availability> = HashMap::new();
        if !missing.is_empty() {
            let missing = SkuList::parse(&missing)
                .map_err(|problems| anyhow::anyhow!("a part of a valid SKU list is invalid: {problems:?}"))?;
            let found = stock::availability_of(pool, &missing).await?;
            let fills: Vec<(String, Cached)> = found
                .items
                .iter()
                .map(|item| (availability_key(&item.sku), Cached::from(item)))
                .collect();
            self.cache.put_many(&fills, AVAILABILITY_TTL).await;
            read = found
                .items
                .into_iter()
                .map(|item| (item.sku.to_ascii_lowercase(), item))
                .collect();
        }
        let mut answer = BulkAvailability {
            items: Vec::new(),
            unknown: Vec::new(),
        };
        for (sku, cached) in skus.skus().iter().zip(cached) {
            match cached {
                Some(cached) => answer.items.push(Availability::of(sku, cached.into())),
                None => match read.remove(&sku.as_str().to_ascii_lowercase()) {
                    Some(item) => answer.items.push(item),
                    None => answer.unknown.push(sku.as_str().to_owned()),
                },
            }
        }
        Ok(answer)
    }

    /// Forgets the counters of SKUs whose stock a committed change moved.
    pub async fn forget<I, S>(&self, skus: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys: Vec<String> = skus
            .into_iter()
            .map(|sku| availability_key(sku.as_ref()))
            .collect();
        self.cache.delete(AVAILABILITY, &keys).await;
    }

    /// Forgets the counters of every SKU of these orders' reservations.
    pub async fn forget_orders(&self, pool: &MySqlPool, order_ids: &[String]) {
        match skus_of_orders(pool, order_ids).await {
            Ok(skus) => self.forget(skus).await,
            Err(error) => {
                tracing::warn!(%error, "Could not read which SKUs changed; their cached availability expires by TTL");
            }
        }
    }
}

/// The SKUs of the reservations of `order_ids`.
async fn skus_of_orders(pool: &MySqlPool, order_ids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::QueryBuilder::new("SELECT DISTINCT sku FROM reservation_line WHERE order_id IN (");
    let mut ids = query.separated(", ");
    for order_id in order_ids {
        ids.push_bind(order_id.as_str());
    }
    query.push(")");
    query.build_query_scalar().fetch_all(pool).await
}

/// An event use case of inventory that changes stock: which SKUs a committed event moved.
pub trait ChangesStock: Consumer {
    /// The SKUs `event` changed (or may have), read after the commit.
    fn changed_skus(
        pool: &MySqlPool,
        event: &Received<Self::Event>,
    ) -> impl Future<Output = Result<Vec<String>, sqlx::Error>> + Send;
}

/// An inventory consumer whose committed effect also forgets the cached availability it
/// changed.
#[derive(Debug, Clone)]
pub struct ForgetsAvailability<C> {
    consumer: C,
    cache: StockCache,
}

impl<C> ForgetsAvailability<C> {
    pub fn new(consumer: C, cache: StockCache) -> Self {
        Self { consumer, cache }
    }
}

// A consumer that prepares would need its step forwarded; none of the wrapped ones does.
impl<C: ChangesStock + Consumer<Prepared = ()>> Consumer for ForgetsAvailability<C> {
    const NAME: &'static str = C::NAME;
    const APPLIES_BATCHES: bool = C::APPLIES_BATCHES;
    type Event = C::Event;
    type Error = C::Error;
    type Prepared = ();

    fn wants(&self, event: &Self::Event) -> bool {
        self.consumer.wants(event)
    }

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        self.consumer.apply(transaction, event).await
    }

    async fn after_rollback(
        &self,
        pool: &MySqlPool,
        event: &Received<Self::Event>,
        error: &Self::Error,
    ) -> Result<(), Self::Error> {
        self.consumer.after_rollback(pool, event, error).await
    }

    async fn after_commit(&self, pool: &MySqlPool, event: &Received<Self::Event>) {
        match C::changed_skus(pool, event).await {
            Ok(skus) => self.cache.forget(skus).await,
            Err(error) => {
                tracing::warn!(%error, "Could not read which SKUs changed; their cached availability expires by TTL");
            }
        }
    }
}

/// The SKUs of one order's reservation.
pub(crate) async fn skus_of_order(pool: &MySqlPool, order_id: &str) -> Result<Vec<String>, sqlx::Error> {
    skus_of_orders(pool, &[order_id.to_owned()]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_as_skus_do() {
        assert_eq!(availability_key("MUG-1"), availability_key("mug-1"));
        assert_eq!(availability_key("mug-1"), "inventory:availability:mug-1");
    }

    #[test]
    fn cached_counters_keep_both_numbers() {
        let availability = Availability {
            sku: "mug".to_owned(),
            on_hand: 7,
            reserved: 2,
            available: 5,
        };
        let cached = Cached::from(&availability);
        let text = serde_json::to_string(&cached).expect("serialise");
        let back: Cached = serde_json::from_str(&text).expect("read back");
        assert_eq!(
            Levels::from(back),
            Levels {
                on_hand: 7,
                reserved: 2
            }
        );
    }
}
