//! Ed25519 signing keys and their public halves as a JSON Web Key Set.
//!
//! Both travel as JWK sets (RFC 7517, key type `OKP`, curve `Ed25519`, RFC 8037): the signing
//! set carries each key's private `d`, the published [`Jwks`] only `x`. A signing set lists
//! keys oldest first and the **last** key signs; rotating appends a key, so the JWKS derived
//! from the set publishes old and new while tokens signed with the old key are still alive.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

/// A key set that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key set is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the key set has no keys")]
    Empty,
    #[error("key {kid:?}: {reason}")]
    InvalidKey { kid: String, reason: String },
    #[error("the key id {0:?} appears more than once")]
    DuplicateKid(String),
}

/// The DER prefix of a PKCS #8 v1 document holding an Ed25519 private key (RFC 8410): the
/// 32-byte seed follows it. jsonwebtoken takes Ed25519 signing keys in this form.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// One Ed25519 key pair with its key id.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    seed: [u8; 32],
    public: [u8; 32],
    pub(crate) encoding: EncodingKey,
}

impl SigningKey {
    fn from_seed(kid: String, seed: [u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let mut pkcs8 = Vec::with_capacity(48);
        pkcs8.extend_from_slice(&ED25519_PKCS8_PREFIX);
        pkcs8.extend_from_slice(&seed);
        Self {
            kid,
            seed,
            public,
            encoding: EncodingKey::from_ed_der(&pkcs8),
        }
    }

    fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.public),
            alg: Some("EdDSA".to_owned()),
            key_use: Some("sig".to_owned()),
        }
    }
}

/// The identity context's signing keys, oldest first; the newest signs.
#[derive(Clone)]
pub struct SigningKeys {
    keys: Vec<SigningKey>,
}

impl std::fmt::Debug for SigningKeys {
    // Only the key ids: private keys never reach a log.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKeys")
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    d: String,
}

#[derive(Serialize, Deserialize)]
struct PrivateJwks {
    keys: Vec<PrivateJwk>,
}

impl SigningKeys {
    /// A set of one freshly generated key (tests, the local stack's first run).
    pub fn generate(kid: &str) -> Self {
        Self {
            keys: vec![SigningKey::from_seed(kid.to_owned(), rand::random())],
        }
    }

    /// Rotation: adds a freshly generated key, which signs from now on. The older keys stay
    /// in the JWKS so the tokens they signed keep verifying until they expire.
    pub fn rotated(mut self, new_kid: &str) -> Result<Self, KeyError> {
        if self.keys.iter().any(|key| key.kid == new_kid) {
            return Err(KeyError::DuplicateKid(new_kid.to_owned()));
        }
        self.keys
            .push(SigningKey::from_seed(new_kid.to_owned(), rand::random()));
        Ok(self)
    }

    /// Drops every key but the newest `keep` (after the old keys' tokens have expired).
    pub fn retain_newest(mut self, keep: usize) -> Self {
        let keep = keep.max(1);
        if self.keys.len() > keep {
            self.keys.drain(..self.keys.len() - keep);
        }
        self
    }

    /// Reads a private JWK set: `{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid", "d", "x"?}]}`.
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        let set: PrivateJwks = serde_json::from_str(json)?;
        if set.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys: Vec<SigningKey> = Vec::with_capacity(set.keys.len());
        for jwk in set.keys {
            let invalid = |reason: &str| KeyError::InvalidKey {
                kid: jwk.kid.clone(),
                reason: reason.to_owned(),
            };
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(invalid("only OKP keys on curve Ed25519 are supported"));
            }
            if jwk.kid.trim().is_empty() {
                return Err(invalid("the key id is empty"));
            }
            let seed: [u8; 32] = URL_SAFE_NO_PAD
                .decode(jwk.d.trim_end_matches('='))
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| invalid("d is not 32 bytes of base64url"))?;
            let key = SigningKey::from_seed(jwk.kid.clone(), seed);
            if let Some(x) = &jwk.x
                && x.trim_end_matches('=') != URL_SAFE_NO_PAD.encode(key.public)
            {
                return Err(invalid("x is not the public key of d"));
            }
            if keys.iter().any(|existing| existing.kid == key.kid) {
                return Err(KeyError::DuplicateKid(key.kid));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// The private JWK set, for writing a key file. Handle it as a secret.
    pub fn to_private_json(&self) -> String {
        let set = PrivateJwks {
            keys: self
                .keys
                .iter()
                .map(|key| PrivateJwk {
                    kty: "OKP".to_owned(),
                    crv: "Ed25519".to_owned(),
                    kid: key.kid.clone(),
                    x: Some(URL_SAFE_NO_PAD.encode(key.public)),
                    d: URL_SAFE_NO_PAD.encode(key.seed),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&set).unwrap_or_default()
    }

    /// Reads the private JWK set from a file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let json = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("cannot read the signing keys {}: {error}", path.display()))?;
        Self::from_json(&json)
            .map_err(|error| anyhow::anyhow!("the signing keys in {} are unusable: {error}", path.display()))
    }

    /// Local configuration: `JWT_SIGNING_KEYS` (the private JWK set itself) or
    /// `JWT_SIGNING_KEYS_FILE` (a path to it).
    pub fn from_env() -> anyhow::Result<Self> {
        if let Ok(json) = runtime::config::required("JWT_SIGNING_KEYS") {
            return Self::from_json(&json)
                .map_err(|error| anyhow::anyhow!("JWT_SIGNING_KEYS is unusable: {error}"));
        }
        let path = runtime::config::required("JWT_SIGNING_KEYS_FILE").map_err(|_| {
            anyhow::anyhow!("set JWT_SIGNING_KEYS (a private JWK set) or JWT_SIGNING_KEYS_FILE (its path)")
        })?;
        Self::from_file(Path::new(&path))
    }

    /// The key ids, oldest first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|key| key.kid.as_str()).collect()
    }

    /// The public halves of every key, to publish.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(SigningKey::public_jwk).collect(),
        }
    }

    /// The key that signs: the newest.
    pub(crate) fn newest(&self) -> &SigningKey {
        self.keys
            .last()
            .expect("the constructors never build an empty key set")
    }
}

