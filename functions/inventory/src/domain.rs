//! Inventory's rules, without I/O: what a valid SKU and quantity are, whether a set of
//! order lines can be reserved given what is available, what a change of stock logs, and when
//! a change makes a SKU unavailable or available again.

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

/// A SKU's two counters at one moment. Available is what shoppers can still buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub on_hand: i64,
    pub reserved: i64,
}

impl Levels {
    /// What a SKU inventory has no row for counts as: nothing on hand, nothing reserved.
    pub const NONE: Self = Self {
        on_hand: 0,
        reserved: 0,
    };

    pub fn available(self) -> i64 {
        self.on_hand - self.reserved
    }
}

/// What changed a SKU's stock; the `action` of its change-log row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockAction {
    /// Catalog announced the SKU and inventory opened its stock at zero.
    Initialize,
    /// An admin set the units on hand.
    Set,
    /// An admin added or removed units.
    Adjust,
    /// An order's reservation took units.
    Reserve,
    /// A cancelled order gave its reserved units back.
    Release,
    /// A confirmed order's reserved units left the warehouse.
    Commit,
    /// A reservation lapsed and its units were given back.
    Expire,
    /// Units of a refunded order line came back on hand.
    Refund,
}

impl StockAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "INITIALIZE",
            Self::Set => "SET",
            Self::Adjust => "ADJUST",
            Self::Reserve => "RESERVE",
            Self::Release => "RELEASE",
            Self::Commit => "COMMIT",
            Self::Expire => "EXPIRE",
            Self::Refund => "REFUND",
        }
    }

    /// The logged quantity: the signed change of the counter this action is about. Admin
    /// writes and commits move units on hand; reservations, releases and expiries move what
    /// is reserved, and would log nothing useful as a change of on hand (it stays the same).
    pub fn quantity(self, before: Levels, after: Levels) -> i64 {
        match self {
            Self::Initialize | Self::Set | Self::Adjust | Self::Commit | Self::Refund => {
                after.on_hand - before.on_hand
            }
            Self::Reserve | Self::Release | Self::Expire => after.reserved - before.reserved,
        }
    }
}

/// A change of stock that shoppers notice: the SKU ran out, or can be bought again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityCrossing {
    /// Available went from above zero to zero (or below, which the CHECK constraints forbid
    /// but the rule does not need to assume).
    Depleted,
    /// Available went from zero (or below) to above zero.
    Restored,
}

/// Whether going from `before` to `after` crosses zero available, and which way. Changes on
/// one side of zero (10 → 3, 0 → 0) are not announced: nobody who listens can tell them apart.
pub fn availability_crossing(before: Levels, after: Levels) -> Option<AvailabilityCrossing> {
    match (before.available() > 0, after.available() > 0) {
        (true, false) => Some(AvailabilityCrossing::Depleted),
        (false, true) => Some(AvailabilityCrossing::Restored),
        _ => None,
    }
}

/// A page of a list: 1-based number, 1–100 rows per page, 20 unless asked otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    number: u32,
    size: u32,
}

/// A page number or size out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPage {
    #[error("page must be a whole number from 1 to {max}", max = Page::MAX_NUMBER)]
    Number,
    #[error("size must be a whole number from 1 to {max}", max = Page::MAX_SIZE)]
    Size,
}

impl Page {
    pub const DEFAULT_SIZE: u32 = 20;
    pub const MAX_SIZE: u32 = 100;
    /// Deep pages of an offset query cost more than they are worth; a time filter is for that.
    pub const MAX_NUMBER: u32 = 10_000;

    pub fn new(number: u32, size: u32) -> Result<Self, InvalidPage> {
        if !(1..=Self::MAX_NUMBER).contains(&number) {
            return Err(InvalidPage::Number);
        }
        if !(1..=Self::MAX_SIZE).contains(&size) {
            return Err(InvalidPage::Size);
        }
        Ok(Self { number, size })
    }

    pub fn number(self) -> u32 {
        self.number
    }

    pub fn size(self) -> u32 {
        self.size
    }

    pub fn offset(self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

/// Why a list of SKUs to look up cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuListProblem {
    #[error("must name at least one SKU")]
    Empty,
    #[error("must name at most {max} SKUs, not {0}", max = SkuList::MAX)]
    TooMany(usize),
    #[error("entry {index} is not a SKU id")]
    Invalid { index: usize },
    #[error("entry {index} repeats entry {first}")]
    Repeated { index: usize, first: usize },
}

/// The SKUs of one availability lookup: 1–100 distinct valid ids, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuList(Vec<Sku>);

impl SkuList {
    /// A cart page asks for every line at once; a hundred lines is more than any cart holds
    /// and keeps the one `IN (...)` query small.
    pub const MAX: usize = 100;

