//! `saga-bench`'s plan of products and stock, and its tally of outcomes.
//!
//! A run spreads its orders over `skus` products in turn (order *n* buys one unit of SKU
//! *n* mod `skus`). Each SKU starts with `stock` units; without `--stock`, every SKU gets as
//! many units as orders it will receive, so every order can be confirmed. With less stock
//! than orders (a flash sale), the saga must confirm exactly the stock and cancel the rest as
//! out of stock: [`SkuPlan::confirmable`] is that number, for the run to be checked against.

use std::collections::BTreeMap;
use std::fmt;

/// How the orders of a run are spread over SKUs, and the stock of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkuPlan {
    orders: usize,
    skus: usize,
    stock: usize,
}

impl SkuPlan {
    /// `orders` one-unit orders over `skus` SKUs, each with `stock` units (by default the
    /// orders it receives, rounded up).
    pub fn new(orders: usize, skus: usize, stock: Option<usize>) -> Result<Self, String> {
        if skus == 0 {
            return Err("--skus must be at least 1".to_owned());
        }
        if skus > orders.max(1) {
            return Err(format!("--skus {skus} is more than the {orders} orders"));
        }
        let stock = stock.unwrap_or_else(|| orders.div_ceil(skus));
        if stock == 0 {
            return Err("--stock must be at least 1".to_owned());
        }
        Ok(Self { orders, skus, stock })
    }

    pub fn skus(&self) -> usize {
        self.skus
    }

    /// Units each SKU starts with.
    pub fn stock(&self) -> usize {
        self.stock
    }

    /// The SKU (0-based) that order `n` buys.
    pub fn sku_of(&self, n: usize) -> usize {
        n % self.skus
    }

    /// How many of the run's orders buy SKU `sku`.
    pub fn orders_on(&self, sku: usize) -> usize {
        if sku >= self.skus {
            return 0;
        }
        self.orders / self.skus + usize::from(sku < self.orders % self.skus)
    }

    /// The orders that can be confirmed at most: on each SKU, its orders or its stock,
    /// whichever is smaller.
    pub fn confirmable(&self) -> usize {
        (0..self.skus)
            .map(|sku| self.orders_on(sku).min(self.stock))
            .sum()
    }
}

/// How the orders of a run ended, by final status and cancellation reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    counts: BTreeMap<String, usize>,
}

impl Outcomes {
    /// Counts one order that ended in `status`, with its `cancel_reason` if it has one.
    pub fn add(&mut self, status: &str, cancel_reason: Option<&str>) {
        let key = match cancel_reason {
            Some(reason) if !reason.is_empty() => format!("{status} ({reason})"),
            _ => status.to_owned(),
        };
        *self.counts.entry(key).or_default() += 1;
    }

    /// Orders that ended CONFIRMED.
    pub fn confirmed(&self) -> usize {
        self.counts.get("CONFIRMED").copied().unwrap_or(0)
    }

    /// Every order counted.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

impl fmt::Display for Outcomes {
    /// `CANCELLED (out-of-stock) 150, CONFIRMED 50`, in name order.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.counts.is_empty() {
            return formatter.write_str("none");
        }
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(outcome, count)| format!("{outcome} {count}"))
            .collect();
        formatter.write_str(&parts.join(", "))
    }
}

/// One line of `--orders-csv`, quoting nothing: every field is an id, a status, a reason
/// slug, an RFC 3339 time or a number.
pub fn csv_line(fields: &[&str]) -> String {
    fields.join(",")
}

/// The records the trigger dispatcher has handled, summed over every function and topic, from
/// its Prometheus text (`dispatcher_records_total`); samples of other metrics are ignored.
pub fn records_handled(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix("dispatcher_records_total")
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_every_sku_holds_the_orders_it_receives() {
        let plan = SkuPlan::new(10, 3, None).expect("a valid plan");
        assert_eq!(plan.stock(), 4);
        assert_eq!(
            (0..3).map(|sku| plan.orders_on(sku)).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
        assert_eq!(plan.confirmable(), 10);
    }

    #[test]
    fn orders_take_the_skus_in_turn() {
        let plan = SkuPlan::new(7, 3, None).expect("a valid plan");
        let skus: Vec<_> = (0..7).map(|n| plan.sku_of(n)).collect();
        assert_eq!(skus, vec![0, 1, 2, 0, 1, 2, 0]);
        for sku in 0..3 {
            assert_eq!(skus.iter().filter(|&&s| s == sku).count(), plan.orders_on(sku));
        }
        assert_eq!(plan.orders_on(3), 0);
    }

    #[test]
    fn a_flash_sale_can_confirm_only_its_stock() {
        let hot = SkuPlan::new(300, 1, Some(50)).expect("a valid plan");
        assert_eq!(hot.confirmable(), 50);
        // The same stock per SKU over many SKUs: each sells out only where orders exceed it.
        let spread = SkuPlan::new(300, 50, Some(5)).expect("a valid plan");
        assert_eq!(spread.confirmable(), 250);
        let roomy = SkuPlan::new(300, 50, Some(10)).expect("a valid plan");
        assert_eq!(roomy.confirmable(), 300);
    }

    #[test]
    fn impossible_plans_are_refused() {
        assert!(SkuPlan::new(10, 0, None).is_err());
        assert!(SkuPlan::new(10, 11, None).is_err());
        assert!(SkuPlan::new(10, 2, Some(0)).is_err());
    }

    #[test]
    fn outcomes_count_statuses_and_reasons_apart() {
        let mut outcomes = Outcomes::default();
        outcomes.add("CONFIRMED", None);
        outcomes.add("CANCELLED", Some("out-of-stock"));
        outcomes.add("CANCELLED", Some("out-of-stock"));
        outcomes.add("CANCELLED", Some("payment-declined"));
        outcomes.add("CONFIRMED", Some(""));
        assert_eq!(outcomes.confirmed(), 2);
        assert_eq!(outcomes.total(), 5);
        assert_eq!(
            outcomes.to_string(),
            "CANCELLED (out-of-stock) 2, CANCELLED (payment-declined) 1, CONFIRMED 2"
        );
        assert_eq!(Outcomes::default().to_string(), "none");
    }

    #[test]
    fn csv_lines_join_their_fields() {
        assert_eq!(csv_line(&["a", "", "3"]), "a,,3");
    }

    #[test]
    fn records_handled_sums_every_function_and_nothing_else() {
        let metrics = "\
# TYPE dispatcher_records_total counter
dispatcher_records_total{function=\"reserve-stock\",outcome=\"ok\"} 120
dispatcher_records_total{function=\"confirm-order\",outcome=\"ok\"} 7
dispatcher_records_total_created 99
dispatcher_consumer_lag{function=\"reserve-stock\"} 5
";
        assert_eq!(records_handled(metrics), 127.0);
        assert_eq!(records_handled(""), 0.0);
    }
}