/// The public half of one signing key, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub kid: String,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// A JSON Web Key Set of Ed25519 public keys: what `/.well-known/jwks.json` serves and what
/// every verifier is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        Ok(serde_json::from_str(json)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The public keys from the environment: inline in `JWT_JWKS`, or in the file named by
    /// `JWT_JWKS_FILE`. Verifiers read them so, and so does the function that publishes them:
    /// neither needs a private key.
    pub fn from_env() -> anyhow::Result<Self> {
        let json = match runtime::config::required("JWT_JWKS") {
            Ok(json) => json,
            Err(_) => {
                let path = runtime::config::required("JWT_JWKS_FILE").map_err(|_| {
                    anyhow::anyhow!("set JWT_JWKS (the JWKS JSON) or JWT_JWKS_FILE (its path)")
                })?;
                std::fs::read_to_string(Path::new(&path))
                    .map_err(|error| anyhow::anyhow!("cannot read the JWKS {path}: {error}"))?
            }
        };
        Ok(Self::from_json(&json)?)
    }

    /// The decoding key of each usable key by id. Keys of other types or curves are refused
    /// rather than skipped, so a misconfigured set fails at start-up.
    pub(crate) fn decoding_keys(&self) -> Result<Vec<(String, DecodingKey)>, KeyError> {
        if self.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut decoding = Vec::with_capacity(self.keys.len());
        for jwk in &self.keys {
            let invalid = |reason: &str| KeyError::InvalidKey {
                kid: jwk.kid.clone(),
                reason: reason.to_owned(),
            };
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                return Err(invalid("only OKP keys on curve Ed25519 are supported"));
            }
            if jwk.alg.as_deref().is_some_and(|alg| alg != "EdDSA") {
                return Err(invalid("alg must be EdDSA"));
            }
            let x_bytes = URL_SAFE_NO_PAD
                .decode(jwk.x.trim_end_matches('='))
                .ok()
                .filter(|bytes| bytes.len() == 32)
                .ok_or_else(|| invalid("x is not 32 bytes of base64url"))?;
            if decoding.iter().any(|(kid, _)| kid == &jwk.kid) {
                return Err(KeyError::DuplicateKid(jwk.kid.clone()));
            }
            let key = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(x_bytes))
                .map_err(|error| invalid(&error.to_string()))?;
            decoding.push((jwk.kid.clone(), key));
        }
        Ok(decoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_key_set_survives_a_round_trip_through_its_file_format() {
        let keys = SigningKeys::generate("k1").rotated("k2").expect("rotate");
        let again = SigningKeys::from_json(&keys.to_private_json()).expect("read back");
        assert_eq!(again.kids(), ["k1", "k2"]);
        assert_eq!(again.jwks(), keys.jwks());
    }

    #[test]
    fn the_jwks_publishes_every_key_without_its_private_part() {
        let keys = SigningKeys::generate("old").rotated("new").expect("rotate");
        let json = keys.jwks().to_json();
        assert!(json.contains(r#""kid":"old""#) && json.contains(r#""kid":"new""#));
        assert!(!json.contains(r#""d""#), "{json}");
    }

    #[test]
    fn the_newest_key_signs() {
        let keys = SigningKeys::generate("old").rotated("new").expect("rotate");
        assert_eq!(keys.newest().kid, "new");
        assert_eq!(keys.clone().retain_newest(1).kids(), ["new"]);
    }

    #[test]
    fn a_key_whose_public_part_does_not_match_is_refused() {
        let one = SigningKeys::generate("a").to_private_json();
        let other: serde_json::Value =
            serde_json::from_str(&SigningKeys::generate("a").to_private_json()).expect("json");
        let mut mixed: serde_json::Value = serde_json::from_str(&one).expect("json");
        mixed["keys"][0]["x"] = other["keys"][0]["x"].clone();
        let error = SigningKeys::from_json(&mixed.to_string()).expect_err("mismatch");
        assert!(matches!(error, KeyError::InvalidKey { .. }), "{error}");
    }

    #[test]
    fn debug_output_never_shows_private_keys() {
        let keys = SigningKeys::generate("k1");
        let private: serde_json::Value = serde_json::from_str(&keys.to_private_json()).expect("json");
        let d = private["keys"][0]["d"].as_str().expect("d").to_owned();
        assert!(!format!("{keys:?}").contains(&d));
    }

    #[test]
    fn a_jwks_with_a_non_ed25519_key_is_refused() {
        let jwks = Jwks::from_json(r#"{"keys":[{"kty":"RSA","crv":"","kid":"r","x":""}]}"#).expect("parse");
        assert!(jwks.decoding_keys().is_err());
    }
}
