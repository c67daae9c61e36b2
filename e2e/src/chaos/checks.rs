//! The invariants a chaos run checks, as plain functions of what the databases and Kafka hold
//! at the end, so each rule is tested without a stack.
//!
//! Outbox rows are purged once published, so "every outbox row reached Kafka" cannot be
//! checked by counting rows. It is checked from the other side: every state a context stored
//! was stored in the same transaction as the event that announces it, so from each order's
//! final state in ordering, inventory and payment follows the set of events that must be on
//! Kafka for it ([`expected_events`]) — each exactly once by event id (a record published twice
//! with the same id is a harmless redelivery; two ids for one fact would be a double effect).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use events::EventType;
use events::inventory::{StockCommittedV1, StockReleasedV1, StockReservationFailedV1, StockReservedV1};
use events::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderPlacedV1, cancel_reason};
use events::payment::{
    PaymentAuthorizedV1, PaymentCapturedV1, PaymentDeclinedV1, PaymentVoidedV1, decline_reason,
};
use serde::Serialize;

use super::plan::{APPROVE, DECLINE, FLAKY, TIMEOUT};

/// At most this many problems of one check are kept in the report (the count is complete).
const PROBLEMS_KEPT: usize = 25;

/// One order as the three contexts hold it at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAtRest {
    pub order_id: String,
    pub token: String,
    /// PLACED, CONFIRMED or CANCELLED.
    pub status: String,
    pub cancel_reason: Option<String>,
    pub reservation: Option<ReservationAtRest>,
    /// The payment row's status.
    pub payment: Option<String>,
    /// Why payment declined, when it did.
    pub decline_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationAtRest {
    /// RESERVED, FAILED, RELEASED or COMMITTED.
    pub status: String,
    /// A release that overtook the order leaves a row without lines and announces nothing.
    pub holds_lines: bool,
}

/// The event types that must be on Kafka for `order`'s final state.
pub fn expected_events(order: &OrderAtRest) -> BTreeSet<&'static str> {
    let mut expected = BTreeSet::from([OrderPlacedV1::NAME]);
    match order.status.as_str() {
        "CONFIRMED" => {
            expected.insert(OrderConfirmedV1::NAME);
        }
        "CANCELLED" => {
            expected.insert(OrderCancelledV1::NAME);
        }
        _ => {}
    }
    if let Some(reservation) = &order.reservation {
        let announced: &[&'static str] = match reservation.status.as_str() {
            "FAILED" => &[StockReservationFailedV1::NAME],
            "RESERVED" => &[StockReservedV1::NAME],
            "COMMITTED" => &[StockReservedV1::NAME, StockCommittedV1::NAME],
            "RELEASED" if reservation.holds_lines => &[StockReservedV1::NAME, StockReleasedV1::NAME],
            _ => &[],
        };
        expected.extend(announced);
    }
    let announced: &[&'static str] = match order.payment.as_deref() {
        Some("AUTHORIZED") => &[PaymentAuthorizedV1::NAME],
        Some("DECLINED") => &[PaymentDeclinedV1::NAME],
        Some("CAPTURED") => &[PaymentAuthorizedV1::NAME, PaymentCapturedV1::NAME],
        Some("VOIDED") => &[PaymentAuthorizedV1::NAME, PaymentVoidedV1::NAME],
        _ => &[],
    };
    expected.extend(announced);
    expected
}

/// Per order id, per event type, the distinct event ids found on Kafka.
pub type EventsOnKafka = HashMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub check: &'static str,
    pub passed: bool,
    pub summary: String,
    /// How many problems there were; `problems` keeps the first ones.
    pub problem_count: usize,
    pub problems: Vec<String>,
}

impl Verdict {
    fn new(check: &'static str, summary: String, problems: Vec<String>) -> Self {
        Self {
            check,
            passed: problems.is_empty(),
            summary,
            problem_count: problems.len(),
            problems: problems.into_iter().take(PROBLEMS_KEPT).collect(),
        }
    }
}

