//! What a chaos run will do, decided up front from a seed: the products and their stock, every
//! order (lines and payment token), and every kill (when, which process, how long it stays
//! down). The same seed gives the same plan with the same build; the interleavings the plan
//! meets on a real stack still differ from run to run, which is the point.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

/// The functions of the order saga, any of which a kill of kind [`Kind::Functions`] may hit.
pub const SAGA_FUNCTIONS: [&str; 9] = [
    "place-order",
    "reserve-stock",
    "authorize-payment",
    "confirm-order",
    "cancel-order",
    "capture-payment",
    "void-payment",
    "commit-stock",
    "release-stock",
];

/// The payment tokens of the simulated gateway the orders use.
pub const APPROVE: &str = "tok_approve";
pub const DECLINE: &str = "tok_decline";
pub const TIMEOUT: &str = "tok_timeout";
pub const FLAKY: &str = "tok_flaky";

/// The kinds of process a run kills. A kill of kind `Functions` picks one saga function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Relay,
    Dispatcher,
    Functions,
    Kafka,
    MariaDb,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Relay,
        Kind::Dispatcher,
        Kind::Functions,
        Kind::Kafka,
        Kind::MariaDb,
    ];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim() {
            "relay" => Ok(Kind::Relay),
            "dispatcher" => Ok(Kind::Dispatcher),
            "functions" => Ok(Kind::Functions),
            "kafka" => Ok(Kind::Kafka),
            "mariadb" => Ok(Kind::MariaDb),
            other => Err(format!(
                "unknown kind of process {other:?} (relay, dispatcher, functions, kafka, mariadb)"
            )),
        }
    }
}

/// One process of the stack, by the name of its pid file under `$STACK_HOME/run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(pub String);

impl Target {
    fn of(kind: Kind, rng: &mut StdRng) -> Self {
        let name = match kind {
            Kind::Relay => "outbox-relay",
            Kind::Dispatcher => "trigger-dispatcher",
            Kind::Kafka => "kafka",
            Kind::MariaDb => "mariadb",
            Kind::Functions => SAGA_FUNCTIONS.choose(rng).copied().unwrap_or("reserve-stock"),
        };
        Self(name.to_owned())
    }
}

/// The weights of the payment tokens, e.g. `approve=70,decline=10,timeout=5,flaky=15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub approve: u32,
    pub decline: u32,
    pub timeout: u32,
    pub flaky: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            approve: 70,
            decline: 10,
            timeout: 5,
            flaky: 15,
        }
    }
}

impl Mix {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut mix = Mix {
            approve: 0,
            decline: 0,
            timeout: 0,
            flaky: 0,
        };
        for part in text.split(',').filter(|part| !part.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not NAME=WEIGHT"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("the weight of {name} is not a whole number"))?;
            match name.trim() {
                "approve" => mix.approve = weight,
                "decline" => mix.decline = weight,
                "timeout" => mix.timeout = weight,
                "flaky" => mix.flaky = weight,
                other => {
                    return Err(format!(
                        "unknown payment token {other:?} (approve, decline, timeout, flaky)"
                    ));
                }
            }
        }
        if mix.total() == 0 {
            return Err("the payment mix needs at least one positive weight".to_owned());
        }
        Ok(mix)
    }

    fn total(&self) -> u32 {
        self.approve + self.decline + self.timeout + self.flaky
    }

    fn draw(&self, rng: &mut StdRng) -> &'static str {
        let mut ticket = rng.random_range(0..self.total());
        for (weight, token) in [
            (self.approve, APPROVE),
            (self.decline, DECLINE),
            (self.timeout, TIMEOUT),
            (self.flaky, FLAKY),
        ] {
            if ticket < weight {
                return token;
            }
            ticket -= weight;
        }
        APPROVE
    }
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    pub orders: usize,
    pub kills: usize,
    /// Orders placed per second; the orders take `orders / rate` seconds to place.
    pub rate: f64,
    /// Products every other order wants and that sell out during the run.
    pub hot_skus: usize,
    /// Products with more stock than the run can sell.
    pub spread_skus: usize,
    pub mix: Mix,
    /// The kinds of process to kill, taken in a shuffled round so that every kind is hit
    /// once before any is hit twice.
    pub kinds: Vec<Kind>,
    /// A killed process stays down for a random time up to this before it is restarted.
    pub max_downtime: Duration,
}

/// A product of the run: which slot it fills, its stock at the start and its price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub hot: bool,
    /// Its number among the hot or the spread products.
    pub number: usize,
    pub initial_units: i64,
    pub price_minor: i64,
}

impl Product {
    /// The product id (SKU) within the run `run`.
    pub fn sku(&self, run: &str) -> String {
        let group = if self.hot { "hot" } else { "spread" };
        format!("chaos-{run}-{group}-{}", self.number)
    }
}

/// One order: (product index, quantity) lines, no product twice, and the payment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrder {
    pub lines: Vec<(usize, u32)>,
    pub token: &'static str,
}

/// One kill: how long after the first order, which process, how long it stays down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedKill {
    pub at: Duration,
    pub target: Target,
    pub downtime: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub products: Vec<Product>,
    pub orders: Vec<PlannedOrder>,
    pub kills: Vec<PlannedKill>,
}

