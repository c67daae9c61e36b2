//! Fault knobs for experiments: switched at run time, off by default, each shown by a metric.
//!
//! The knobs live in one JSON file named by `FAULTS_FILE` (the local stack's
//! `local-stack/var/faults.json`, written by `local-stack/faults`; on Kubernetes a mounted
//! ConfigMap, which the kubelet rewrites in place). A process that calls [`init`] rereads the
//! file when it changes, within half a second, without a restart. Without `FAULTS_FILE`, or with
//! no file, every knob is off and nothing is read again.
//!
//! ```json
//! {
//!   "payment": {"latencyMs": 500, "failureRate": 0.2},
//!   "relay": {"paused": false, "delayMs": 50},
//!   "dispatcher": {"reserve-stock": {"delayMs": 200, "failureRate": 0.5}},
//!   "functions": {"get-product": {"unavailableRate": 0.3}}
//! }
//! ```
//!
//! Each process publishes the knobs that concern it (its [`Role`]) as the gauge
//! `fault_knob{knob, target}`: the knob's value, 0 when off. An alert or a graph then shows
//! that a fault is on, beside what it does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// The gauge every process publishes its knobs as.
pub const FAULT_KNOB: &str = "fault_knob";

/// How often the file's modification time is looked at.
const POLL: Duration = Duration::from_millis(500);

/// The simulated payment gateway's knobs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentFaults {
    /// Added to every gateway call.
    #[serde(default)]
    pub latency_ms: u64,
    /// The share of gateway calls that fail as "unavailable" (retried like a real outage).
    #[serde(default)]
    pub failure_rate: f64,
}

/// The outbox relay's knobs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelayFaults {
    /// Reads no further transaction while true (nothing is lost: the binlog keeps them).
    #[serde(default)]
    pub paused: bool,
    /// Waits this long before publishing each transaction.
    #[serde(default)]
    pub delay_ms: u64,
}

/// The dispatcher's knobs for deliveries to one function.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryFaults {
    /// Waits this long before each delivery attempt.
    #[serde(default)]
    pub delay_ms: u64,
    /// The share of attempts that fail without reaching the function (then retried).
    #[serde(default)]
    pub failure_rate: f64,
}

/// A function's own knob.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunctionFaults {
    /// The share of requests answered `503 FAULT_INJECTED` (probes and metrics excepted).
    #[serde(default)]
    pub unavailable_rate: f64,
}

/// Every knob; all off by default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSet {
    #[serde(default)]
    pub payment: PaymentFaults,
    #[serde(default)]
    pub relay: RelayFaults,
    /// By function name.
    #[serde(default)]
    pub dispatcher: BTreeMap<String, DeliveryFaults>,
    /// By function name.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionFaults>,
}

impl FaultSet {
    /// Reads the knobs from their JSON; rates must lie in 0..=1.
    pub fn parse(text: &str) -> Result<Self, String> {
        let set: Self = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let mut rates = vec![("payment.failureRate".to_owned(), set.payment.failure_rate)];
        rates.extend(
            set.dispatcher
                .iter()
                .map(|(function, knobs)| (format!("dispatcher.{function}.failureRate"), knobs.failure_rate)),
        );
        rates.extend(set.functions.iter().map(|(function, knobs)| {
            (
                format!("functions.{function}.unavailableRate"),
                knobs.unavailable_rate,
            )
        }));
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} is {rate}; a rate lies between 0 and 1"));
            }
        }
        Ok(set)
    }

    /// The knobs that concern `role`, as (knob, target, value) for the gauge.
    pub fn knobs_of(&self, role: &Role) -> Vec<(&'static str, String, f64)> {
        match role {
            Role::Function(name) => {
                let mut knobs = vec![(
                    "unavailable_rate",
                    name.clone(),
                    self.functions
                        .get(name)
                        .map_or(0.0, |knobs| knobs.unavailable_rate),
                )];
                if name.ends_with("-payment") {
                    knobs.push((
                        "payment_latency_ms",
                        String::new(),
                        self.payment.latency_ms as f64,
                    ));
                    knobs.push(("payment_failure_rate", String::new(), self.payment.failure_rate));
                }
                knobs
            }
            Role::Relay => vec![
                (
                    "relay_paused",
                    String::new(),
                    if self.relay.paused { 1.0 } else { 0.0 },
                ),
                ("relay_delay_ms", String::new(), self.relay.delay_ms as f64),
            ],
            Role::Dispatcher(functions) => functions
                .iter()
                .flat_map(|function| {
                    let knobs = self.dispatcher.get(function).cloned().unwrap_or_default();
                    [
                        ("delivery_delay_ms", function.clone(), knobs.delay_ms as f64),
                        ("delivery_failure_rate", function.clone(), knobs.failure_rate),
                    ]
                })
                .collect(),
        }
    }
}

