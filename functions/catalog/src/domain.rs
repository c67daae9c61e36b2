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
    #[error("must be one of price_asc, price_desc, name, newest")]
    Sort,
    #[error("must be a whole number from {0} to {1}")]
    Range(u32, u32),
}

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

/// Whether a product can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStatus {
    Active,
    Discontinued,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Discontinued => "DISCONTINUED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ACTIVE" => Some(Self::Active),
            "DISCONTINUED" => Some(Self::Discontinued),
            _ => None,
        }
    }
}

/// The status a product should end up in, and whether that is a change (and an event).
pub fn status_change(current: ProductStatus, wanted: ProductStatus) -> Option<ProductStatus> {
    (current != wanted).then_some(wanted)
}

/// How browse results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
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
            "newest" => Ok(Self::Newest),
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
        assert_eq!(status_change(ProductStatus::Active, ProductStatus::Active), None);
        assert_eq!(
            status_change(ProductStatus::Active, ProductStatus::Discontinued),
            Some(ProductStatus::Discontinued)
        );
        assert_eq!(
            status_change(ProductStatus::Discontinued, ProductStatus::Active),
            Some(ProductStatus::Active)
        );
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