impl Plan {
    pub fn new(settings: &Settings, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let orders = settings.orders.max(1);
        let hot = settings.hot_skus;
        let spread = settings.spread_skus.max(1);
        // About two lines an order, half of them hot, two units a line: each hot product is
        // asked for about 2 × orders / hot units and has half that, so it sells out midway;
        // each spread product has twice what it is asked for.
        let mut products = Vec::with_capacity(hot + spread);
        for number in 0..hot {
            products.push(Product {
                hot: true,
                number,
                initial_units: (orders / hot).max(1) as i64,
                price_minor: rng.random_range(100..=9_900),
            });
        }
        for number in 0..spread {
            products.push(Product {
                hot: false,
                number,
                initial_units: (4 * orders / spread + 10) as i64,
                price_minor: rng.random_range(100..=9_900),
            });
        }

        let planned_orders = (0..orders)
            .map(|_| {
                let wanted_lines = rng.random_range(1..=3_usize).min(hot + spread);
                let mut lines: Vec<(usize, u32)> = Vec::with_capacity(wanted_lines);
                while lines.len() < wanted_lines {
                    let product = if hot > 0 && rng.random_bool(0.5) {
                        rng.random_range(0..hot)
                    } else {
                        hot + rng.random_range(0..spread)
                    };
                    if lines.iter().all(|(taken, _)| *taken != product) {
                        lines.push((product, rng.random_range(1..=3)));
                    }
                }
                PlannedOrder {
                    lines,
                    token: settings.mix.draw(&mut rng),
                }
            })
            .collect();

        let window = orders as f64 / settings.rate.max(0.001);
        let mut moments: Vec<f64> = (0..settings.kills)
            .map(|_| rng.random_range(0.05..0.95) * window)
            .collect();
        moments.sort_by(f64::total_cmp);
        let mut round: Vec<Kind> = Vec::new();
        let kills = moments
            .into_iter()
            .map(|moment| {
                if round.is_empty() {
                    round = settings.kinds.clone();
                    round.shuffle(&mut rng);
                }
                let kind = round.pop().unwrap_or(Kind::Dispatcher);
                PlannedKill {
                    at: Duration::from_secs_f64(moment),
                    target: Target::of(kind, &mut rng),
                    downtime: settings.max_downtime.mul_f64(rng.random_range(0.0..=1.0)),
                }
            })
            .collect();

        Self {
            products,
            orders: planned_orders,
            kills,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn settings(kills: usize) -> Settings {
        Settings {
            orders: 200,
            kills,
            rate: 10.0,
            hot_skus: 2,
            spread_skus: 10,
            mix: Mix::default(),
            kinds: Kind::ALL.to_vec(),
            max_downtime: Duration::from_secs(4),
        }
    }

    fn kind_of(target: &Target) -> Kind {
        match target.0.as_str() {
            "outbox-relay" => Kind::Relay,
            "trigger-dispatcher" => Kind::Dispatcher,
            "kafka" => Kind::Kafka,
            "mariadb" => Kind::MariaDb,
            function => {
                assert!(
                    SAGA_FUNCTIONS.contains(&function),
                    "{function} is a saga function"
                );
                Kind::Functions
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
        assert_eq!(Plan::new(&settings(6), 42), Plan::new(&settings(6), 42));
        assert_ne!(Plan::new(&settings(6), 42), Plan::new(&settings(6), 43));
    }

    #[test]
    fn every_kind_is_killed_once_before_any_is_killed_twice() {
        let plan = Plan::new(&settings(7), 7);
        let first_round: HashSet<Kind> = plan.kills[..5].iter().map(|kill| kind_of(&kill.target)).collect();
        assert_eq!(first_round.len(), 5, "{:?}", plan.kills);
    }

    #[test]
    fn kills_fall_inside_the_placing_window_in_order_and_stay_down_at_most_the_maximum() {
        let plan = Plan::new(&settings(20), 3);
        assert_eq!(plan.kills.len(), 20);
        let window = Duration::from_secs(20);
        assert!(plan.kills.windows(2).all(|pair| pair[0].at <= pair[1].at));
        assert!(plan.kills.iter().all(|kill| kill.at < window));
        assert!(
            plan.kills
                .iter()
                .all(|kill| kill.downtime <= Duration::from_secs(4))
        );
    }

    #[test]
    fn orders_have_one_to_three_lines_never_the_same_product_twice() {
        let plan = Plan::new(&settings(0), 11);
        assert_eq!(plan.orders.len(), 200);
        for order in &plan.orders {
            assert!((1..=3).contains(&order.lines.len()));
            let products: HashSet<usize> = order.lines.iter().map(|(product, _)| *product).collect();
            assert_eq!(products.len(), order.lines.len());
            assert!(order.lines.iter().all(|(_, quantity)| (1..=3).contains(quantity)));
        }
    }

    #[test]
    fn hot_products_have_less_stock_than_asked_for_and_spread_ones_more() {
        let plan = Plan::new(&settings(0), 5);
        let asked = |index: usize| -> i64 {
            plan.orders
                .iter()
                .flat_map(|order| &order.lines)
                .filter(|(product, _)| *product == index)
                .map(|(_, quantity)| i64::from(*quantity))
                .sum()
        };
        for (index, product) in plan.products.iter().enumerate() {
            if product.hot {
                assert!(asked(index) > product.initial_units, "{product:?} sells out");
            } else {
                assert!(asked(index) < product.initial_units, "{product:?} never runs out");
            }
        }
    }

    #[test]
    fn the_mix_is_read_from_weights_and_a_single_weight_gives_one_token() {
        let only_declines = Mix::parse("decline=1").expect("valid mix");
        let plan = Plan::new(
            &Settings {
                mix: only_declines,
                ..settings(0)
            },
            1,
        );
        assert!(plan.orders.iter().all(|order| order.token == DECLINE));
        assert!(Mix::parse("approve=1,bogus=2").is_err());
        assert!(Mix::parse("approve=0").is_err());
        assert_eq!(
            Mix::parse("approve=70,decline=10,timeout=5,flaky=15"),
            Ok(Mix::default())
        );
    }
}
