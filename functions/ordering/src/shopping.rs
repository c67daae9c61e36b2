//! The rules of the shopping flow, without I/O: cart limits, shipping addresses, the shipping
//! fee, an order's totals and its human-readable number (docs/adr/0044, 0045).

use chrono::{DateTime, Utc};
use events::value::Money;

use crate::order::{OrderLines, PricedOrder, PricingError, Quantity};

/// The most lines one cart holds: what one order may hold.
pub const MAX_CART_LINES: usize = OrderLines::MAX;

/// The most addresses one customer keeps.
pub const MAX_ADDRESSES: usize = 10;

/// A cart change a limit refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartLimit {
    #[error("a cart holds at most {max} different products", max = MAX_CART_LINES)]
    TooManyLines,
    #[error("a line holds at most {max} units", max = Quantity::MAX)]
    QuantityTooLarge,
}

/// The quantity of a line after adding `adding` units to the `existing` ones (if the SKU is in
/// the cart already), or the refusal when the line would hold too much or the cart, already
/// holding `lines` lines, would get one too many.
pub fn add_to_cart(existing: Option<u32>, adding: Quantity, lines: usize) -> Result<Quantity, CartLimit> {
    match existing {
        Some(units) => Quantity::new(i64::from(units) + i64::from(adding.units()))
            .map_err(|_| CartLimit::QuantityTooLarge),
        None if lines >= MAX_CART_LINES => Err(CartLimit::TooManyLines),
        None => Ok(adding),
    }
}

/// How shipping is charged: a flat fee, waived when the lines' subtotal (at selling prices)
/// reaches the threshold. Both in minor units of the order's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingRule {
    pub flat_fee_minor: i64,
    pub free_from_minor: i64,
}

impl ShippingRule {
    /// 3,000 minor units, free from 50,000 (30 and 500 in a currency with cents; the
    /// original's KRW 3,000 and 50,000).
    pub const DEFAULT: Self = Self {
        flat_fee_minor: 3_000,
        free_from_minor: 50_000,
    };

    /// `SHIPPING_FEE_MINOR` and `FREE_SHIPPING_FROM_MINOR`, each defaulting to [`Self::DEFAULT`].
    pub fn from_env() -> anyhow::Result<Self> {
        let rule = Self {
            flat_fee_minor: runtime::config::parsed_or("SHIPPING_FEE_MINOR", Self::DEFAULT.flat_fee_minor)?,
            free_from_minor: runtime::config::parsed_or(
                "FREE_SHIPPING_FROM_MINOR",
                Self::DEFAULT.free_from_minor,
            )?,
        };
        if rule.flat_fee_minor < 0 || rule.free_from_minor < 0 {
            anyhow::bail!("the shipping fee and the free-shipping threshold cannot be negative: {rule:?}");
        }
        Ok(rule)
    }

    /// The fee for a subtotal: nothing at or above the threshold, else the flat fee.
    pub fn fee(&self, subtotal: Money) -> Money {
        if subtotal.minor() >= self.free_from_minor {
            Money::zero(subtotal.currency())
        } else {
            Money::new(self.flat_fee_minor, subtotal.currency())
                .unwrap_or_else(|_| Money::zero(subtotal.currency()))
        }
    }
}

/// What an order costs: `total = subtotal + shipping_fee` is what payment authorizes;
/// `discount` is what the promotions took off the list prices (already out of the subtotal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub shipping_fee: Money,
    pub total: Money,
}

/// The totals of priced lines; the fee only when the order ships (`shipping` is `Some`) — an
/// order placed without an address is charged its lines, as before.
pub fn totals(priced: &PricedOrder, shipping: Option<&ShippingRule>) -> Result<Totals, PricingError> {
    let subtotal = priced.total;
    let mut discount = Money::zero(subtotal.currency());
    for line in &priced.lines {
        discount = discount.checked_add(line_discount(line.unit_price, line.list_price, line.quantity)?)?;
    }
    let shipping_fee = shipping.map_or(Money::zero(subtotal.currency()), |rule| rule.fee(subtotal));
    let total = subtotal.checked_add(shipping_fee)?;
    Ok(Totals {
        subtotal,
        discount,
        shipping_fee,
        total,
    })
}

