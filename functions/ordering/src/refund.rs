//! The refund rules, without I/O: what a refund request is, which lines of an order it may
//! take, what it is worth, and where the order stands once payment gave the money back.
//!
//! A refund covers whole lines, named by their line numbers (`lineNo` of `GET /orders/{id}`).
//! It is worth the lines' prices times their quantities; shipping and anything else outside
//! the lines is never refunded (docs/adr/0046).

use events::value::{Money, MoneyError};
use sha2::Digest;

use crate::order::{IdempotencyKey, OrderLines, OrderStatus, ProductId};

/// A value of a refund request that breaks a rule; the client must change it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRefund {
    #[error("line number {0} must be a whole number from 0")]
    LineNo(i64),
    #[error("a refund names between 1 and {max} lines", max = OrderLines::MAX)]
    LineCount(usize),
    #[error("line {0} is named more than once")]
    RepeatedLine(u32),
}

/// The line numbers a refund asks for: 1 to [`OrderLines::MAX`], each once, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLines(Vec<u32>);

impl RefundLines {
    pub fn new(numbers: &[i64]) -> Result<Self, InvalidRefund> {
        if numbers.is_empty() || numbers.len() > OrderLines::MAX {
            return Err(InvalidRefund::LineCount(numbers.len()));
        }
        let mut lines = Vec::with_capacity(numbers.len());
        for &number in numbers {
            let line = u32::try_from(number).map_err(|_| InvalidRefund::LineNo(number))?;
            if lines.contains(&line) {
                return Err(InvalidRefund::RepeatedLine(line));
            }
            lines.push(line);
        }
        lines.sort_unstable();
        Ok(Self(lines))
    }

    pub fn numbers(&self) -> &[u32] {
        &self.0
    }
}

/// A validated refund request of an order's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRefund {
    pub user_id: uuid::Uuid,
    pub order_id: String,
    pub idempotency_key: IdempotencyKey,
    pub lines: RefundLines,
}

impl RequestRefund {
    /// The SHA-256 of what the customer asked for (the order and its lines), to tell a replay
    /// of the same request from a different request under the same key.
    pub fn fingerprint(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.order_id.as_bytes());
        hasher.update(b"\x1d");
        for line in self.lines.numbers() {
            hasher.update(line.to_be_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Where one order line stands as far as refunds go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRefundStatus {
    /// Sold and not refunded: a refund may take it.
    Refundable,
    /// A refund of it waits for payment.
    Requested,
    Refunded,
}

impl LineRefundStatus {
    /// The stored `refund_status` (NULL for a refundable line).
    pub fn stored(self) -> Option<&'static str> {
        match self {
            Self::Refundable => None,
            Self::Requested => Some("REFUND_REQUESTED"),
            Self::Refunded => Some("REFUNDED"),
        }
    }

    pub fn from_stored(value: Option<&str>) -> Option<Self> {
        Some(match value {
            None => Self::Refundable,
            Some("REFUND_REQUESTED") => Self::Requested,
            Some("REFUNDED") => Self::Refunded,
            Some(_) => return None,
        })
    }

    /// What the owner sees on the order.
    pub fn shown(self) -> &'static str {
        self.stored().unwrap_or("ORDERED")
    }
}

/// An order line as a refund sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundableLine {
    pub line_no: u32,
    pub product_id: ProductId,
    pub quantity: u32,
    pub unit_price: Money,
    pub status: LineRefundStatus,
}

/// Why a refund cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefused {
    #[error("the order is {} and cannot be refunded", .0.as_str())]
    OrderNotRefundable(OrderStatus),
    #[error("the order has no line {0}")]
    UnknownLine(u32),
    #[error("line {0} is already refunded")]
    AlreadyRefunded(u32),
    #[error("a refund of line {0} is in progress")]
    InProgress(u32),
    #[error("the refund's amount is out of range")]
    AmountOutOfRange,
}

impl From<MoneyError> for RefundRefused {
    fn from(_: MoneyError) -> Self {
        Self::AmountOutOfRange
    }
}

/// What a refund takes: its lines, and what they are worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDecision {
    pub lines: Vec<RefundableLine>,
    pub amount: Money,
}

/// Decides whether the asked lines of an order in `status` may be refunded now, and for how
/// much: the order must be confirmed (or partly refunded already), every line must exist and
/// be neither refunded nor in a refund waiting for payment.
pub fn decide_refund(
    status: OrderStatus,
    lines: &[RefundableLine],
    asked: &RefundLines,
) -> Result<RefundDecision, RefundRefused> {
    if !matches!(status, OrderStatus::Confirmed | OrderStatus::PartiallyRefunded) {
        return Err(RefundRefused::OrderNotRefundable(status));
    }
    let mut taken = Vec::new();
    let mut amount: Option<Money> = None;
    for &line_no in asked.numbers() {
        let line = lines
            .iter()
            .find(|line| line.line_no == line_no)
            .ok_or(RefundRefused::UnknownLine(line_no))?;
        match line.status {
            LineRefundStatus::Refundable => {}
            LineRefundStatus::Requested => return Err(RefundRefused::InProgress(line_no)),
            LineRefundStatus::Refunded => return Err(RefundRefused::AlreadyRefunded(line_no)),
        }
        let worth = line.unit_price.checked_mul(line.quantity)?;
        amount = Some(match amount {
            Some(amount) => amount.checked_add(worth)?,
            None => worth,
        });
        taken.push(line.clone());
    }
    // A refund of free lines would give nothing back; the gateway refuses zero amounts.
    let amount = amount
        .filter(|amount| !amount.is_zero())
        .ok_or(RefundRefused::AmountOutOfRange)?;
    Ok(RefundDecision { lines: taken, amount })
}

