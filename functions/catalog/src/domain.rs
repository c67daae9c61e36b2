//! Catalog's rules, without I/O: what a valid product, price and category are, how a
//! product's status may change, and what a browse query may ask for.

use events::value::{Currency, Money, Sku};

/// A value that breaks one of catalog's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("must be 1 to 64 letters, digits, '-', '_' or '.'")]
    ProductId,
    #[error("must be 1 to 64 lowercase letters, digits or '-'")]
    CategoryId,
    #[error("must be 1 to {0} characters")]
    Text(usize),
    #[error("must be between 1 and {max} minor units", max = Price::MAX_MINOR)]
    Amount,
    #[error("must be an ISO 4217 code such as EUR")]
    Currency,
    #[error(
        "must be one of recommended, relevance, newest (or latest), price_asc, price_desc, popularity, best_selling, rating, review_count, name"
    )]
    Sort,
    #[error("must be a whole number from {0} to {1}")]
    Range(u32, u32),
    #[error("must be 1 to 64 lowercase letters, digits or '-'")]
    BrandId,
    #[error("at most {max} option groups", max = MAX_OPTION_GROUPS)]
    TooManyOptionGroups,
    #[error("1 to {max} options per group", max = MAX_OPTIONS_PER_GROUP)]
    OptionCount,
    #[error("names must differ: {0:?} appears twice")]
    DuplicateName(String),
    #[error("must be from 0 to {max} minor units", max = Price::MAX_MINOR)]
    Surcharge,
    #[error("{0} SKUs; a product has at most {max}", max = MAX_SKUS)]
    TooManySkus(usize),
    #[error("at most {0} characters for a product with options (its SKU ids add a suffix)")]
    ProductIdTooLongForOptions(usize),
    #[error("a SKU would cost more than {max} minor units", max = Price::MAX_MINOR)]
    SkuPrice,
    #[error("must be a whole number of minor units from 0 to {max}", max = Price::MAX_MINOR)]
    PriceBound,
    #[error("must be 1 to 100 characters with at least one letter or digit")]
    Keyword,
    #[error("must be a whole number of stars from 1 to 5")]
    Rating,
    #[error("must be RATE or AMOUNT")]
    DiscountType,
    #[error("must be DRAFT or ACTIVE")]
    InitialStatus,
    #[error("must be DRAFT, ACTIVE, SUSPENDED or DELETED")]
    Status,
    #[error("a rate is 1 to 90 (percent); an amount 1 to {max} minor units", max = Price::MAX_MINOR)]
    DiscountValue,
    #[error("must be a whole number from 0 to 1000")]
    Priority,
    #[error("must be an RFC 3339 time, e.g. 2026-12-24T00:00:00Z")]
    Time,
    #[error("must be after startsAt")]
    Window,
}

/// The original platform's limits on options, which keep a product's SKUs few enough to
/// show, stock and announce one by one.
pub const MAX_OPTION_GROUPS: usize = 5;
pub const MAX_OPTIONS_PER_GROUP: usize = 20;
pub const MAX_SKUS: usize = 500;
/// A SKU of a product with options is `<product id>-<n>`; `n` has at most 6 digits.
pub const MAX_PRODUCT_ID_WITH_OPTIONS: usize = 57;

/// A product's id, which is also its SKU: the contract's rule, shared with inventory and
/// ordering.
pub type ProductId = Sku;

/// Reads a product id, or says which rule it breaks.
pub fn product_id(value: &str) -> Result<ProductId, InvalidInput> {
    Sku::parse(value).map_err(|_| InvalidInput::ProductId)
}

/// A category's id: a lowercase slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryId(String);