    /// Parses `values` (`None` for an entry that is not even text), naming every entry that
    /// is not a SKU or repeats an earlier one, so a client can fix them all at once.
    pub fn parse(values: &[Option<&str>]) -> Result<Self, Vec<SkuListProblem>> {
        if values.is_empty() {
            return Err(vec![SkuListProblem::Empty]);
        }
        if values.len() > Self::MAX {
            return Err(vec![SkuListProblem::TooMany(values.len())]);
        }
        let mut problems = Vec::new();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut skus = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let Some(value) = *value else {
                problems.push(SkuListProblem::Invalid { index });
                continue;
            };
            if let Some(&first) = seen.get(value) {
                problems.push(SkuListProblem::Repeated { index, first });
                continue;
            }
            seen.insert(value, index);
            match Sku::parse(value) {
                Ok(sku) => skus.push(sku),
                Err(_) => problems.push(SkuListProblem::Invalid { index }),
            }
        }
        if problems.is_empty() {
            Ok(Self(skus))
        } else {
            Err(problems)
        }
    }

    pub fn skus(&self) -> &[Sku] {
        &self.0
    }
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
    #[test]
    fn pages_are_bounded_and_start_at_one() {
        assert_eq!(Page::new(3, 20).map(Page::offset), Ok(40));
        assert_eq!(Page::new(0, 20), Err(InvalidPage::Number));
        assert_eq!(Page::new(1, 0), Err(InvalidPage::Size));
        assert_eq!(Page::new(1, Page::MAX_SIZE + 1), Err(InvalidPage::Size));
    }

    fn levels(on_hand: i64, reserved: i64) -> Levels {
        Levels { on_hand, reserved }
    }

    #[test]
    fn given_units_available_when_the_last_ones_are_reserved_then_the_sku_is_depleted() {
        assert_eq!(
            availability_crossing(levels(5, 3), levels(5, 5)),
            Some(AvailabilityCrossing::Depleted)
        );
    }

    #[test]
    fn given_units_available_when_stock_is_set_to_zero_then_the_sku_is_depleted() {
        assert_eq!(
            availability_crossing(levels(4, 0), levels(0, 0)),
            Some(AvailabilityCrossing::Depleted)
        );
    }

    #[test]
    fn given_nothing_available_when_a_reservation_is_released_then_the_sku_is_restored() {
        assert_eq!(
            availability_crossing(levels(5, 5), levels(5, 2)),
            Some(AvailabilityCrossing::Restored)
        );
    }

    #[test]
    fn given_a_sku_without_stock_when_units_arrive_then_the_sku_is_restored() {
        assert_eq!(
            availability_crossing(Levels::NONE, levels(10, 0)),
            Some(AvailabilityCrossing::Restored)
        );
    }

    #[test]
    fn given_a_change_on_one_side_of_zero_when_deciding_then_nothing_is_announced() {
        for (before, after) in [
            (levels(10, 0), levels(10, 7)),
            (levels(3, 0), levels(8, 0)),
            (levels(0, 0), levels(0, 0)),
            (levels(5, 5), levels(3, 3)),
            (levels(5, 2), levels(3, 0)),
        ] {
            assert_eq!(
                availability_crossing(before, after),
                None,
                "{before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn given_an_action_when_logging_then_the_quantity_is_the_change_of_its_counter() {
        assert_eq!(StockAction::Adjust.quantity(levels(10, 4), levels(7, 4)), -3);
        assert_eq!(StockAction::Set.quantity(Levels::NONE, levels(12, 0)), 12);
        assert_eq!(StockAction::Reserve.quantity(levels(10, 4), levels(10, 6)), 2);
        assert_eq!(StockAction::Release.quantity(levels(10, 6), levels(10, 4)), -2);
        assert_eq!(StockAction::Expire.quantity(levels(10, 6), levels(10, 1)), -5);
        assert_eq!(StockAction::Commit.quantity(levels(10, 6), levels(8, 4)), -2);
        assert_eq!(StockAction::Refund.quantity(levels(8, 4), levels(10, 4)), 2);
        assert_eq!(StockAction::Initialize.quantity(Levels::NONE, Levels::NONE), 0);
    }

    fn texts<'a>(values: &[&'a str]) -> Vec<Option<&'a str>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn given_distinct_valid_ids_when_parsing_a_sku_list_then_they_are_kept_in_order() {
        let list = SkuList::parse(&texts(&["b", "a", "c-1"])).expect("valid");
        let ids: Vec<&str> = list.skus().iter().map(Sku::as_str).collect();
        assert_eq!(ids, ["b", "a", "c-1"]);
    }

    #[test]
    fn given_a_bad_list_when_parsing_then_every_problem_is_named() {
        assert_eq!(SkuList::parse(&[]), Err(vec![SkuListProblem::Empty]));
        let ids: Vec<String> = (0..=SkuList::MAX).map(|n| format!("s{n}")).collect();
        let too_many: Vec<Option<&str>> = ids.iter().map(|id| Some(id.as_str())).collect();
        assert_eq!(
            SkuList::parse(&too_many),
            Err(vec![SkuListProblem::TooMany(SkuList::MAX + 1)])
        );
        assert_eq!(
            SkuList::parse(&[
                Some("a"),
                Some("bad id"),
                Some("a"),
                None,
                Some("b"),
                Some("bad id")
            ]),
            Err(vec![
                SkuListProblem::Invalid { index: 1 },
                SkuListProblem::Repeated { index: 2, first: 0 },
                SkuListProblem::Invalid { index: 3 },
                SkuListProblem::Repeated { index: 5, first: 1 },
            ])
        );
    }
}