/// Whether a successful refund leaves lines to refund: every line refunded ends the order.
pub fn all_refunded(statuses: &[LineRefundStatus]) -> bool {
    statuses
        .iter()
        .all(|status| *status == LineRefundStatus::Refunded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::product_id;

    fn line(line_no: u32, minor: i64, quantity: u32, status: LineRefundStatus) -> RefundableLine {
        RefundableLine {
            line_no,
            product_id: product_id(&format!("sku-{line_no}")).expect("sku"),
            quantity,
            unit_price: Money::parse(minor, "EUR").expect("price"),
            status,
        }
    }

    fn asked(numbers: &[i64]) -> RefundLines {
        RefundLines::new(numbers).expect("lines")
    }

    #[test]
    fn a_refund_names_existing_line_numbers_once_each() {
        assert_eq!(RefundLines::new(&[]), Err(InvalidRefund::LineCount(0)));
        assert_eq!(RefundLines::new(&[-1]), Err(InvalidRefund::LineNo(-1)));
        assert_eq!(RefundLines::new(&[2, 2]), Err(InvalidRefund::RepeatedLine(2)));
        assert_eq!(asked(&[3, 1]).numbers(), [1, 3]);
        assert!(RefundLines::new(&[0; 51]).is_err());
    }

    #[test]
    fn given_a_confirmed_order_when_lines_are_asked_for_then_the_refund_is_their_price_times_quantity() {
        use LineRefundStatus::Refundable;
        let lines = [
            line(0, 1290, 2, Refundable),
            line(1, 990, 1, Refundable),
            line(2, 5, 3, Refundable),
        ];
        let decision = decide_refund(OrderStatus::Confirmed, &lines, &asked(&[0, 2])).expect("refundable");
        assert_eq!(decision.amount.minor(), 2 * 1290 + 3 * 5);
        assert_eq!(
            decision.lines.iter().map(|line| line.line_no).collect::<Vec<_>>(),
            [0, 2]
        );
    }

    #[test]
    fn only_confirmed_or_partly_refunded_orders_can_be_refunded() {
        let lines = [line(0, 100, 1, LineRefundStatus::Refundable)];
        for status in [OrderStatus::Placed, OrderStatus::Cancelled, OrderStatus::Refunded] {
            assert_eq!(
                decide_refund(status, &lines, &asked(&[0])),
                Err(RefundRefused::OrderNotRefundable(status))
            );
        }
        assert!(decide_refund(OrderStatus::PartiallyRefunded, &lines, &asked(&[0])).is_ok());
    }

    #[test]
    fn a_line_is_refunded_at_most_once_and_never_while_a_refund_of_it_is_in_flight() {
        let lines = [
            line(0, 100, 1, LineRefundStatus::Refunded),
            line(1, 100, 1, LineRefundStatus::Requested),
            line(2, 100, 1, LineRefundStatus::Refundable),
        ];
        let status = OrderStatus::PartiallyRefunded;
        assert_eq!(
            decide_refund(status, &lines, &asked(&[0])),
            Err(RefundRefused::AlreadyRefunded(0))
        );
        assert_eq!(
            decide_refund(status, &lines, &asked(&[1, 2])),
            Err(RefundRefused::InProgress(1))
        );
        assert_eq!(
            decide_refund(status, &lines, &asked(&[7])),
            Err(RefundRefused::UnknownLine(7))
        );
    }

    #[test]
    fn free_lines_and_overflowing_refunds_are_refused() {
        use LineRefundStatus::Refundable;
        let free = [line(0, 0, 1, Refundable)];
        assert_eq!(
            decide_refund(OrderStatus::Confirmed, &free, &asked(&[0])),
            Err(RefundRefused::AmountOutOfRange)
        );
        let huge = [line(0, i64::MAX / 2, 3, Refundable)];
        assert_eq!(
            decide_refund(OrderStatus::Confirmed, &huge, &asked(&[0])),
            Err(RefundRefused::AmountOutOfRange)
        );
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_and_another_order_or_line_does_not() {
        let request = |order: &str, lines: &[i64]| RequestRefund {
            user_id: uuid::Uuid::nil(),
            order_id: order.to_owned(),
            idempotency_key: IdempotencyKey::parse("k").expect("key"),
            lines: asked(lines),
        };
        assert_eq!(
            request("o", &[1, 0]).fingerprint(),
            request("o", &[0, 1]).fingerprint()
        );
        assert_ne!(request("o", &[0]).fingerprint(), request("o", &[1]).fingerprint());
        assert_ne!(request("o", &[0]).fingerprint(), request("p", &[0]).fingerprint());
    }

    #[test]
    fn the_order_is_refunded_when_every_line_is() {
        use LineRefundStatus::*;
        assert!(all_refunded(&[Refunded, Refunded]));
        assert!(!all_refunded(&[Refunded, Refundable]));
        assert!(!all_refunded(&[Refunded, Requested]));
    }
}