impl CategoryId {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::CategoryId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A brand's id: a lowercase slug, like a category's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandId(String);

impl BrandId {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        CategoryId::parse(value)
            .map(|slug| Self(slug.0))
            .map_err(|_| InvalidInput::BrandId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed text of bounded length: names and descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// `min` is 0 for optional text such as a description, 1 for names.
    pub fn parse(value: &str, min: usize, max: usize) -> Result<Self, InvalidInput> {
        let trimmed = value.trim();
        let length = trimmed.chars().count();
        if length < min || length > max {
            return Err(InvalidInput::Text(max));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A price: the contract's money, positive and at most [`Price::MAX_MINOR`] minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(Money);

impl Price {
    /// Ten million in major units: more than anything this shop sells, far from overflow.
    pub const MAX_MINOR: i64 = 1_000_000_000;

    pub fn new(minor: i64, currency: &str) -> Result<Self, InvalidInput> {
        if !(1..=Self::MAX_MINOR).contains(&minor) {
            return Err(InvalidInput::Amount);
        }
        let currency = Currency::parse(currency).map_err(|_| InvalidInput::Currency)?;
        Money::new(minor, currency)
            .map(Self)
            .map_err(|_| InvalidInput::Amount)
    }

    pub fn minor(&self) -> i64 {
        self.0.minor()
    }

    pub fn currency(&self) -> Currency {
        self.0.currency()
    }
}

/// One option of a group as an admin asks for it: its name and what it adds to the price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: Text,
    pub surcharge_minor: i64,
}

impl OptionSpec {
    pub fn new(name: &str, surcharge_minor: i64) -> Result<Self, InvalidInput> {
        if !(0..=Price::MAX_MINOR).contains(&surcharge_minor) {
            return Err(InvalidInput::Surcharge);
        }
        Ok(Self {
            name: Text::parse(name, 1, 60)?,
            surcharge_minor,
        })
    }
}

/// An option group as an admin asks for it, e.g. Size with S, M and L.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionGroupSpec {
    pub name: Text,
    pub options: Vec<OptionSpec>,
}

/// Checks a new product's option groups against the limits: at most five groups with
/// distinct names, one to twenty options of distinct names each, at most 500 SKUs.
pub fn check_option_groups(groups: &[OptionGroupSpec]) -> Result<(), InvalidInput> {
    if groups.len() > MAX_OPTION_GROUPS {
        return Err(InvalidInput::TooManyOptionGroups);
    }
    distinct(groups.iter().map(|group| group.name.as_str()))?;
    for group in groups {
        check_options_of_group(
            group.options.len(),
            group.options.iter().map(|option| option.name.as_str()),
        )?;
    }
    let skus = groups
        .iter()
        .map(|group| group.options.len())
        .fold(1_usize, usize::saturating_mul);
    if !groups.is_empty() && skus > MAX_SKUS {
        return Err(InvalidInput::TooManySkus(skus));
    }
    Ok(())
}

/// A group's live options: how many (1–20) and their names (distinct).
pub fn check_options_of_group<'a>(
    count: usize,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), InvalidInput> {
    if !(1..=MAX_OPTIONS_PER_GROUP).contains(&count) {
        return Err(InvalidInput::OptionCount);
    }
    distinct(names)
}

fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), InvalidInput> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name.to_lowercase()) {
            return Err(InvalidInput::DuplicateName(name.to_owned()));
        }
    }
    Ok(())
}

/// A live option of a stored product, as the SKU rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOption {
    pub option_id: i64,
    pub group: String,
    pub name: String,
    pub surcharge_minor: i64,
}

/// One SKU's worth of options: one option of every group, in group order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination(pub Vec<LiveOption>);

impl Combination {
    /// The identity of a combination whatever the order its options were listed in: the
    /// option ids ascending, comma-separated. Empty for the one SKU of a product without
    /// options.
    pub fn key(&self) -> String {
        let mut ids: Vec<i64> = self.0.iter().map(|option| option.option_id).collect();
        ids.sort_unstable();
        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    }

