//! The browsing shopper against a catalog filled by `catalog-seed`: the navigation (category
//! tree and brands), a category with a sort and a price range, a brand, keyword search in
//! Korean and English, product pages, a SKU chosen by its options, and the availability of
//! the product's SKUs in one call.
//!
//! The words, categories and brands come from `catalog::seed`, the vocabulary the seeded
//! products were generated from, so searches find what a shopper would find. A page with no
//! products is a valid answer (a search for something the shop does not sell); only a 4xx,
//! a 5xx or no answer counts as a failure, which Goose records by itself.

use std::sync::OnceLock;

use catalog::seed::{BRANDS, CATEGORIES, KINDS};
use goose::prelude::*;
use serde_json::{Value, json};

use crate::{Session, json_of, send};

/// Every order `GET /products` knows (README, docs/adr/0040).
const SORTS: &[&str] = &[
    "relevance",
    "newest",
    "price_asc",
    "price_desc",
    "popularity",
    "best_selling",
    "rating",
    "review_count",
    "recommended",
    "name",
];

/// Searches for goods the seed never makes. Shoppers ask for things a shop does not sell,
/// and the empty page they get must not count as a failure.
const MISSES: &[&str] = &["우산", "Umbrella", "자전거", "Bicycle"];

/// How many products a list page shows (the API's default).
const PAGE_SIZE: usize = 20;

/// The SKUs `POST /inventory/availability` accepts in one call.
const MAX_AVAILABILITY_SKUS: usize = 100;

/// A small random source per user. splitmix64 is enough to spread choices, and keeping it in
/// the session avoids a shared generator that every user would contend for.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    /// A generator seeded from a fresh UUIDv7, whose low bits are random, so that no two
    /// users walk the catalog in step.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().as_u128() as u64)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// True with the given chance in percent.
    pub fn percent(&mut self, chance: usize) -> bool {
        self.below(100) < chance
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

impl Default for Dice {
    fn default() -> Self {
        Self::new()
    }
}

/// The sorts the shoppers use: all of [`SORTS`], or the ones `LOAD_SORTS` names
/// (comma-separated). A stack older than docs/adr/0040 answers 400 to the popularity and
/// rating orders, and the variable lets a run against it measure the orders it has.
fn sorts() -> &'static [String] {
    static CHOSEN: OnceLock<Vec<String>> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let wanted = std::env::var("LOAD_SORTS").unwrap_or_default();
        let chosen: Vec<String> = wanted
            .split(',')
            .map(str::trim)
            .filter(|sort| SORTS.contains(sort))
            .map(str::to_owned)
            .collect();
        if chosen.is_empty() {
            SORTS.iter().map(|sort| (*sort).to_owned()).collect()
        } else {
            chosen
        }
    })
}

