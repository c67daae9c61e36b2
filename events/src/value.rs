//! Values every context shares through the contract: the product/SKU id and money.
//!
//! Each is parsed once, where it enters a context (an HTTP body, an event's data), and is then
//! carried as a type that cannot hold a bad value. Payload fields use these types, so an event
//! whose id or currency breaks the rule does not even decode. Contexts add their own rules on
//! top (catalog caps prices, payment refuses a zero amount), but the shape of an id and of an
//! amount is decided here alone.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A stock keeping unit: what inventory stocks and ordering sells. Until products have
/// variants, a catalog product's id is its one SKU.
///
/// 1 to 64 ASCII letters, digits, `-`, `_` and `.`: safe in a URL path, a Kafka key and a log
/// line without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

/// A SKU that breaks the rule of [`Sku`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SKU {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
pub struct InvalidSku(pub String);

impl Sku {
    pub const MAX_LENGTH: usize = 64;
    const PATTERN: &'static str = "^[A-Za-z0-9._-]{1,64}$";

    pub fn parse(value: &str) -> Result<Self, InvalidSku> {
        let valid = !value.is_empty()
            && value.len() <= Self::MAX_LENGTH
            && value
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidSku(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Sku {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = InvalidSku;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> Self {
        sku.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl JsonSchema for Sku {
    fn schema_name() -> Cow<'static, str> {
        "Sku".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": Self::PATTERN,
            "description": "A stock keeping unit (a catalog product's id): 1 to 64 ASCII letters, digits, '-', '_' or '.'."
        })
    }
}

/// An ISO 4217 currency code: three uppercase ASCII letters, such as `EUR`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// A currency code that is not three uppercase letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency {0:?} is not an ISO 4217 code such as EUR")]
pub struct InvalidCurrency(pub String);

impl Currency {
    pub fn parse(value: &str) -> Result<Self, InvalidCurrency> {
        match <[u8; 3]>::try_from(value.as_bytes()) {
            Ok(code) if code.iter().all(u8::is_ascii_uppercase) => Ok(Self(code)),
            _ => Err(InvalidCurrency(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // `parse` admits only ASCII letters, which are always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "An ISO 4217 currency code, such as EUR."
        })
    }
}

/// An amount of money: non-negative integer minor units (cents) of one currency. Never a
/// float. Arithmetic is checked: it refuses to mix currencies or to overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// Why an amount of money could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {0} must not be negative")]
    Negative(i64),
    #[error(transparent)]
    Currency(#[from] InvalidCurrency),
    #[error("cannot add {0} to {1}")]
    MixedCurrencies(Currency, Currency),
    #[error("the amount is too large")]
    Overflow,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative(minor));
        }
        Ok(Self { minor, currency })
    }

    /// An amount from its wire fields: minor units and a currency code.
    pub fn parse(minor: i64, currency: &str) -> Result<Self, MoneyError> {
        Self::new(minor, Currency::parse(currency)?)
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::MixedCurrencies(other.currency, self.currency));
        }
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, ..self })
    }

    pub fn checked_mul(self, times: u32) -> Result<Self, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(times))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, ..self })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} minor units of {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_short_url_safe_names() {
        for good in ["espresso-cup", "A.1_b-2", &"x".repeat(64)] {
            assert_eq!(
                Sku::parse(good).map(|sku| sku.as_str().to_owned()),
                Ok(good.to_owned())
            );
        }
        for bad in ["", "with space", "slash/ed", "ümlaut", &"x".repeat(65)] {
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_sku_reads_and_writes_as_a_plain_json_string_and_refuses_a_bad_one() {
        let sku: Sku = serde_json::from_str(r#""cup-1""#).expect("a good SKU");
        assert_eq!(serde_json::to_string(&sku).expect("write"), r#""cup-1""#);
        let error = serde_json::from_str::<Sku>(r#""a b""#).expect_err("a bad SKU");
        assert!(error.to_string().contains("must be 1 to 64"), "{error}");
    }

    #[test]
    fn currencies_are_three_uppercase_letters() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Ok("EUR".to_owned())
        );
        for bad in ["", "eur", "EURO", "E1R", "€"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Currency>(r#""euro""#).is_err());
    }

    #[test]
    fn money_adds_and_multiplies_only_when_the_result_is_sound() {
        let eur = Currency::parse("EUR").expect("EUR");
        let usd = Currency::parse("USD").expect("USD");
        let price = Money::new(1_290, eur).expect("price");
        assert_eq!(
            price
                .checked_mul(2)
                .and_then(|two| two.checked_add(price))
                .map(|m| m.minor()),
            Ok(3_870)
        );
        assert!(matches!(
            price.checked_add(Money::zero(usd)),
            Err(MoneyError::MixedCurrencies(..))
        ));
        assert_eq!(
            Money::new(i64::MAX, eur).expect("max").checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Money::new(-1, eur), Err(MoneyError::Negative(-1)));
        assert!(matches!(Money::parse(100, "euro"), Err(MoneyError::Currency(_))));
    }
}
