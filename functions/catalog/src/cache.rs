//! Catalog's read cache (docs/adr/0041): a product's page (`GET /products/{id}`) and browse
//! pages without keywords (`GET /products?…`), in Redis when `REDIS_URL` is set.
//!
//! - A product's page is cached under its id, lower-cased because ids compare without case.
//!   Every write that changes a product deletes its key after the commit, and moves the browse
//!   generation on.
//! - A browse page is cached under the current browse generation and the parsed query, written
//!   in one fixed order ([`browse_key`]), so `?sort=name&page=2` and `?page=2&sort=name` share
//!   an entry. Any change to any product moves the generation on, which retires every page at
//!   once: a product's change can move it onto or off any page of any filter, and working out
//!   which would cost more than the misses. A fill that read the database before a change
//!   and writes after it writes under the old generation, which nobody reads again.
//! - Pages with keywords are not cached: their queries are as many as the words shoppers type,
//!   so their hit rate would be low, and each would take memory for its whole TTL.
//! - The TTLs are a backstop for the rare invalidation that fails (Redis down during a
//!   write), not the means of freshness.

use std::time::Duration;

use cache::{Lookup, ReadCache};
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received};

use crate::domain::{Page, Sort};
use crate::products::BrowseFilter;

/// How long a product's page is kept when nothing deletes it.
pub const PRODUCT_TTL: Duration = Duration::from_secs(120);
/// How long a browse page is kept when the generation does not move.
pub const BROWSE_TTL: Duration = Duration::from_secs(60);
/// The key of the browse generation.
const BROWSE_GENERATION: &str = "catalog:browse:generation";
/// The `cache` label of product pages on the metrics.
const PRODUCT: &str = "product";
/// The `cache` label of browse pages on the metrics.
const BROWSE: &str = "browse";

/// Catalog's cache of product and browse pages; off without Redis.
#[derive(Debug, Clone)]
pub struct CatalogCache {
    cache: ReadCache,
}

impl CatalogCache {
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

    /// The cached page of a product.
    pub async fn product(&self, product_id: &str) -> Lookup<serde_json::Value> {
        self.cache.get(PRODUCT, &product_key(product_id)).await
    }

    /// Keeps a product's page that was just read from the database.
    pub async fn keep_product(&self, product_id: &str, page: &serde_json::Value) {
        self.cache.put(&product_key(product_id), page, PRODUCT_TTL).await;
    }

    /// Where a browse page is cached and what is there: `None` for a query that is not cached
    /// (keywords) or when the cache is unavailable, so the caller does not fill it either.
    pub async fn browse(
        &self,
        filter: &BrowseFilter,
        sort: Sort,
        page: Page,
    ) -> Option<(String, Option<serde_json::Value>)> {
        if filter.keywords.is_some() || !self.cache.is_on() {
            return None;
        }
        let generation = self.cache.generation(BROWSE, BROWSE_GENERATION).await?;
        let key = browse_key(generation, filter, sort, page)?;
        match self.cache.get(BROWSE, &key).await {
            Lookup::Hit(found) => Some((key, Some(found))),
            Lookup::Miss => Some((key, None)),
            Lookup::Unavailable => None,
        }
    }

    /// Keeps a browse page under the key [`CatalogCache::browse`] gave.
    pub async fn keep_page(&self, key: &str, page: &serde_json::Value) {
        self.cache.put(key, page, BROWSE_TTL).await;
    }

    /// Forgets what a committed change to these products made stale: their pages, and every
    /// browse page.
    pub async fn forget_products<I, S>(&self, product_ids: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys: Vec<String> = product_ids
            .into_iter()
            .map(|id| product_key(id.as_ref()))
            .collect();
        self.cache.delete(PRODUCT, &keys).await;
        self.forget_browse().await;
    }

    /// Retires every browse page (a change that moves products between pages without changing
    /// any product's own page: a brand or a category).
    pub async fn forget_browse(&self) {
        self.cache.bump(BROWSE, BROWSE_GENERATION).await;
    }
}

/// The key of a product's page.
pub fn product_key(product_id: &str) -> String {
    format!("catalog:product:{}", product_id.to_ascii_lowercase())
}

/// The key of a browse page: the generation, then every part of the parsed query in a fixed
/// order, each named, so no two different queries share a key. `None` for keywords, which
/// are not cached.
pub fn browse_key(generation: u64, filter: &BrowseFilter, sort: Sort, page: Page) -> Option<String> {
    if filter.keywords.is_some() {
        return None;
    }
    let text = |value: Option<&str>| value.unwrap_or("").to_owned();
    let number = |value: Option<i64>| value.map(|minor| minor.to_string()).unwrap_or_default();
    // Attribute filters in one order, as JSON, so a value holding any character names no
    // other filter.
    let mut attributes: Vec<(i64, &str)> = filter
        .attributes
        .iter()
        .map(|attribute| (attribute.attribute_id, attribute.value.as_str()))
        .collect();
    attributes.sort_unstable();
    let attributes = serde_json::to_string(&attributes).unwrap_or_default();
    Some(format!(
        "catalog:browse:{generation}:c={}:b={}:min={}:max={}:s={sort:?}:p={}:n={}:a={attributes}",
        text(filter.category.as_ref().map(|id| id.as_str())),
        text(filter.brand.as_ref().map(|id| id.as_str())),
        number(filter.min_price),
        number(filter.max_price),
        page.number(),
        page.size(),
    ))
}

