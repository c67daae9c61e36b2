//! The abuse limits as rules, decided without I/O (ADR 0013).
//!
//! Counters live in Redis ([`crate::rate_limit`]); these functions only say, from what the
//! counters read once an attempt is counted, whether the attempt may go on. Every limit is
//! shaped so that a stranger who trips it is held back without the account's owner being
//! locked out:
//!
//! - failed logins count per **account and address**: a stranger guessing from their address
//!   exhausts only their own allowance for that account;
//! - failed logins count per **account** too, more slowly: past that, the account is under a
//!   distributed attack, and an address the account has not logged in from recently gets one
//!   failed attempt per window instead of several. The owner is never refused a first try,
//!   and from an address they logged in from before nothing changes for them;
//! - failed logins and logins of unknown accounts count per **address**: spraying one
//!   password over many accounts, or trying lists of e-mail addresses, from one place;
//! - registrations count per address; failed current-password checks per session.
//!
//! Successful logins are not failures: their count is given back.

use std::time::Duration;

/// At most `max` in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

impl Limit {
    pub const fn new(max: u64, window: Duration) -> Self {
        Self { max, window }
    }

    /// No limit at all (benchmarks).
    pub const fn unlimited() -> Self {
        Self::new(u64::MAX, Duration::from_secs(60))
    }
}

/// A counter as read: its value and how long its window still runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub value: u64,
    pub millis_left: u64,
}

impl Count {
    pub const fn new(value: u64, millis_left: u64) -> Self {
        Self { value, millis_left }
    }

    fn retry_after_seconds(self) -> u64 {
        self.millis_left.max(1).div_ceil(1000)
    }
}

/// Whether an attempt may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited { retry_after_seconds: u64 },
}

impl Verdict {
    /// Limited by the counter whose window ends last, if any.
    fn from_limiting(limiting: impl IntoIterator<Item = Count>) -> Self {
        limiting
            .into_iter()
            .map(Count::retry_after_seconds)
            .max()
            .map_or(Self::Allowed, |retry_after_seconds| Self::Limited {
                retry_after_seconds,
            })
    }
}

/// A single limit on a counter that includes this attempt.
pub fn decide(count: Count, limit: Limit) -> Verdict {
    Verdict::from_limiting((count.value > limit.max).then_some(count))
}

/// The login limits; the defaults are in ADR 0013.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failed logins of one account from one address.
    pub per_account_and_address: Limit,
    /// Failed logins of one account from anywhere; beyond it the account is under attack.
    pub per_account: Limit,
    /// Failed logins from one address, whatever the account.
    pub per_address: Limit,
    /// Logins of accounts that do not exist, from one address.
    pub unknown_accounts_per_address: Limit,
    /// How long an address that logged in to an account stays known to it.
    pub known_address_for: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        const QUARTER_HOUR: Duration = Duration::from_secs(15 * 60);
        Self {
            per_account_and_address: Limit::new(5, QUARTER_HOUR),
            per_account: Limit::new(50, Duration::from_secs(3600)),
            per_address: Limit::new(100, QUARTER_HOUR),
            unknown_accounts_per_address: Limit::new(20, QUARTER_HOUR),
            known_address_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl LoginLimits {
    /// Limits nobody reaches (benchmarks).
    pub fn unlimited() -> Self {
        Self {
            per_account_and_address: Limit::unlimited(),
            per_account: Limit::unlimited(),
            per_address: Limit::unlimited(),
            unknown_accounts_per_address: Limit::unlimited(),
            known_address_for: Duration::from_secs(60),
        }
    }
}

/// The login counters once this attempt is counted (all but the unknown accounts, which are
/// counted only after an attempt turns out to name one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginCounts {
    pub account_and_address: Count,
    pub account: Count,
    pub address: Count,
    pub unknown_accounts_from_address: Count,
    /// The account logged in from this address within `known_address_for`.
    pub known_address: bool,
}

