//! Inventory's rules, without I/O: what a valid SKU and quantity are, and whether a set of
//! order lines can be reserved given what is available.

use std::collections::BTreeMap;

/// A stock keeping unit: the catalog product id, 1–64 characters of letters, digits, `-`,
/// `_` and `.`. The rule belongs to the contract, which every context shares.
pub use events::value::Sku;

/// A value that breaks one of inventory's rules; retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("quantity {0} must be between 1 and {max}", max = Quantity::MAX)]
    Quantity(i64),
    #[error("stock level {0} must be between 0 and {max}", max = StockLevel::MAX)]
    StockLevel(i64),
    #[error("an order must have at least one line")]
    NoLines,
}

/// A positive number of units on one line of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(u32);

impl Quantity {
    /// More than any single order line needs; larger numbers are typos or attacks.
    pub const MAX: u32 = 100_000;

    pub fn new(units: i64) -> Result<Self, InvalidInput> {
        match u32::try_from(units) {
            Ok(units) if (1..=Self::MAX).contains(&units) => Ok(Self(units)),
            _ => Err(InvalidInput::Quantity(units)),
        }
    }

    pub fn units(self) -> u32 {
        self.0
    }
}

/// Units of one SKU on hand: never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel(i64);

impl StockLevel {
    pub const MAX: i64 = 1_000_000_000;

    pub fn new(units: i64) -> Result<Self, InvalidInput> {
        if (0..=Self::MAX).contains(&units) {
            Ok(Self(units))
        } else {
            Err(InvalidInput::StockLevel(units))
        }
    }

    pub fn units(self) -> i64 {
        self.0
    }
}

/// The lines of one order to reserve: one entry per SKU (repeated SKUs are added up), in SKU
/// order. Locking rows in one global order is what keeps concurrent reservations from
/// deadlocking each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRequest {
    lines: BTreeMap<Sku, Quantity>,
}

impl ReservationRequest {
    pub fn new(lines: impl IntoIterator<Item = (Sku, Quantity)>) -> Result<Self, InvalidInput> {
        let mut merged: BTreeMap<Sku, Quantity> = BTreeMap::new();
        for (sku, quantity) in lines {
            let total = match merged.get(&sku) {
                Some(existing) => Quantity::new(i64::from(existing.units()) + i64::from(quantity.units()))?,
                None => quantity,
            };
            merged.insert(sku, total);
        }
        if merged.is_empty() {
            return Err(InvalidInput::NoLines);
        }
        Ok(Self { lines: merged })
    }

    /// The lines in SKU order.
    pub fn lines(&self) -> impl Iterator<Item = (&Sku, Quantity)> {
        self.lines.iter().map(|(sku, quantity)| (sku, *quantity))
    }
}

/// A line that cannot be reserved: fewer units available than requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortLine {
    pub sku: Sku,
    pub requested: Quantity,
    /// Units available now; 0 for a SKU inventory does not know.
    pub available: i64,
}

/// What to do with a reservation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReservationDecision {
    /// Every line fits: reserve them all.
    ReserveAll,
    /// At least one line is short: reserve nothing.
    Refuse(Vec<ShortLine>),
}

/// All or nothing: reserve when every line fits in what is available, otherwise refuse and
/// name every short line. `available` maps a SKU to its available units; a SKU missing from
/// it is unknown to inventory and has none.
pub fn decide_reservation(
    request: &ReservationRequest,
    available: &BTreeMap<Sku, i64>,
) -> ReservationDecision {
    let short: Vec<ShortLine> = request
        .lines()
        .filter_map(|(sku, requested)| {
            let available = available.get(sku).copied().unwrap_or(0);
            (available < i64::from(requested.units())).then(|| ShortLine {
                sku: sku.clone(),
                requested,
                available,
            })
        })
        .collect();
    if short.is_empty() {
        ReservationDecision::ReserveAll
    } else {
        ReservationDecision::Refuse(short)
    }
}