    /// The SKU's price: the base price plus every option's surcharge, within the price limit.
    pub fn price(&self, base_minor: i64) -> Result<i64, InvalidInput> {
        let total = self
            .0
            .iter()
            .try_fold(base_minor, |sum, option| sum.checked_add(option.surcharge_minor))
            .ok_or(InvalidInput::SkuPrice)?;
        if total > Price::MAX_MINOR {
            return Err(InvalidInput::SkuPrice);
        }
        Ok(total)
    }

    /// The product's name with the options, e.g. `T-shirt (Red, L)`.
    pub fn name(&self, product_name: &str) -> String {
        if self.0.is_empty() {
            return product_name.to_owned();
        }
        let options: Vec<&str> = self.0.iter().map(|option| option.name.as_str()).collect();
        format!("{product_name} ({})", options.join(", "))
    }

    /// Group name to option name.
    pub fn options(&self) -> std::collections::BTreeMap<String, String> {
        self.0
            .iter()
            .map(|option| (option.group.clone(), option.name.clone()))
            .collect()
    }
}

/// Every combination of one option per group (the groups in order, each group's options in
/// order): the SKUs a product with these live options sells. No groups, one empty combination.
pub fn combinations(groups: &[Vec<LiveOption>]) -> Vec<Combination> {
    groups
        .iter()
        .fold(vec![Combination(Vec::new())], |partial, group| {
            partial
                .iter()
                .flat_map(|combination| {
                    group.iter().map(move |option| {
                        let mut next = combination.0.clone();
                        next.push(option.clone());
                        Combination(next)
                    })
                })
                .collect()
        })
}

/// The id of a product's `number`th SKU with options (numbered from 1, never reused).
pub fn sku_id(product_id: &ProductId, number: u32) -> ProductId {
    Sku::parse(&format!("{}-{number}", product_id.as_str())).unwrap_or_else(|_| product_id.clone())
}

/// The mean of `count` ratings that add up to `sum`, to two decimals; none without ratings.
pub fn average_rating(sum: i64, count: i32) -> Option<f64> {
    (count > 0).then(|| ((sum as f64 / f64::from(count)) * 100.0).round() / 100.0)
}

/// A review's rating: 1 to 5 stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating(u8);

impl Rating {
    pub fn new(stars: i64) -> Result<Self, InvalidInput> {
        u8::try_from(stars)
            .ok()
            .filter(|stars| (1..=5).contains(stars))
            .map(Self)
            .ok_or(InvalidInput::Rating)
    }

    pub fn stars(self) -> u8 {
        self.0
    }
}

/// What a promotion takes off a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Percent of the price, 1 to 90.
    Rate(i64),
    /// Minor units off the price.
    Amount(i64),
}

impl Discount {
    pub fn new(kind: &str, value: i64) -> Result<Self, InvalidInput> {
        match kind {
            "RATE" if (1..=90).contains(&value) => Ok(Self::Rate(value)),
            "AMOUNT" if (1..=Price::MAX_MINOR).contains(&value) => Ok(Self::Amount(value)),
            "RATE" | "AMOUNT" => Err(InvalidInput::DiscountValue),
            _ => Err(InvalidInput::DiscountType),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Self::Rate(_) => "RATE",
            Self::Amount(_) => "AMOUNT",
        }
    }

    pub fn value(self) -> i64 {
        match self {
            Self::Rate(value) | Self::Amount(value) => value,
        }
    }

    /// The price after the discount. A rate rounds the discount down (the shopper never pays
    /// a fraction of a minor unit more than the rate says); nothing costs less than one minor
    /// unit, whatever an amount larger than a later, lower price would leave.
    pub fn apply(self, price_minor: i64) -> i64 {
        let discounted = match self {
            Self::Rate(percent) => price_minor - price_minor * percent / 100,
            Self::Amount(amount) => price_minor - amount,
        };
        discounted.max(1)
    }
}

/// An active promotion as the pricing rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivePromotion {
    pub discount: Discount,
    /// The lowest number wins.
    pub priority: i32,
}