/// `(list − selling) × quantity`; nothing when the list price is unknown or not above the
/// selling price.
pub fn line_discount(selling: Money, list: Option<Money>, quantity: Quantity) -> Result<Money, PricingError> {
    let per_unit = match list {
        Some(list) if list.currency() == selling.currency() && list.minor() > selling.minor() => {
            list.minor() - selling.minor()
        }
        _ => 0,
    };
    Ok(Money::new(per_unit, selling.currency())?.checked_mul(quantity.units())?)
}

/// The order number a customer reads and quotes: the UTC date it was placed and ten Crockford
/// base32 characters from the random bits of its UUIDv7 id, e.g. `20261202-7K3M9QXR2T`.
/// A unique index guards it; 50 random bits make a clash within a day of a million orders
/// about a one-in-two-thousand event, which then fails that one request and no other.
pub fn order_number(order_id: uuid::Uuid, placed_at: DateTime<Utc>) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = u64::from_be_bytes(order_id.as_bytes()[8..16].try_into().unwrap_or([0; 8]));
    let mut suffix = String::with_capacity(10);
    for index in (0..10).rev() {
        let digit = (bits >> (index * 5)) & 0x1f;
        suffix.push(char::from(ALPHABET[usize::try_from(digit).unwrap_or(0)]));
    }
    format!("{}-{suffix}", placed_at.format("%Y%m%d"))
}

/// A shipping address as a customer sends it, before validation.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// A valid shipping address: trimmed fields within their lengths, a phone number of digits
/// (with an optional leading `+` and spaces or dashes), a postal code of letters, digits,
/// spaces and dashes, and an upper-case ISO 3166-1 alpha-2 country code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// A field of an address that breaks its rule, named as the request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFieldError {
    pub field: &'static str,
    pub reason: String,
}

