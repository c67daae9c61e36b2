//! MariaDB GTIDs and the relay's position.
//!
//! A MariaDB GTID is `domain-server-sequence`. The position the relay resumes from is the last
//! GTID it delivered in each replication domain, written the way `@@gtid_binlog_pos` and
//! `@slave_connect_state` write it: `0-1-21,1-2-7`.

use std::collections::BTreeMap;
use std::fmt;

/// One MariaDB global transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub sequence: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}-{}", self.domain, self.server, self.sequence)
    }
}

impl std::str::FromStr for Gtid {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.trim().split('-');
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| format!("the GTID {text:?} has no {what}"))
        };
        let domain = next("domain")?;
        let server = next("server id")?;
        let sequence = next("sequence number")?;
        if parts.next().is_some() {
            return Err(format!("the GTID {text:?} has more than three parts"));
        }
        let number = |part: &str| format!("the GTID {text:?} has a non-numeric part {part:?}");
        Ok(Self {
            domain: domain.parse().map_err(|_| number(domain))?,
            server: server.parse().map_err(|_| number(server))?,
            sequence: sequence.parse().map_err(|_| number(sequence))?,
        })
    }
}

/// The last GTID of each domain: where a binlog reader stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPosition {
    by_domain: BTreeMap<u32, Gtid>,
}

impl GtidPosition {
    /// Parses `@@gtid_binlog_pos` syntax; the empty string is the empty position (the start of
    /// the oldest binlog).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut position = Self::default();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let gtid: Gtid = part.parse()?;
            if position.by_domain.insert(gtid.domain, gtid).is_some() {
                return Err(format!(
                    "the position {text:?} names domain {} twice",
                    gtid.domain
                ));
            }
        }
        Ok(position)
    }

    /// Moves the position past a committed transaction.
    pub fn advance(&mut self, gtid: Gtid) {
        self.by_domain.insert(gtid.domain, gtid);
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    pub fn get(&self, domain: u32) -> Option<Gtid> {
        self.by_domain.get(&domain).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = Gtid> + '_ {
        self.by_domain.values().copied()
    }

    /// Whether this position is at or past `other` in every domain `other` names: a reader
    /// standing here has read everything up to `other`. Sequence numbers grow within a
    /// domain (the relay streams in strict mode), so the server ids need not match.
    pub fn covers(&self, other: &GtidPosition) -> bool {
        other.iter().all(|wanted| {
            self.get(wanted.domain)
                .is_some_and(|reached| reached.sequence >= wanted.sequence)
        })
    }

    /// Whether the transaction `gtid` is at or before this position.
    pub fn includes(&self, gtid: Gtid) -> bool {
        self.get(gtid.domain)
            .is_some_and(|reached| reached.sequence >= gtid.sequence)
    }
}

impl fmt::Display for GtidPosition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, gtid) in self.by_domain.values().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{gtid}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_round_trips_through_its_text() {
        let position = GtidPosition::parse("1-2-7, 0-1-21").expect("valid");
        assert_eq!(position.to_string(), "0-1-21,1-2-7");
        assert_eq!(GtidPosition::parse("").expect("valid"), GtidPosition::default());
    }

    #[test]
    fn advancing_replaces_only_the_gtid_of_its_domain() {
        let mut position = GtidPosition::parse("0-1-21,1-2-7").expect("valid");
        position.advance(Gtid {
            domain: 0,
            server: 3,
            sequence: 22,
        });
        assert_eq!(position.to_string(), "0-3-22,1-2-7");
    }

    #[test]
    fn a_position_covers_another_when_it_is_as_far_in_each_of_its_domains() {
        let reached = GtidPosition::parse("0-1-21,1-2-7").expect("valid");
        assert!(reached.covers(&GtidPosition::parse("0-1-21").expect("valid")));
        assert!(reached.covers(&GtidPosition::parse("0-3-20,1-2-7").expect("valid")));
        assert!(reached.covers(&GtidPosition::default()));
        assert!(!reached.covers(&GtidPosition::parse("0-1-22").expect("valid")));
        assert!(!reached.covers(&GtidPosition::parse("2-1-1").expect("valid")));
        let gtid = |text: &str| text.parse::<Gtid>().expect("valid");
        assert!(reached.includes(gtid("1-2-7")));
        assert!(!reached.includes(gtid("1-2-8")));
        assert!(!reached.includes(gtid("5-1-1")));
    }

    #[test]
    fn malformed_positions_are_refused() {
        for text in ["0-1", "0-1-x", "0-1-2-3", "0-1-2,0-1-3"] {
            assert!(GtidPosition::parse(text).is_err(), "{text}");
        }
    }
}