/// An event use case of catalog that changes products: which products a committed event
/// changed, so their cached pages can go.
pub trait ChangesProducts: Consumer {
    /// The ids of the products `event` changed (or may have), read after the commit.
    fn changed_products(
        pool: &MySqlPool,
        event: &Received<Self::Event>,
    ) -> impl Future<Output = Result<Vec<String>, sqlx::Error>> + Send;
}

/// A catalog consumer whose committed effect also retires the cached pages it made stale.
#[derive(Debug, Clone)]
pub struct ForgetsProducts<C> {
    consumer: C,
    cache: CatalogCache,
}

impl<C> ForgetsProducts<C> {
    pub fn new(consumer: C, cache: CatalogCache) -> Self {
        Self { consumer, cache }
    }
}

// A consumer that prepares would need its step forwarded; none of the wrapped ones does.
impl<C: ChangesProducts + Consumer<Prepared = ()>> Consumer for ForgetsProducts<C> {
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
        match C::changed_products(pool, event).await {
            Ok(products) => self.cache.forget_products(products).await,
            Err(error) => {
                // Which pages are stale is unknown: retire every browse page at least; product
                // pages live out their TTL.
                tracing::warn!(%error, "Could not read which products changed; their cached pages expire by TTL");
                self.cache.forget_browse().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BrandId, CategoryId};
    use crate::search::Keywords;

    fn page(number: u32, size: u32) -> Page {
        Page::new(number, size).expect("a valid page")
    }

    #[test]
    fn the_same_query_in_any_order_has_one_key() {
        let filter = BrowseFilter {
            category: Some(CategoryId::parse("mugs").expect("a category id")),
            min_price: Some(100),
            ..BrowseFilter::default()
        };
        let key = browse_key(3, &filter, Sort::Name, page(2, 20)).expect("cached");
        assert_eq!(
            key,
            "catalog:browse:3:c=mugs:b=:min=100:max=:s=Name:p=2:n=20:a=[]"
        );
        assert_eq!(browse_key(3, &filter.clone(), Sort::Name, page(2, 20)), Some(key));
    }

    #[test]
    fn every_part_of_the_query_and_the_generation_changes_the_key() {
        let base = BrowseFilter::default();
        let keys = [
            browse_key(1, &base, Sort::Newest, page(1, 20)),
            browse_key(2, &base, Sort::Newest, page(1, 20)),
            browse_key(1, &base, Sort::Name, page(1, 20)),
            browse_key(1, &base, Sort::Newest, page(2, 20)),
            browse_key(1, &base, Sort::Newest, page(1, 10)),
            browse_key(
                1,
                &BrowseFilter {
                    brand: Some(BrandId::parse("acme").expect("a brand id")),
                    ..BrowseFilter::default()
                },
                Sort::Newest,
                page(1, 20),
            ),
            browse_key(
                1,
                &BrowseFilter {
                    max_price: Some(100),
                    ..BrowseFilter::default()
                },
                Sort::Newest,
                page(1, 20),
            ),
            browse_key(
                1,
                &BrowseFilter {
                    min_price: Some(100),
                    ..BrowseFilter::default()
                },
                Sort::Newest,
                page(1, 20),
            ),
            browse_key(1, &with_attributes(&[(1, "red")]), Sort::Newest, page(1, 20)),
            browse_key(1, &with_attributes(&[(1, "blue")]), Sort::Newest, page(1, 20)),
            browse_key(1, &with_attributes(&[(2, "red")]), Sort::Newest, page(1, 20)),
            browse_key(
                1,
                &with_attributes(&[(1, "red"), (2, "s")]),
                Sort::Newest,
                page(1, 20),
            ),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    fn with_attributes(values: &[(i64, &str)]) -> BrowseFilter {
        BrowseFilter {
            attributes: values
                .iter()
                .map(|(attribute_id, value)| crate::attributes::AttributeFilter {
                    attribute_id: *attribute_id,
                    value: (*value).to_owned(),
                })
                .collect(),
            ..BrowseFilter::default()
        }
    }

    #[test]
    fn attribute_filters_in_any_order_have_one_key() {
        let one = with_attributes(&[(2, "s"), (1, "red")]);
        let other = with_attributes(&[(1, "red"), (2, "s")]);
        assert_eq!(
            browse_key(1, &one, Sort::Newest, page(1, 20)),
            browse_key(1, &other, Sort::Newest, page(1, 20))
        );
    }

    #[test]
    fn keyword_pages_are_not_cached() {
        let filter = BrowseFilter {
            keywords: Some(Keywords::parse("red mug").expect("keywords")),
            ..BrowseFilter::default()
        };
        assert_eq!(browse_key(1, &filter, Sort::Relevance, page(1, 20)), None);
    }

    #[test]
    fn product_keys_ignore_case_as_ids_do() {
        assert_eq!(product_key("Mug-1"), product_key("mug-1"));
    }
}