pub fn every_order_accepted(planned: usize, failures: &[String]) -> Verdict {
    Verdict::new(
        "every order was accepted",
        format!(
            "{} of {planned} orders accepted",
            planned - failures.len().min(planned)
        ),
        failures.to_vec(),
    )
}

pub fn every_order_terminal(orders: &[OrderAtRest]) -> Verdict {
    let open: Vec<String> = orders
        .iter()
        .filter(|order| order.status != "CONFIRMED" && order.status != "CANCELLED")
        .map(|order| format!("order {} is {}", order.order_id, order.status))
        .collect();
    Verdict::new(
        "every order reached a terminal state",
        format!(
            "{} of {} orders terminal",
            orders.len() - open.len(),
            orders.len()
        ),
        open,
    )
}

/// The outcome the simulated gateway's token allows. Any order may run out of stock.
/// Otherwise `tok_approve` confirms; `tok_decline` is declined; `tok_timeout` is declined as
/// `gateway-unavailable` once its attempts are used up; `tok_flaky` confirms after two
/// failures, or is declined as `gateway-unavailable` when restarts of authorize-payment made it
/// forget the failures it had counted (the simulated gateway keeps them in memory) and the
/// attempts ran out.
pub fn outcomes_fit_tokens(orders: &[OrderAtRest]) -> Verdict {
    let problems = orders
        .iter()
        .filter(|order| {
            let reason = order.cancel_reason.as_deref();
            let cancelled_for = |why: &str| order.status == "CANCELLED" && reason == Some(why);
            let declined_as = |why: &str| {
                cancelled_for(cancel_reason::PAYMENT_DECLINED) && order.decline_reason.as_deref() == Some(why)
            };
            let fits = cancelled_for(cancel_reason::OUT_OF_STOCK)
                || match order.token.as_str() {
                    APPROVE => order.status == "CONFIRMED",
                    FLAKY => order.status == "CONFIRMED" || declined_as(decline_reason::GATEWAY_UNAVAILABLE),
                    DECLINE => declined_as(decline_reason::DECLINED),
                    TIMEOUT => declined_as(decline_reason::GATEWAY_UNAVAILABLE),
                    _ => true,
                };
            !fits
        })
        .map(|order| {
            format!(
                "order {} paid with {} ended {} {} (payment {} {})",
                order.order_id,
                order.token,
                order.status,
                order.cancel_reason.as_deref().unwrap_or(""),
                order.payment.as_deref().unwrap_or("missing"),
                order.decline_reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    Verdict::new(
        "every outcome fits the payment token",
        "tok_approve confirms, tok_decline and tok_timeout are declined, tok_flaky confirms; any may run out of stock"
            .to_owned(),
        problems,
    )
}

/// One product's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockAtRest {
    pub sku: String,
    pub initial_units: i64,
    /// Units on the lines of confirmed orders.
    pub confirmed_units: i64,
    pub on_hand: i64,
    pub reserved: i64,
}

pub fn stock_matches_sales(stock: &[StockAtRest]) -> Verdict {
    let problems = stock
        .iter()
        .filter(|sku| sku.on_hand != sku.initial_units - sku.confirmed_units || sku.reserved != 0)
        .map(|sku| {
            format!(
                "{}: on hand {} (initial {} − confirmed {} = {}), reserved {}",
                sku.sku,
                sku.on_hand,
                sku.initial_units,
                sku.confirmed_units,
                sku.initial_units - sku.confirmed_units,
                sku.reserved
            )
        })
        .collect();
    let sold: i64 = stock.iter().map(|sku| sku.confirmed_units).sum();
    Verdict::new(
        "stock = initial − confirmed units, nothing reserved",
        format!("{} products, {sold} units sold", stock.len()),
        problems,
    )
}

pub fn reservations_settled(orders: &[OrderAtRest]) -> Verdict {
    let problems = orders
        .iter()
        .filter_map(|order| {
            let reservation = order
                .reservation
                .as_ref()
                .map(|reservation| reservation.status.as_str());
            let fits = match order.status.as_str() {
                "CONFIRMED" => reservation == Some("COMMITTED"),
                "CANCELLED" => matches!(reservation, Some("FAILED" | "RELEASED")),
                _ => false,
            };
            (!fits).then(|| {
                format!(
                    "order {} is {} but its reservation is {}",
                    order.order_id,
                    order.status,
                    reservation.unwrap_or("missing")
                )
            })
        })
        .collect();
    Verdict::new(
        "every reservation is committed (confirmed) or failed/released (cancelled)",
        format!("{} reservations", orders.len()),
        problems,
    )
}

pub fn one_capture_per_confirmed_order(orders: &[OrderAtRest], on_kafka: &EventsOnKafka) -> Verdict {
    let mut captured = 0;
    let problems = orders
        .iter()
        .filter_map(|order| {
            let captures = on_kafka
                .get(&order.order_id)
                .and_then(|types| types.get(PaymentCapturedV1::NAME))
                .map_or(0, BTreeSet::len);
            captured += captures;
            let wanted = usize::from(order.status == "CONFIRMED");
            (captures != wanted).then(|| {
                format!(
                    "order {} is {} and was captured {captures} time(s)",
                    order.order_id, order.status
                )
            })
        })
        .collect();
    Verdict::new(
        "exactly one capture per confirmed order, none for a cancelled one (payment topic)",
        format!("{captured} captures on Kafka"),
        problems,
    )
}

/// Every event the final states imply is on Kafka, once by id, and nothing else is there for
/// the run's orders; `left_in_outbox` counts the run's rows still waiting in the outboxes.
pub fn outbox_events_on_kafka(
    orders: &[OrderAtRest],
    on_kafka: &EventsOnKafka,
    left_in_outbox: i64,
) -> Verdict {
    let empty = BTreeMap::new();
    let mut expected_total = 0;
    let mut problems = Vec::new();
    if left_in_outbox != 0 {
        problems.push(format!(
            "{left_in_outbox} outbox rows of the run were never purged"
        ));
    }
    for order in orders {
        let expected = expected_events(order);
        expected_total += expected.len();
        let found = on_kafka.get(&order.order_id).unwrap_or(&empty);
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|ty| !found.contains_key(*ty))
            .collect();
        let unexpected: Vec<&str> = found
            .keys()
            .map(String::as_str)
            .filter(|ty| !expected.iter().any(|wanted| wanted == ty))
            .collect();
        let twice: Vec<&str> = found
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(ty, _)| ty.as_str())
            .collect();
        if !(missing.is_empty() && unexpected.is_empty() && twice.is_empty()) {
            problems.push(format!(
                "order {} ({}): missing {missing:?}, without a matching state {unexpected:?}, under two ids {twice:?}",
                order.order_id, order.status
            ));
        }
    }
    Verdict::new(
        "every outbox row's event is on Kafka, once per fact",
        format!("{expected_total} events expected from the final states"),
        problems,
    )
}

