//! The identity context's values, each parsed once at the edge: [`Email`], [`Password`] (the
//! password policy) and [`DisplayName`]. Their constructors name the broken rule; the HTTP
//! layer turns those into field errors. [`AccountStatus`] and its rules say what an account
//! may still do after an admin locked it or its user withdrew (docs/adr/0048).

use unicode_normalization::UnicodeNormalization;

/// Why a value was refused, phrased for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub &'static str);

/// Characters that change how the text around them is displayed without being visible
/// themselves: bidirectional overrides and isolates. A display name with them can pose as
/// someone else's ("admin" written backwards), so they are refused.
fn is_bidi_control(character: char) -> bool {
    matches!(character, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// An e-mail address, normalised: trimmed and lower case.
///
/// Only ASCII addresses are accepted (internationalised addresses need SMTPUTF8 all the way
/// and are a decision for later, ADR 0011). The rules are the practical subset of RFC 5321:
/// one `@`, a dot-atom local part of at most 64 characters, a domain of at least two labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LENGTH: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let address = raw.trim();
        if address.is_empty() {
            return Err(Invalid("is required"));
        }
        if !address.is_ascii() {
            return Err(Invalid("must be an ASCII e-mail address"));
        }
        if address.len() > Self::MAX_LENGTH {
            return Err(Invalid("must be at most 254 characters"));
        }
        let address = address.to_ascii_lowercase();
        let Some((local, domain)) = address.split_once('@') else {
            return Err(Invalid("must be an e-mail address like name@example.com"));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(address))
        } else {
            Err(Invalid("must be an e-mail address like name@example.com"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy: 12 to 128 characters after Unicode NFC normalisation,
/// not only spaces, not the account's e-mail address.
///
/// Normalising makes "é" typed as one code point or as "e" plus an accent the same password.
/// No composition rules (digits, symbols): length is what makes a password strong (NIST
/// SP 800-63B). The value never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub const MIN_CHARACTERS: usize = 12;
    pub const MAX_CHARACTERS: usize = 128;

    /// Checks the policy for a new password of the account with `email`.
    pub fn new_for(raw: &str, email: Option<&Email>) -> Result<Self, Invalid> {
        let password = Self::normalise(raw);
        let characters = password.0.chars().count();
        if characters == 0 {
            return Err(Invalid("is required"));
        }
        if characters < Self::MIN_CHARACTERS {
            return Err(Invalid("must be at least 12 characters"));
        }
        if characters > Self::MAX_CHARACTERS {
            return Err(Invalid("must be at most 128 characters"));
        }
        if password.0.trim().is_empty() {
            return Err(Invalid("must not be only spaces"));
        }
        if password.0.chars().any(char::is_control) {
            return Err(Invalid("must not contain control characters"));
        }
        if email.is_some_and(|email| password.0.to_lowercase() == email.as_str()) {
            return Err(Invalid("must not be the e-mail address"));
        }
        Ok(password)
    }

    /// A password as typed at login: normalised like at registration, no policy (a policy
    /// change must not lock out accounts with older passwords). Absurd lengths are cut so an
    /// attacker cannot make the server hash megabytes.
    pub fn candidate(raw: &str) -> Self {
        let mut password = Self::normalise(raw);
        if let Some((index, _)) = password.0.char_indices().nth(Self::MAX_CHARACTERS * 4) {
            password.0.truncate(index);
        }
        password
    }

    fn normalise(raw: &str) -> Self {
        Self(raw.nfc().collect())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters after trimming and NFC, without control or
/// bidirectional-override characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARACTERS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name: String = raw.trim().nfc().collect();
        if name.is_empty() {
            return Err(Invalid("is required"));
        }
        if name.chars().count() > Self::MAX_CHARACTERS {
            return Err(Invalid("must be at most 100 characters"));
        }
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(Invalid("must not contain control or text-direction characters"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an account is in its life: the only moves are ACTIVE ⇄ LOCKED (an admin) and
/// ACTIVE → WITHDRAWN (its user), and WITHDRAWN is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    /// An admin locked it: no login, no refresh, no session.
    Locked,
    /// Its user withdrew: its personal data is erased and it is gone for good.
    Withdrawn,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Locked => "LOCKED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    /// The status as stored; `None` for a value this code does not know.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "ACTIVE" => Some(Self::Active),
            "LOCKED" => Some(Self::Locked),
            "WITHDRAWN" => Some(Self::Withdrawn),
            _ => None,
        }
    }
}

/// What an admin asked of an account's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockChange {
    Lock,
    Unlock,
}

/// Why an admin's lock or unlock was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LockRefusal {
    /// An admin who locks their own account ends their own sessions and has no one left to
    /// unlock it; another admin must do it.
    #[error("an admin cannot lock their own account")]
    OwnAccount,
    #[error("the account was withdrawn")]
    Withdrawn,
}

/// What a lock or unlock does to an account in `current` status, decided without I/O:
/// `Ok(Some(status))` moves it there, `Ok(None)` means it is there already (asking twice
/// changes nothing and announces nothing).
pub fn decide_lock(
    change: LockChange,
    current: AccountStatus,
    is_own_account: bool,
) -> Result<Option<AccountStatus>, LockRefusal> {
    match (change, current) {
        (_, AccountStatus::Withdrawn) => Err(LockRefusal::Withdrawn),
        (LockChange::Lock, _) if is_own_account => Err(LockRefusal::OwnAccount),
        (LockChange::Lock, AccountStatus::Locked) | (LockChange::Unlock, AccountStatus::Active) => Ok(None),
        (LockChange::Lock, AccountStatus::Active) => Ok(Some(AccountStatus::Locked)),
        (LockChange::Unlock, AccountStatus::Locked) => Ok(Some(AccountStatus::Active)),
    }
}

/// The e-mail column of a withdrawn account: `withdrawn:<id>`. It has no `@`, so
/// [`Email::parse`] refuses it and no registration or login can ever produce it; the id makes
/// it unique; and the real address is free to register again.
pub fn withdrawn_email(user_id: uuid::Uuid) -> String {
    format!("withdrawn:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace+shop@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace+shop@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for raw in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@example.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example..com",
            "ünïcode@example.com",
            "a@exämple.com",
            "a\u{0}@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }

    #[test]
    fn the_password_policy_counts_characters_not_bytes() {
        // Twelve characters of four bytes each.
        assert!(Password::new_for(&"🔑".repeat(12), None).is_ok());
        assert!(Password::new_for(&"🔑".repeat(11), None).is_err());
        assert!(Password::new_for(&"x".repeat(129), None).is_err());
        assert!(Password::new_for(&" ".repeat(20), None).is_err());
        assert!(Password::new_for("tab\tinside the password", None).is_err());
    }

    #[test]
    fn a_password_equal_to_the_email_is_refused() {
        let email = Email::parse("longer.name@example.com").expect("valid");
        assert!(Password::new_for("Longer.Name@example.com", Some(&email)).is_err());
    }

    #[test]
    fn composed_and_decomposed_accents_are_the_same_password() {
        let composed = Password::new_for("caf\u{e9} au lait 2024", None).expect("valid");
        let decomposed = Password::candidate("cafe\u{301} au lait 2024");
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn passwords_never_print() {
        let password = Password::new_for("correct horse battery", None).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn display_names_with_invisible_direction_changes_or_controls_are_refused() {
        assert!(DisplayName::parse("nimda\u{202E}").is_err());
        assert!(DisplayName::parse("line\nbreak").is_err());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
        assert_eq!(DisplayName::parse("  Zoë 👩‍💻 ").expect("valid").as_str(), "Zoë 👩‍💻");
    }

    #[test]
    fn the_email_of_a_withdrawn_account_is_no_address_anyone_can_register() {
        let user_id = uuid::Uuid::now_v7();
        let marker = withdrawn_email(user_id);
        assert!(Email::parse(&marker).is_err());
        assert!(marker.len() <= Email::MAX_LENGTH);
        assert_ne!(marker, withdrawn_email(uuid::Uuid::now_v7()));
    }

    #[test]
    fn an_admin_locks_an_active_account_and_unlocks_a_locked_one() {
        use AccountStatus::{Active, Locked};
        assert_eq!(decide_lock(LockChange::Lock, Active, false), Ok(Some(Locked)));
        assert_eq!(decide_lock(LockChange::Unlock, Locked, false), Ok(Some(Active)));
    }

    #[test]
    fn locking_a_locked_account_or_unlocking_an_active_one_changes_nothing() {
        use AccountStatus::{Active, Locked};
        assert_eq!(decide_lock(LockChange::Lock, Locked, false), Ok(None));
        assert_eq!(decide_lock(LockChange::Unlock, Active, false), Ok(None));
        // An admin's own account is never locked, but unlocking it is harmless.
        assert_eq!(decide_lock(LockChange::Unlock, Active, true), Ok(None));
    }

    #[test]
    fn an_admin_cannot_lock_themselves_and_nobody_touches_a_withdrawn_account() {
        assert_eq!(
            decide_lock(LockChange::Lock, AccountStatus::Active, true),
            Err(LockRefusal::OwnAccount)
        );
        for change in [LockChange::Lock, LockChange::Unlock] {
            assert_eq!(
                decide_lock(change, AccountStatus::Withdrawn, false),
                Err(LockRefusal::Withdrawn)
            );
        }
    }

    #[test]
    fn every_status_reads_back_as_itself() {
        for status in [
            AccountStatus::Active,
            AccountStatus::Locked,
            AccountStatus::Withdrawn,
        ] {
            assert_eq!(AccountStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(AccountStatus::parse("active"), None);
    }
}
