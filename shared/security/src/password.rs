//! Password hashing with argon2id at the OWASP parameters (19 MiB, two passes, one lane).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so the parameters
//! travel with each hash and can be raised later without invalidating stored ones. Hashing
//! takes tens of milliseconds of CPU: async callers run it on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// A hash that cannot be computed or a stored hash that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|error| PasswordError(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|error| PasswordError(error.to_string()))?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| PasswordError(error.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC hash. A wrong password is `Ok(false)`; an
/// unreadable stored hash is an error.
pub fn verify(password: &str, stored_hash: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored_hash).map_err(|error| PasswordError(error.to_string()))?;
    match hasher()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(error) => Err(PasswordError(error.to_string())),
    }
}

/// A hash of nothing anyone knows, computed once. Logging in to an unknown account verifies
/// against it, so the answer takes as long as for a known account with a wrong password and
/// the timing does not reveal which e-mails are registered.
pub fn verify_against_decoy(password: &str) {
    static DECOY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        let secret: [u8; 32] = rand::random();
        hash(&base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secret,
        ))
        .ok()
    });
    if let Some(decoy) = decoy {
        let _ = verify(password, decoy);
    }
}

/// Whether a stored hash was made with weaker parameters than today's and should be replaced
/// at the next successful login.
pub fn needs_rehash(stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id" || params.m_cost() < MEMORY_KIB || params.t_cost() < ITERATIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let stored = hash("correct horse battery staple").expect("hash");
        assert!(verify("correct horse battery staple", &stored).expect("verify"));
        assert!(!verify("correct horse battery stapler", &stored).expect("verify"));
    }

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_a_fresh_salt() {
        let first = hash("same password").expect("hash");
        let second = hash("same password").expect("hash");
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!needs_rehash(&first));
    }

    #[test]
    fn a_hash_with_weaker_parameters_needs_rehashing() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).expect("params"),
        )
        .hash_password(b"pw", &SaltString::encode_b64(&[7; 16]).expect("salt"))
        .expect("hash")
        .to_string();
        assert!(needs_rehash(&weak));
    }

    #[test]
    fn an_unreadable_stored_hash_is_an_error_not_a_match() {
        assert!(verify("anything", "not a phc string").is_err());
    }
}