/// The state of one order's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Reserved,
    Failed,
    Released,
    Committed,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "RESERVED",
            Self::Failed => "FAILED",
            Self::Released => "RELEASED",
            Self::Committed => "COMMITTED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "RESERVED" => Some(Self::Reserved),
            "FAILED" => Some(Self::Failed),
            "RELEASED" => Some(Self::Released),
            "COMMITTED" => Some(Self::Committed),
            _ => None,
        }
    }
}

/// A new stock level for a SKU, keeping what live reservations hold.
///
/// An adjustment by `delta` may not take the units on hand below zero nor below the units
/// reserved: those are promised to orders.
pub fn adjusted_on_hand(on_hand: i64, reserved: i64, delta: i64) -> Result<StockLevel, InvalidInput> {
    let target = on_hand
        .checked_add(delta)
        .ok_or(InvalidInput::StockLevel(i64::MAX))?;
    let level = StockLevel::new(target)?;
    if level.units() < reserved {
        return Err(InvalidInput::StockLevel(target));
    }
    Ok(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(value: &str) -> Sku {
        Sku::parse(value).expect("valid sku")
    }

    fn qty(units: i64) -> Quantity {
        Quantity::new(units).expect("valid quantity")
    }

    #[test]
    fn skus_are_short_plain_identifiers() {
        assert!(Sku::parse("mug-espresso_1.0").is_ok());
        for bad in ["", "with space", "ümlaut", &"x".repeat(65), "semi;colon"] {
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert!(Quantity::new(1).is_ok());
        for bad in [0, -1, i64::from(Quantity::MAX) + 1, i64::MAX] {
            assert_eq!(Quantity::new(bad), Err(InvalidInput::Quantity(bad)));
        }
    }

    #[test]
    fn given_repeated_skus_when_a_request_is_built_then_their_quantities_are_added_in_sku_order() {
        let request = ReservationRequest::new([(sku("b"), qty(1)), (sku("a"), qty(2)), (sku("b"), qty(3))])
            .expect("valid");
        let lines: Vec<(String, u32)> = request
            .lines()
            .map(|(sku, quantity)| (sku.as_str().to_owned(), quantity.units()))
            .collect();
        assert_eq!(lines, [("a".to_owned(), 2), ("b".to_owned(), 4)]);
    }

    #[test]
    fn an_order_without_lines_cannot_be_reserved() {
        assert_eq!(ReservationRequest::new([]), Err(InvalidInput::NoLines));
    }

    #[test]
    fn given_enough_of_every_sku_when_deciding_then_all_lines_are_reserved() {
        let request = ReservationRequest::new([(sku("a"), qty(2)), (sku("b"), qty(5))]).expect("valid");
        let available = BTreeMap::from([(sku("a"), 2), (sku("b"), 10)]);
        assert_eq!(
            decide_reservation(&request, &available),
            ReservationDecision::ReserveAll
        );
    }

    #[test]
    fn given_one_short_line_when_deciding_then_nothing_is_reserved_and_the_short_lines_are_named() {
        let request = ReservationRequest::new([(sku("a"), qty(2)), (sku("b"), qty(5)), (sku("c"), qty(1))])
            .expect("valid");
        let available = BTreeMap::from([(sku("a"), 1), (sku("b"), 10)]);
        assert_eq!(
            decide_reservation(&request, &available),
            ReservationDecision::Refuse(vec![
                ShortLine {
                    sku: sku("a"),
                    requested: qty(2),
                    available: 1
                },
                ShortLine {
                    sku: sku("c"),
                    requested: qty(1),
                    available: 0
                },
            ])
        );
    }

    #[test]
    fn stock_cannot_be_adjusted_below_zero_or_below_what_is_reserved() {
        assert_eq!(adjusted_on_hand(10, 4, -6).map(StockLevel::units), Ok(4));
        assert!(adjusted_on_hand(10, 4, -7).is_err());
        assert!(adjusted_on_hand(10, 0, -11).is_err());
        assert_eq!(adjusted_on_hand(10, 0, 5).map(StockLevel::units), Ok(15));
    }
}