/// Which knobs a process applies, and so publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A function, by name (payment's functions also apply the gateway's knobs).
    Function(String),
    Relay,
    /// The dispatcher, with the functions it delivers to.
    Dispatcher(Vec<String>),
}

/// Whether an event of probability `rate` happens this time.
pub fn happens(rate: f64) -> bool {
    rate > 0.0 && (rate >= 1.0 || rand::random::<f64>() < rate)
}

fn slot() -> &'static RwLock<Arc<FaultSet>> {
    static CURRENT: OnceLock<RwLock<Arc<FaultSet>>> = OnceLock::new();
    CURRENT.get_or_init(|| RwLock::new(Arc::new(FaultSet::default())))
}

/// The knobs as last read (all off before [`init`], or without a file).
pub fn current() -> Arc<FaultSet> {
    slot()
        .read()
        .map(|set| Arc::clone(&set))
        .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
}

fn install(set: FaultSet, role: &Role) {
    for (knob, target, value) in set.knobs_of(role) {
        metrics::gauge!(FAULT_KNOB, "knob" => knob, "target" => target).set(value);
    }
    match slot().write() {
        Ok(mut current) => *current = Arc::new(set),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
    }
}

/// Starts following `FAULTS_FILE` for `role`: reads it now, then again whenever it changes.
/// Publishes the role's knobs (all 0 without a file). Call once, after the metrics recorder is
/// installed; later calls do nothing.
pub fn init(role: Role) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let path = std::env::var_os("FAULTS_FILE").map(PathBuf::from);
        install(path.as_deref().map(read).unwrap_or_default(), &role);
        if let Some(path) = path {
            follow(path, role);
        }
    });
}