/// A dead letter of the run, with why it was given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub topic: String,
    pub key: String,
    pub event_type: String,
    pub event_id: String,
    pub function: String,
    pub attempts: String,
    pub reason: String,
}

pub fn no_dead_letters(dead_letters: &[DeadLetter]) -> Verdict {
    Verdict::new(
        "no event was dead-lettered",
        format!("{} dead letters", dead_letters.len()),
        dead_letters
            .iter()
            .map(|letter| {
                format!(
                    "{} {} (key {}) gave up by {} after {} attempt(s): {}",
                    letter.event_type,
                    letter.event_id,
                    letter.key,
                    letter.function,
                    letter.attempts,
                    letter.reason
                )
            })
            .collect(),
    )
}

pub fn every_restart_succeeded(failures: Vec<String>) -> Verdict {
    Verdict::new(
        "every kill hit a running process and local-stack/up brought it back",
        "the kills and the final local-stack/up".to_owned(),
        failures,
    )
}

pub fn every_process_running(processes: &[(String, bool)]) -> Verdict {
    Verdict::new(
        "every process of the stack runs at the end",
        format!("{} processes", processes.len()),
        processes
            .iter()
            .filter(|(_, running)| !running)
            .map(|(name, _)| format!("{name} is not running"))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, reservation: Option<(&str, bool)>, payment: Option<&str>) -> OrderAtRest {
        OrderAtRest {
            order_id: "o-1".to_owned(),
            token: APPROVE.to_owned(),
            status: status.to_owned(),
            cancel_reason: None,
            reservation: reservation.map(|(status, holds_lines)| ReservationAtRest {
                status: status.to_owned(),
                holds_lines,
            }),
            payment: payment.map(str::to_owned),
            decline_reason: None,
        }
    }

    fn on_kafka(order_id: &str, events: &[(&str, &str)]) -> EventsOnKafka {
        let mut types: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (ty, id) in events {
            types
                .entry((*ty).to_owned())
                .or_default()
                .insert((*id).to_owned());
        }
        HashMap::from([(order_id.to_owned(), types)])
    }

    #[test]
    fn a_confirmed_order_implies_placed_reserved_authorized_confirmed_committed_and_captured() {
        let confirmed = order("CONFIRMED", Some(("COMMITTED", true)), Some("CAPTURED"));
        assert_eq!(
            expected_events(&confirmed),
            BTreeSet::from([
                OrderPlacedV1::NAME,
                OrderConfirmedV1::NAME,
                StockReservedV1::NAME,
                StockCommittedV1::NAME,
                PaymentAuthorizedV1::NAME,
                PaymentCapturedV1::NAME,
            ])
        );
    }

    #[test]
    fn a_cancellation_that_overtook_the_order_implies_no_stock_or_payment_event() {
        let overtaken = order("CANCELLED", Some(("RELEASED", false)), Some("CANCELLED"));
        assert_eq!(
            expected_events(&overtaken),
            BTreeSet::from([OrderPlacedV1::NAME, OrderCancelledV1::NAME])
        );
        let declined = order("CANCELLED", Some(("RELEASED", true)), Some("DECLINED"));
        assert_eq!(
            expected_events(&declined),
            BTreeSet::from([
                OrderPlacedV1::NAME,
                OrderCancelledV1::NAME,
                StockReservedV1::NAME,
                StockReleasedV1::NAME,
                PaymentDeclinedV1::NAME,
            ])
        );
    }

    #[test]
    fn an_event_missing_from_kafka_or_published_under_two_ids_fails_the_outbox_check() {
        let placed_only = order("PLACED", None, None);
        let passed = outbox_events_on_kafka(
            std::slice::from_ref(&placed_only),
            &on_kafka("o-1", &[(OrderPlacedV1::NAME, "e-1")]),
            0,
        );
        assert!(passed.passed, "{passed:?}");

        let missing = outbox_events_on_kafka(std::slice::from_ref(&placed_only), &HashMap::new(), 0);
        assert!(!missing.passed);
        let twice = outbox_events_on_kafka(
            std::slice::from_ref(&placed_only),
            &on_kafka(
                "o-1",
                &[(OrderPlacedV1::NAME, "e-1"), (OrderPlacedV1::NAME, "e-2")],
            ),
            0,
        );
        assert!(!twice.passed);
        let stray = outbox_events_on_kafka(
            &[placed_only],
            &on_kafka(
                "o-1",
                &[(OrderPlacedV1::NAME, "e-1"), (PaymentCapturedV1::NAME, "e-3")],
            ),
            0,
        );
        assert!(!stray.passed);
    }

    #[test]
    fn rows_left_in_the_outbox_fail_the_outbox_check() {
        let verdict = outbox_events_on_kafka(&[], &HashMap::new(), 3);
        assert!(!verdict.passed);
        assert_eq!(verdict.problem_count, 1);
    }

    #[test]
    fn a_cancelled_order_with_a_capture_and_a_confirmed_one_without_fail_the_capture_check() {
        let mut cancelled = order("CANCELLED", None, Some("VOIDED"));
        cancelled.order_id = "cancelled".to_owned();
        let mut confirmed = order("CONFIRMED", None, Some("CAPTURED"));
        confirmed.order_id = "confirmed".to_owned();
        let verdict = one_capture_per_confirmed_order(
            &[cancelled, confirmed],
            &on_kafka("cancelled", &[(PaymentCapturedV1::NAME, "c-1")]),
        );
        assert_eq!(verdict.problem_count, 2, "{verdict:?}");
    }

    #[test]
    fn a_declined_token_that_was_confirmed_breaks_the_token_check_and_out_of_stock_never_does() {
        let mut declined_but_confirmed = order("CONFIRMED", None, None);
        declined_but_confirmed.token = DECLINE.to_owned();
        let mut approved_but_short = order("CANCELLED", None, None);
        approved_but_short.cancel_reason = Some(cancel_reason::OUT_OF_STOCK.to_owned());
        let mut approved_but_expired = order("CANCELLED", None, None);
        approved_but_expired.cancel_reason = Some(cancel_reason::PAYMENT_EXPIRED.to_owned());
        let verdict =
            outcomes_fit_tokens(&[declined_but_confirmed, approved_but_short, approved_but_expired]);
        assert_eq!(verdict.problem_count, 2, "{verdict:?}");
    }

    #[test]
    fn a_timeout_or_a_flaky_card_may_run_out_of_gateway_attempts_but_a_declining_card_may_not() {
        let declined = |token: &str, why: &str| {
            let mut order = order("CANCELLED", None, Some("DECLINED"));
            order.token = token.to_owned();
            order.cancel_reason = Some(cancel_reason::PAYMENT_DECLINED.to_owned());
            order.decline_reason = Some(why.to_owned());
            order
        };
        let fitting = [
            declined(TIMEOUT, decline_reason::GATEWAY_UNAVAILABLE),
            declined(FLAKY, decline_reason::GATEWAY_UNAVAILABLE),
            declined(DECLINE, decline_reason::DECLINED),
        ];
        assert!(outcomes_fit_tokens(&fitting).passed);
        let unfitting = [
            declined(APPROVE, decline_reason::DECLINED),
            declined(DECLINE, decline_reason::GATEWAY_UNAVAILABLE),
            declined(FLAKY, decline_reason::DECLINED),
        ];
        assert_eq!(outcomes_fit_tokens(&unfitting).problem_count, 3);
    }

    #[test]
    fn stock_is_checked_against_the_confirmed_units_and_the_reserved_count() {
        let right = StockAtRest {
            sku: "a".to_owned(),
            initial_units: 10,
            confirmed_units: 4,
            on_hand: 6,
            reserved: 0,
        };
        let oversold = StockAtRest {
            on_hand: 5,
            ..right.clone()
        };
        let still_reserved = StockAtRest {
            reserved: 1,
            ..right.clone()
        };
        assert!(stock_matches_sales(std::slice::from_ref(&right)).passed);
        assert_eq!(
            stock_matches_sales(&[right, oversold, still_reserved]).problem_count,
            2
        );
    }

    #[test]
    fn problems_beyond_the_kept_number_are_counted_but_not_listed() {
        let open: Vec<OrderAtRest> = (0..40).map(|_| order("PLACED", None, None)).collect();
        let verdict = every_order_terminal(&open);
        assert_eq!(verdict.problem_count, 40);
        assert_eq!(verdict.problems.len(), PROBLEMS_KEPT);
    }
}