/// Runs `choose` with the user's dice; a user without a session gets fresh dice.
fn roll<T>(user: &mut GooseUser, choose: impl FnOnce(&mut Dice) -> T) -> T {
    match user.get_session_data_mut::<Session>() {
        Some(session) => choose(&mut session.dice),
        None => choose(&mut Dice::new()),
    }
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Whether `category` is `ancestor` or lies below it in the seed's tree.
fn within(category: &str, ancestor: &str) -> bool {
    let mut current = Some(category);
    while let Some(id) = current {
        if id == ancestor {
            return true;
        }
        current = CATEGORIES
            .iter()
            .find(|(candidate, _, _)| *candidate == id)
            .and_then(|(_, _, parent)| *parent);
    }
    false
}

/// A price filter a shopper might set on a category, in won: none at all half the time,
/// otherwise a ceiling or a band inside the prices of the kinds sold there. Bounds are
/// rounded to 1,000 won, as a person would type them.
fn price_filter(dice: &mut Dice, category: &str) -> String {
    let (low, high) = KINDS
        .iter()
        .filter(|kind| within(kind.category, category))
        .fold((i64::MAX, 0_i64), |(low, high), kind| {
            (low.min(kind.price.0), high.max(kind.price.1))
        });
    if low >= high || dice.percent(50) {
        return String::new();
    }
    let span = (high - low) as u64;
    // The floor in the lower half of the range, rounded down; the ceiling a fifth to seven
    // tenths of the range above it, rounded up, so the band is never empty.
    let from = (low + (dice.next() % (span / 2).max(1)) as i64) / 1_000 * 1_000;
    let above = (span / 5 + dice.next() % (span / 2).max(1)) as i64;
    let to = ((from + above).min(high) / 1_000 + 1) * 1_000;
    if dice.percent(50) {
        format!("&maxPrice={to}")
    } else {
        format!("&minPrice={from}&maxPrice={to}")
    }
}

/// A search a shopper might type: a kind of goods in Korean or English, a brand, a brand
/// with a kind, or now and then something the shop does not sell.
fn search_words(dice: &mut Dice) -> String {
    let kind = dice.pick(KINDS).copied();
    let (_, brand_korean, brand_english) = dice.pick(BRANDS).copied().unwrap_or(("", "", ""));
    let korean = kind
        .and_then(|kind| dice.pick(kind.korean).copied())
        .unwrap_or("이어폰");
    let english = kind
        .and_then(|kind| dice.pick(kind.english).copied())
        .unwrap_or("Earphones");
    match dice.below(20) {
        0..=6 => korean.to_owned(),
        7..=12 => english.to_owned(),
        // Shoppers often type English in lower case.
        13 => english.to_lowercase(),
        14 => brand_korean.to_owned(),
        15 => brand_english.to_owned(),
        16 => format!("{brand_korean} {korean}"),
        17 => format!("{brand_english} {english}"),
        _ => dice.pick(MISSES).copied().unwrap_or("우산").to_owned(),
    }
}

/// Fetches a list page and keeps its products for the next product page. An empty page
/// keeps the previous results, as a shopper goes back to the last list that had something.
async fn list(user: &mut GooseUser, path: &str, name: &str) -> TransactionResult {
    let answer = send(user, GooseMethod::Get, path, name, None, None).await?;
    let found: Vec<String> = json_of(answer)
        .await
        .and_then(|body| {
            body["data"]["products"].as_array().map(|products| {
                products
                    .iter()
                    .filter_map(|product| product["productId"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    if !found.is_empty()
        && let Some(session) = user.get_session_data_mut::<Session>()
    {
        session.results = found;
    }
    Ok(())
}

/// The storefront's navigation: the category tree and the brands.
pub async fn open_navigation(user: &mut GooseUser) -> TransactionResult {
    send(user, GooseMethod::Get, "/categories", "/categories", None, None).await?;
    send(user, GooseMethod::Get, "/brands", "/brands", None, None).await?;
    Ok(())
}

/// A category (its sub-categories included) in one of the orders, often with a price
/// filter, and now and then its second page.
pub async fn browse_category(user: &mut GooseUser) -> TransactionResult {
    let path = roll(user, |dice| {
        let (category, _, _) = dice
            .pick(CATEGORIES)
            .copied()
            .unwrap_or(("electronics", "", None));
        let sort = dice.pick(sorts()).cloned().unwrap_or_else(|| "newest".to_owned());
        let prices = price_filter(dice, category);
        let page = if dice.percent(20) { 2 } else { 1 };
        format!("/products?category={category}&sort={sort}{prices}&page={page}&size={PAGE_SIZE}")
    });
    list(user, &path, "/products?category").await
}

/// One brand's products, in a third of the visits narrowed to a category.
pub async fn filter_by_brand(user: &mut GooseUser) -> TransactionResult {
    let path = roll(user, |dice| {
        let (brand, _, _) = dice.pick(BRANDS).copied().unwrap_or(("acme", "", ""));
        let sort = dice.pick(sorts()).cloned().unwrap_or_else(|| "newest".to_owned());
        let category = if dice.percent(33) {
            dice.pick(CATEGORIES)
                .map(|(category, _, _)| format!("&category={category}"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        format!("/products?brand={brand}{category}&sort={sort}&size={PAGE_SIZE}")
    });
    list(user, &path, "/products?brand").await
}

/// A keyword search, ranked by relevance unless the shopper re-sorts it (one in four).
pub async fn search(user: &mut GooseUser) -> TransactionResult {
    let path = roll(user, |dice| {
        let words = encode(&search_words(dice));
        let sort = if dice.percent(25) {
            dice.pick(sorts())
                .map(|sort| format!("&sort={sort}"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        format!("/products?q={words}{sort}&size={PAGE_SIZE}")
    });
    list(user, &path, "/products?q").await
}

/// A product from the last list: its page, the SKU for one option of every group (when it
/// has options), and the availability of its SKUs in one call, as a product page shows
/// which choices are in stock. With no list seen yet there is nothing to open.
pub async fn view_product(user: &mut GooseUser) -> TransactionResult {
    let pick = roll(user, Dice::next);
    let Some(product) = user.get_session_data::<Session>().and_then(|session| {
        let index = pick % session.results.len().max(1) as u64;
        session.results.get(index as usize).cloned()
    }) else {
        return Ok(());
    };
    let answer = send(
        user,
        GooseMethod::Get,
        &format!("/products/{product}"),
        "/products/{id}",
        None,
        None,
    )
    .await?;
    let Some(detail) = json_of(answer).await else {
        return Ok(());
    };
    let detail = &detail["data"];
    let choice = roll(user, |dice| choose_options(dice, detail));
    if !choice.is_empty() {
        send(
            user,
            GooseMethod::Get,
            &format!("/products/{product}/skus?{choice}"),
            "/products/{id}/skus",
            None,
            None,
        )
        .await?;
    }
    let skus: Vec<&str> = detail["skus"]
        .as_array()
        .map(|skus| {
            skus.iter()
                .filter_map(|sku| sku["sku"].as_str())
                .take(MAX_AVAILABILITY_SKUS)
                .collect()
        })
        .unwrap_or_default();
    if !skus.is_empty() {
        let body = json!({ "skus": skus });
        send(
            user,
            GooseMethod::Post,
            "/inventory/availability",
            "/inventory/availability",
            Some(&body),
            None,
        )
        .await?;
    }
    Ok(())
}

/// One option of every group of a product, as a query string (`색상=블랙&사이즈=L`); empty
/// for a product without options, which is sold as one SKU.
fn choose_options(dice: &mut Dice, product: &Value) -> String {
    let Some(groups) = product["optionGroups"].as_array() else {
        return String::new();
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for group in groups {
        let options: Vec<&str> = group["options"]
            .as_array()
            .map(|options| {
                options
                    .iter()
                    .filter_map(|option| option["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if let (Some(name), Some(option)) = (group["name"].as_str(), dice.pick(&options)) {
            query.append_pair(name, option);
        }
    }
    query.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_level_category_holds_the_kinds_of_its_descendants() {
        assert!(within("computer-accessories", "electronics"));
        assert!(within("audio", "audio"));
        assert!(!within("audio", "fashion"));
    }

    #[test]
    fn price_filters_stay_inside_the_category_and_in_order() {
        let mut dice = Dice(1);
        for _ in 0..1_000 {
            let filter = price_filter(&mut dice, "electronics");
            let bounds: Vec<i64> = filter
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .filter_map(|(_, value)| value.parse().ok())
                .collect();
            if let [from, to] = bounds[..] {
                assert!(from < to, "{filter}");
            }
            assert!(
                bounds.iter().all(|won| (5_000..=2_901_000).contains(won)),
                "{filter}"
            );
        }
    }

    #[test]
    fn a_product_with_options_gets_one_of_every_group() {
        let product = json!({"optionGroups": [
            {"name": "색상", "options": [{"name": "블랙"}]},
            {"name": "사이즈", "options": [{"name": "L"}]}
        ]});
        assert_eq!(
            choose_options(&mut Dice(3), &product),
            "%EC%83%89%EC%83%81=%EB%B8%94%EB%9E%99&%EC%82%AC%EC%9D%B4%EC%A6%88=L"
        );
        assert_eq!(choose_options(&mut Dice(3), &json!({"optionGroups": []})), "");
    }
}