/// The selling price of a list price under the active promotions: the promotions of the
/// winning (lowest) priority compete, and the one that leaves the lowest price wins. Without
/// active promotions, the list price.
pub fn selling_price(list_minor: i64, active: &[ActivePromotion]) -> i64 {
    let Some(winning) = active.iter().map(|promotion| promotion.priority).min() else {
        return list_minor;
    };
    active
        .iter()
        .filter(|promotion| promotion.priority == winning)
        .map(|promotion| promotion.discount.apply(list_minor))
        .min()
        .unwrap_or(list_minor)
}

/// How much cheaper the selling price is, in whole percent (rounded down).
pub fn discount_rate(list_minor: i64, selling_minor: i64) -> i64 {
    if list_minor <= 0 || selling_minor >= list_minor {
        return 0;
    }
    (list_minor - selling_minor) * 100 / list_minor
}

/// Where a product is in its life: a `Draft` is prepared and not sold, an `Active` product is
/// sold, a `Suspended` one is not sold for now, a `Deleted` one never again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStatus {
    Draft,
    Active,
    Suspended,
    Deleted,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
            Self::Deleted => "DELETED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "DRAFT" => Some(Self::Draft),
            "ACTIVE" => Some(Self::Active),
            "SUSPENDED" => Some(Self::Suspended),
            "DELETED" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// A status change the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {} product cannot become {}", .from.as_str(), .to.as_str())]
pub struct InvalidTransition {
    pub from: ProductStatus,
    pub to: ProductStatus,
}

/// The status a product moves to, if it moves: DRAFT → ACTIVE or DELETED; ACTIVE ↔ SUSPENDED;
/// ACTIVE or SUSPENDED → DELETED; DELETED is final, and nothing goes back to DRAFT. Asking for
/// the status it has is no change (so a retried request succeeds).
pub fn status_change(
    current: ProductStatus,
    wanted: ProductStatus,
) -> Result<Option<ProductStatus>, InvalidTransition> {
    use ProductStatus::{Active, Deleted, Draft, Suspended};
    match (current, wanted) {
        (current, wanted) if current == wanted => Ok(None),
        (Draft, Active | Deleted) | (Active, Suspended | Deleted) | (Suspended, Active | Deleted) => {
            Ok(Some(wanted))
        }
        (from, to) => Err(InvalidTransition { from, to }),
    }
}

/// The original's activation rule: a product is sold only with a name, a positive price (both
/// guaranteed by their types) and at least one active SKU.
pub fn ready_for_activation(active_skus: i64) -> bool {
    active_skus > 0
}

/// How browse results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// In stock first, then the popularity score, then newest (docs/adr/0040).
    Recommended,
    /// By keyword relevance; newest first when there are no keywords.
    Relevance,
    /// 3 × units sold + 2 × likes + reviews, most first.
    Popularity,
    /// Units sold, most first.
    BestSelling,
    /// Average rating, best first; products without reviews last; ties by review count.
    Rating,
    /// Reviews, most first.
    ReviewCount,
    PriceAscending,
    PriceDescending,
    Name,
    #[default]
    Newest,
}

impl Sort {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        match value {
            "price_asc" => Ok(Self::PriceAscending),
            "price_desc" => Ok(Self::PriceDescending),
            "name" => Ok(Self::Name),
            "newest" | "latest" => Ok(Self::Newest),
            "relevance" => Ok(Self::Relevance),
            "recommended" => Ok(Self::Recommended),
            "popularity" => Ok(Self::Popularity),
            "best_selling" => Ok(Self::BestSelling),
            "rating" => Ok(Self::Rating),
            "review_count" => Ok(Self::ReviewCount),
            _ => Err(InvalidInput::Sort),
        }
    }
}

/// A page of a browse: 1-based page number, 1–100 products per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    number: u32,
    size: u32,
}