/// Reads the file; a missing file is every knob off, a broken one too (and says why).
fn read(path: &Path) -> FaultSet {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => FaultSet::default(),
        Ok(text) => FaultSet::parse(&text).unwrap_or_else(|reason| {
            tracing::error!(path = %path.display(), %reason, "The fault knobs cannot be read; all are off");
            FaultSet::default()
        }),
        Err(_) => FaultSet::default(),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

fn follow(path: PathBuf, role: Role) {
    let spawned = std::thread::Builder::new()
        .name("fault-knobs".to_owned())
        .spawn(move || {
            let mut seen = modified(&path);
            loop {
                std::thread::sleep(POLL);
                let now = modified(&path);
                if now != seen {
                    seen = now;
                    let set = read(&path);
                    if set != *current() {
                        tracing::warn!(knobs = ?set.knobs_of(&role), "Fault knobs changed");
                    }
                    install(set, &role);
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "Could not start following the fault knobs; they stay as read");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_is_every_knob_off() {
        assert_eq!(FaultSet::parse("{}"), Ok(FaultSet::default()));
    }

    #[test]
    fn the_documented_example_reads_as_written() {
        let set = FaultSet::parse(
            r#"{"payment": {"latencyMs": 500, "failureRate": 0.2},
                "relay": {"paused": true},
                "dispatcher": {"reserve-stock": {"delayMs": 200, "failureRate": 0.5}},
                "functions": {"get-product": {"unavailableRate": 0.3}}}"#,
        )
        .expect("valid");
        assert_eq!(
            set.payment,
            PaymentFaults {
                latency_ms: 500,
                failure_rate: 0.2
            }
        );
        assert!(set.relay.paused);
        assert_eq!(set.dispatcher["reserve-stock"].delay_ms, 200);
        assert_eq!(set.functions["get-product"].unavailable_rate, 0.3);
    }

    #[test]
    fn a_rate_outside_zero_to_one_and_an_unknown_knob_are_refused() {
        let error = FaultSet::parse(r#"{"functions": {"login": {"unavailableRate": 1.5}}}"#).unwrap_err();
        assert!(
            error.contains("functions.login.unavailableRate is 1.5"),
            "{error}"
        );
        assert!(FaultSet::parse(r#"{"payment": {"latency": 5}}"#).is_err());
    }

    #[test]
    fn each_role_publishes_its_own_knobs() {
        let set = FaultSet::parse(
            r#"{"payment": {"latencyMs": 500}, "functions": {"authorize-payment": {"unavailableRate": 0.1}},
                "dispatcher": {"reserve-stock": {"failureRate": 0.5}}}"#,
        )
        .expect("valid");
        assert_eq!(
            set.knobs_of(&Role::Function("authorize-payment".to_owned())),
            vec![
                ("unavailable_rate", "authorize-payment".to_owned(), 0.1),
                ("payment_latency_ms", String::new(), 500.0),
                ("payment_failure_rate", String::new(), 0.0),
            ]
        );
        assert_eq!(
            set.knobs_of(&Role::Function("get-product".to_owned())),
            vec![("unavailable_rate", "get-product".to_owned(), 0.0)]
        );
        assert_eq!(
            set.knobs_of(&Role::Dispatcher(vec!["reserve-stock".to_owned()])),
            vec![
                ("delivery_delay_ms", "reserve-stock".to_owned(), 0.0),
                ("delivery_failure_rate", "reserve-stock".to_owned(), 0.5),
            ]
        );
    }

    #[test]
    fn a_rate_of_zero_never_happens_and_of_one_always_does() {
        assert!((0..1000).all(|_| !happens(0.0)));
        assert!((0..1000).all(|_| happens(1.0)));
        let half = (0..10_000).filter(|_| happens(0.5)).count();
        assert!((4_000..6_000).contains(&half), "{half} of 10,000 at 0.5");
    }

    /// A ConfigMap volume as the kubelet keeps it: the key is a link through `..data`, a link
    /// to a timestamped folder; an update writes a new folder and swaps `..data` atomically.
    #[cfg(unix)]
    #[test]
    fn a_config_map_volume_updated_as_the_kubelet_does_is_seen_through_the_keys_link() {
        use std::os::unix::fs::symlink;

        let volume = std::env::temp_dir().join(format!("faults-volume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&volume);
        let write_version = |folder: &str, text: &str, age: Duration| {
            std::fs::create_dir_all(volume.join(folder)).expect("writable");
            let file = volume.join(folder).join("faults.json");
            std::fs::write(&file, text).expect("writable");
            // The kubelet's updates are seconds apart; say so, whatever the clock's resolution.
            std::fs::File::options()
                .write(true)
                .open(&file)
                .and_then(|handle| handle.set_modified(SystemTime::now() - age))
                .expect("settable");
        };
        write_version("..2026_12_03_09_00_00.1", "{}\n", Duration::from_secs(60));
        symlink("..2026_12_03_09_00_00.1", volume.join("..data")).expect("linkable");
        symlink("..data/faults.json", volume.join("faults.json")).expect("linkable");
        let path = volume.join("faults.json");
        let before = modified(&path);
        assert!(before.is_some());
        assert_eq!(read(&path), FaultSet::default());

        write_version(
            "..2026_12_03_09_01_00.2",
            r#"{"relay": {"paused": true}}"#,
            Duration::ZERO,
        );
        symlink("..2026_12_03_09_01_00.2", volume.join("..data_tmp")).expect("linkable");
        std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).expect("swappable");
        std::fs::remove_dir_all(volume.join("..2026_12_03_09_00_00.1")).expect("removable");

        assert_ne!(modified(&path), before, "the poll sees the swap");
        assert!(read(&path).relay.paused);
        std::fs::remove_dir_all(&volume).expect("removable");
    }
}