/// Whether a login attempt may go on to the password check.
pub fn decide_login(counts: &LoginCounts, limits: &LoginLimits) -> Verdict {
    let under_attack = counts.account.value > limits.per_account.max;
    let retried_from_a_new_address = !counts.known_address && counts.account_and_address.value > 1;
    let mut limiting = Vec::new();
    if counts.account_and_address.value > limits.per_account_and_address.max
        || (under_attack && retried_from_a_new_address)
    {
        limiting.push(counts.account_and_address);
    }
    if counts.address.value > limits.per_address.max {
        limiting.push(counts.address);
    }
    // Not yet counted for this attempt: the limit is reached at `max`.
    if counts.unknown_accounts_from_address.value >= limits.unknown_accounts_per_address.max {
        limiting.push(counts.unknown_accounts_from_address);
    }
    Verdict::from_limiting(limiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn limits() -> LoginLimits {
        LoginLimits::default()
    }

    /// Counts of an attempt that is the `pair`-th on this account from this address and the
    /// `account`-th on the account overall.
    fn attempt(pair: u64, account: u64, known_address: bool) -> LoginCounts {
        LoginCounts {
            account_and_address: Count::new(pair, 10 * MINUTE),
            account: Count::new(account, 50 * MINUTE),
            address: Count::new(pair, 10 * MINUTE),
            unknown_accounts_from_address: Count::default(),
            known_address,
        }
    }

    #[test]
    fn an_address_gets_five_failed_attempts_per_account_then_waits_for_its_window() {
        for pair in 1..=5 {
            assert_eq!(
                decide_login(&attempt(pair, pair, false), &limits()),
                Verdict::Allowed
            );
        }
        assert_eq!(
            decide_login(&attempt(6, 6, false), &limits()),
            Verdict::Limited {
                retry_after_seconds: 600
            }
        );
    }

    #[test]
    fn a_stranger_limited_on_an_account_does_not_limit_the_owner_at_another_address() {
        // The stranger's attempts made the account count 5 and their own pair 6: refused.
        assert!(matches!(
            decide_login(&attempt(6, 6, false), &limits()),
            Verdict::Limited { .. }
        ));
        // The owner's first attempt from elsewhere: its pair counts 1.
        assert_eq!(decide_login(&attempt(1, 6, false), &limits()), Verdict::Allowed);
    }

    #[test]
    fn under_a_distributed_attack_a_new_address_gets_one_failure_per_window_and_a_known_one_is_untouched() {
        let attacked = 51;
        assert_eq!(
            decide_login(&attempt(1, attacked, false), &limits()),
            Verdict::Allowed,
            "the first try from anywhere is never refused"
        );
        assert!(matches!(
            decide_login(&attempt(2, attacked, false), &limits()),
            Verdict::Limited { .. }
        ));
        for pair in 1..=5 {
            assert_eq!(
                decide_login(&attempt(pair, attacked, true), &limits()),
                Verdict::Allowed,
                "an address the owner logged in from keeps its allowance"
            );
        }
    }

    #[test]
    fn an_address_that_fails_on_many_accounts_or_tries_unknown_ones_is_held_back() {
        let mut spraying = attempt(1, 1, false);
        spraying.address = Count::new(101, 5 * MINUTE);
        assert_eq!(
            decide_login(&spraying, &limits()),
            Verdict::Limited {
                retry_after_seconds: 300
            }
        );
        let mut probing = attempt(1, 1, false);
        probing.unknown_accounts_from_address = Count::new(19, 5 * MINUTE);
        assert_eq!(decide_login(&probing, &limits()), Verdict::Allowed);
        probing.unknown_accounts_from_address = Count::new(20, 5 * MINUTE);
        assert!(matches!(
            decide_login(&probing, &limits()),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn when_several_limits_apply_the_client_waits_for_the_last_window_to_end() {
        let mut both = attempt(6, 6, false);
        both.address = Count::new(101, 14 * MINUTE);
        assert_eq!(
            decide_login(&both, &limits()),
            Verdict::Limited {
                retry_after_seconds: 840
            }
        );
    }

    #[test]
    fn a_single_limit_counts_this_attempt_and_retries_after_at_least_a_second() {
        let limit = Limit::new(2, Duration::from_secs(60));
        assert_eq!(decide(Count::new(2, 100), limit), Verdict::Allowed);
        assert_eq!(
            decide(Count::new(3, 100), limit),
            Verdict::Limited {
                retry_after_seconds: 1
            }
        );
        assert_eq!(
            decide(Count::new(3, 0), limit),
            Verdict::Limited {
                retry_after_seconds: 1
            }
        );
    }
}