impl Page {
    pub const MAX_SIZE: u32 = 100;
    /// Deep pages of an offset query cost more than they are worth; search is for that.
    pub const MAX_NUMBER: u32 = 10_000;

    pub fn new(number: u32, size: u32) -> Result<Self, InvalidInput> {
        if !(1..=Self::MAX_NUMBER).contains(&number) {
            return Err(InvalidInput::Range(1, Self::MAX_NUMBER));
        }
        if !(1..=Self::MAX_SIZE).contains(&size) {
            return Err(InvalidInput::Range(1, Self::MAX_SIZE));
        }
        Ok(Self { number, size })
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self { number: 1, size: 20 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_positive_bounded_minor_units_of_an_iso_currency() {
        assert!(Price::new(1290, "EUR").is_ok());
        assert_eq!(Price::new(0, "EUR"), Err(InvalidInput::Amount));
        assert_eq!(Price::new(Price::MAX_MINOR + 1, "EUR"), Err(InvalidInput::Amount));
        assert_eq!(Price::new(100, "eur"), Err(InvalidInput::Currency));
    }

    #[test]
    fn ids_names_and_categories_are_checked_at_the_edge() {
        assert!(product_id("espresso-cup_1.0").is_ok());
        assert_eq!(product_id("no spaces"), Err(InvalidInput::ProductId));
        assert!(CategoryId::parse("kitchen-cups").is_ok());
        assert!(CategoryId::parse("Kitchen").is_err());
        assert_eq!(
            Text::parse("  Cup  ", 1, 10).map(|text| text.as_str().to_owned()),
            Ok("Cup".to_owned())
        );
        assert!(Text::parse("   ", 1, 10).is_err());
        assert!(Text::parse(&"x".repeat(11), 1, 10).is_err());
    }

    #[test]
    fn given_a_product_in_a_status_when_asked_for_the_same_status_then_nothing_changes() {
        use ProductStatus::{Active, Deleted, Draft, Suspended};
        assert_eq!(status_change(Active, Active), Ok(None));
        assert_eq!(status_change(Draft, Active), Ok(Some(Active)));
        assert_eq!(status_change(Active, Suspended), Ok(Some(Suspended)));
        assert_eq!(status_change(Suspended, Active), Ok(Some(Active)));
        assert_eq!(status_change(Suspended, Deleted), Ok(Some(Deleted)));
        assert_eq!(
            status_change(Draft, Suspended),
            Err(InvalidTransition {
                from: Draft,
                to: Suspended
            })
        );
        assert_eq!(
            status_change(Active, Draft),
            Err(InvalidTransition {
                from: Active,
                to: Draft
            })
        );
        assert_eq!(
            status_change(Deleted, Active),
            Err(InvalidTransition {
                from: Deleted,
                to: Active
            })
        );
        assert!(!ready_for_activation(0));
    }

    fn option(option_id: i64, group: &str, name: &str, surcharge_minor: i64) -> LiveOption {
        LiveOption {
            option_id,
            group: group.to_owned(),
            name: name.to_owned(),
            surcharge_minor,
        }
    }

    fn group(name: &str, options: &[(&str, i64)]) -> OptionGroupSpec {
        OptionGroupSpec {
            name: Text::parse(name, 1, 60).expect("name"),
            options: options
                .iter()
                .map(|(name, surcharge)| OptionSpec::new(name, *surcharge).expect("option"))
                .collect(),
        }
    }

    #[test]
    fn given_two_groups_when_combined_then_every_pair_is_a_sku_priced_base_plus_surcharges() {
        let colours = vec![option(1, "Colour", "Red", 0), option(2, "Colour", "Blue", 100)];
        let sizes = vec![
            option(3, "Size", "S", 0),
            option(4, "Size", "M", 0),
            option(5, "Size", "L", 250),
        ];
        let skus = combinations(&[colours, sizes]);
        assert_eq!(skus.len(), 6);
        let blue_large = &skus[5];
        assert_eq!(blue_large.name("Tee"), "Tee (Blue, L)");
        assert_eq!(blue_large.price(1000), Ok(1350));
        assert_eq!(blue_large.key(), "2,5");
        assert_eq!(blue_large.options().get("Size").map(String::as_str), Some("L"));
    }

    #[test]
    fn a_product_without_options_is_one_sku_named_and_priced_as_the_product() {
        let skus = combinations(&[]);
        assert_eq!(skus.len(), 1);
        assert_eq!(skus[0].key(), "");
        assert_eq!(skus[0].name("Cup"), "Cup");
        assert_eq!(skus[0].price(1290), Ok(1290));
    }

    #[test]
    fn option_limits_are_the_originals() {
        let six_groups: Vec<_> = (0..6).map(|n| group(&format!("G{n}"), &[("a", 0)])).collect();
        assert_eq!(
            check_option_groups(&six_groups),
            Err(InvalidInput::TooManyOptionGroups)
        );
        let many: Vec<(String, i64)> = (0..21).map(|n| (format!("o{n}"), 0)).collect();
        let many: Vec<(&str, i64)> = many.iter().map(|(name, price)| (name.as_str(), *price)).collect();
        assert_eq!(
            check_option_groups(&[group("Size", &many)]),
            Err(InvalidInput::OptionCount)
        );
        assert_eq!(
            check_option_groups(&[group("Size", &[])]),
            Err(InvalidInput::OptionCount)
        );
        let twenty = &many[..20];
        let three_by_twenty = [group("A", twenty), group("B", twenty), group("C", twenty)];
        assert_eq!(
            check_option_groups(&three_by_twenty),
            Err(InvalidInput::TooManySkus(8000))
        );
        assert_eq!(
            check_option_groups(&[group("Size", &[("S", 0), ("s", 0)])]),
            Err(InvalidInput::DuplicateName("s".to_owned()))
        );
        assert!(OptionSpec::new("XL", -1).is_err());
        assert!(
            check_option_groups(&[
                group("Size", &[("S", 0), ("M", 0)]),
                group("Colour", &[("Red", 0)])
            ])
            .is_ok()
        );
    }

    #[test]
    fn given_promotions_of_two_priorities_when_pricing_then_the_best_of_the_winning_priority_applies() {
        let promotion = |discount, priority| ActivePromotion { discount, priority };
        let active = [
            promotion(Discount::Rate(50), 2),
            promotion(Discount::Rate(10), 1),
            promotion(Discount::Amount(150), 1),
        ];
        assert_eq!(
            selling_price(1000, &active),
            850,
            "priority 1 wins; 150 off beats 10 %"
        );
        assert_eq!(selling_price(1000, &[]), 1000);
        assert_eq!(discount_rate(1000, 850), 15);
        assert_eq!(
            Discount::Rate(33).apply(999),
            670,
            "329.67 off rounds down to 329"
        );
        assert_eq!(
            Discount::Amount(5000).apply(1000),
            1,
            "never below one minor unit"
        );
        assert_eq!(Discount::new("RATE", 91), Err(InvalidInput::DiscountValue));
        assert_eq!(Discount::new("PERCENT", 10), Err(InvalidInput::DiscountType));
    }

    #[test]
    fn a_sku_never_costs_more_than_the_price_limit() {
        let costly = Combination(vec![option(1, "Metal", "Gold", Price::MAX_MINOR)]);
        assert_eq!(costly.price(1), Err(InvalidInput::SkuPrice));
    }

    #[test]
    fn pages_are_bounded_and_sorts_are_named() {
        assert_eq!(Page::new(3, 20).map(|page| page.offset()), Ok(40));
        assert!(Page::new(0, 20).is_err());
        assert!(Page::new(1, 101).is_err());
        assert_eq!(Sort::parse("price_desc"), Ok(Sort::PriceDescending));
        assert!(Sort::parse("random").is_err());
    }
}