impl Address {
    /// Validates every field, naming each bad one.
    pub fn parse(input: AddressInput) -> Result<Self, Vec<AddressFieldError>> {
        let mut errors = Vec::new();
        let mut text = |field: &'static str, value: &str, max: usize| -> String {
            let value = value.trim();
            if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
                errors.push(AddressFieldError {
                    field,
                    reason: format!("must be 1 to {max} characters without control characters"),
                });
            }
            value.to_owned()
        };
        let recipient = text("recipient", &input.recipient, 100);
        let line1 = text("line1", &input.line1, 200);
        let city = text("city", &input.city, 100);
        let line2 = input
            .line2
            .as_deref()
            .map(str::trim)
            .filter(|line2| !line2.is_empty())
            .map(|line2| text("line2", line2, 200));
        let phone = input.phone.trim().to_owned();
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let phone_shape = phone
            .char_indices()
            .all(|(index, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && index == 0));
        if !phone_shape || !(6..=15).contains(&digits) || phone.len() > 20 {
            errors.push(AddressFieldError {
                field: "phone",
                reason: "must be 6 to 15 digits, optionally with a leading '+', spaces or dashes".to_owned(),
            });
        }
        let postal_code = input.postal_code.trim().to_owned();
        let postal_shape = postal_code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
        if postal_code.is_empty() || postal_code.len() > 16 || !postal_shape {
            errors.push(AddressFieldError {
                field: "postalCode",
                reason: "must be 1 to 16 letters, digits, spaces or dashes".to_owned(),
            });
        }
        let country = input.country.trim().to_owned();
        if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_uppercase()) {
            errors.push(AddressFieldError {
                field: "country",
                reason: "must be an ISO 3166-1 alpha-2 code in capitals, e.g. KR or DE".to_owned(),
            });
        }
        if errors.is_empty() {
            Ok(Self {
                recipient,
                phone,
                line1,
                line2,
                city,
                postal_code,
                country,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{PricedLine, product_id};

    fn money(minor: i64) -> Money {
        Money::parse(minor, "EUR").expect("money")
    }

    fn quantity(units: i64) -> Quantity {
        Quantity::new(units).expect("quantity")
    }

    fn priced(lines: &[(i64, Option<i64>, i64)]) -> PricedOrder {
        let lines: Vec<PricedLine> = lines
            .iter()
            .enumerate()
            .map(|(index, (selling, list, units))| PricedLine {
                product_id: product_id(&format!("p-{index}")).expect("id"),
                product_name: None,
                quantity: quantity(*units),
                unit_price: money(*selling),
                list_price: list.map(money),
            })
            .collect();
        let total = lines.iter().fold(money(0), |sum, line| {
            sum.checked_add(line.unit_price.checked_mul(line.quantity.units()).expect("line"))
                .expect("sum")
        });
        PricedOrder { lines, total }
    }

    const RULE: ShippingRule = ShippingRule {
        flat_fee_minor: 3_000,
        free_from_minor: 50_000,
    };

    #[test]
    fn given_a_subtotal_below_the_threshold_when_shipping_then_the_flat_fee_is_added() {
        let totals = totals(&priced(&[(9_000, Some(10_000), 2)]), Some(&RULE)).expect("totals");
        assert_eq!(totals.subtotal.minor(), 18_000);
        assert_eq!(totals.discount.minor(), 2_000);
        assert_eq!(totals.shipping_fee.minor(), 3_000);
        assert_eq!(totals.total.minor(), 21_000);
    }

    #[test]
    fn given_a_subtotal_at_the_threshold_when_shipping_then_it_ships_free() {
        let totals = totals(&priced(&[(25_000, None, 2)]), Some(&RULE)).expect("totals");
        assert_eq!(totals.shipping_fee.minor(), 0);
        assert_eq!(totals.total.minor(), 50_000);
        let below = super::totals(&priced(&[(49_999, None, 1)]), Some(&RULE)).expect("totals");
        assert_eq!(below.total.minor(), 52_999);
    }

    #[test]
    fn an_order_without_an_address_pays_its_lines_only_and_unknown_list_prices_give_no_discount() {
        let totals = totals(&priced(&[(100, None, 3), (50, Some(40), 1)]), None).expect("totals");
        assert_eq!(totals.total.minor(), 350);
        assert_eq!(totals.shipping_fee.minor(), 0);
        assert_eq!(totals.discount.minor(), 0);
    }

    #[test]
    fn adding_to_a_line_adds_units_within_the_limits() {
        assert_eq!(add_to_cart(Some(2), quantity(3), 1), Ok(quantity(5)));
        assert_eq!(add_to_cart(None, quantity(3), 49), Ok(quantity(3)));
        assert_eq!(add_to_cart(None, quantity(1), 50), Err(CartLimit::TooManyLines));
        assert_eq!(
            add_to_cart(Some(999), quantity(2), 50),
            Err(CartLimit::QuantityTooLarge)
        );
        assert_eq!(add_to_cart(Some(998), quantity(2), 50), Ok(quantity(1_000)));
    }

    #[test]
    fn an_order_number_is_the_date_and_ten_base32_characters() {
        let id = uuid::Uuid::now_v7();
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .expect("time")
            .to_utc();
        let number = order_number(id, at);
        assert_eq!(number.len(), 19, "{number}");
        assert!(number.starts_with("20261202-"), "{number}");
        assert_eq!(number, order_number(id, at));
        assert_ne!(number, order_number(uuid::Uuid::now_v7(), at));
    }

    fn address() -> AddressInput {
        AddressInput {
            recipient: " Ada Lovelace ".to_owned(),
            phone: "+82 10-1234-5678".to_owned(),
            line1: "1 Main Street".to_owned(),
            line2: Some("  ".to_owned()),
            city: "Seoul".to_owned(),
            postal_code: "04524".to_owned(),
            country: "KR".to_owned(),
        }
    }

    #[test]
    fn a_plausible_address_is_trimmed_and_kept() {
        let parsed = Address::parse(address()).expect("valid");
        assert_eq!(parsed.recipient, "Ada Lovelace");
        assert_eq!(parsed.line2, None);
    }

    #[test]
    fn every_bad_field_of_an_address_is_named() {
        let bad = AddressInput {
            recipient: String::new(),
            phone: "call me".to_owned(),
            postal_code: "0452/4".to_owned(),
            country: "kor".to_owned(),
            ..address()
        };
        let fields: Vec<&str> = Address::parse(bad)
            .expect_err("invalid")
            .iter()
            .map(|error| error.field)
            .collect();
        assert_eq!(fields, ["recipient", "phone", "postalCode", "country"]);
    }
}
