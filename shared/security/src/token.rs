//! Access tokens: short-lived EdDSA JWTs, issued by the identity context and verified locally
//! by every function against the published JWKS.
//!
//! Their header says what they are: `typ` is `at+jwt`, the JWT access-token type of RFC 9068.
//! A verifier refuses any other type, so no other JWT ever signed with the same keys (an ID
//! token, a link in an e-mail) can be presented as an access token.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::{Jwks, KeyError, SigningKeys};
use crate::role::Role;

/// The longest an access token may live; a longer configured lifetime is cut to this.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The `typ` header of an access token (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: Uuid,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not valid before, seconds since the Unix epoch.
    pub nbf: u64,
    pub iat: u64,
    pub roles: Vec<Role>,
    /// The session (refresh-token family) the token was issued for, if any. The identity
    /// context checks it on its own routes, so a revoked session stops there at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Why a token was refused. Callers answer every variant with `401`; the variant is for logs
/// and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not EdDSA")]
    WrongAlgorithm,
    #[error("the token's type is not at+jwt")]
    WrongType,
    #[error("the token names no key id")]
    MissingKeyId,
    #[error("the token's key id {0} is not in the JWKS")]
    UnknownKeyId(KeyIdPreview),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not the expected one")]
    WrongIssuer,
    #[error("the token's audience is not the expected one")]
    WrongAudience,
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        match error.into_kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim),
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => Self::WrongAlgorithm,
            _ => Self::Malformed,
        }
    }
}

/// The start of a key id that no key has, for the logs.
///
/// The key id of a refused token was chosen by whoever sent it: it can be kilobytes long or
/// hold line breaks meant to forge log lines. Only its first characters are kept, escaped,
/// with its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdPreview {
    /// The first characters, escaped.
    shown: String,
    /// The whole key id's length in bytes.
    length: usize,
    truncated: bool,
}

impl KeyIdPreview {
    /// How many characters of the key id are kept.
    pub const SHOWN_CHARACTERS: usize = 24;

    pub fn of(kid: &str) -> Self {
        Self {
            shown: kid
                .chars()
                .take(Self::SHOWN_CHARACTERS)
                .flat_map(char::escape_debug)
                .collect(),
            length: kid.len(),
            truncated: kid.chars().nth(Self::SHOWN_CHARACTERS).is_some(),
        }
    }
}

impl std::fmt::Display for KeyIdPreview {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.truncated {
            write!(formatter, "\"{}…\" ({} bytes)", self.shown, self.length)
        } else {
            write!(formatter, "\"{}\"", self.shown)
        }
    }
}

/// Whether a `typ` header names an access token: `at+jwt`, or its media type
/// `application/at+jwt` (RFC 9068 §2.1, compared without case as media types are).
fn is_access_token_type(typ: Option<&str>) -> bool {
    let Some(typ) = typ else {
        return false;
    };
    let typ = typ.trim();
    let subtype = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    subtype.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
}

/// A signed access token and when it expires.
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub kid: String,
    /// Seconds until expiry.
    pub expires_in: u64,
    pub claims: AccessClaims,
}

impl std::fmt::Debug for IssuedToken {
    // A bearer token is a credential: it never reaches a log.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedToken")
            .field("kid", &self.kid)
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
}

/// Signs access tokens with the newest of its keys.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: SigningKeys,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// `ttl` is capped at [`MAX_ACCESS_TOKEN_TTL`].
    pub fn new(
        signing_keys: SigningKeys,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        if ttl > MAX_ACCESS_TOKEN_TTL {
            tracing::warn!(
                requested_seconds = ttl.as_secs(),
                "Access token lifetime capped at 15 minutes"
            );
        }
        Self {
            keys: signing_keys,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl: ttl.min(MAX_ACCESS_TOKEN_TTL),
        }
    }

    /// A token without a session, e.g. for a service account or a test.
    pub fn issue(&self, user_id: Uuid, roles: &[Role]) -> Result<IssuedToken, TokenError> {
        self.sign(self.claims_now(user_id, roles, None))
    }

    /// A token bound to a session (refresh-token family), which the identity context can revoke.
    pub fn issue_for_session(
        &self,
        user_id: Uuid,
        roles: &[Role],
        session_id: Uuid,
    ) -> Result<IssuedToken, TokenError> {
        self.sign(self.claims_now(user_id, roles, Some(session_id)))
    }

    /// The access-token lifetime in effect.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Every key's public half: what `/.well-known/jwks.json` serves.
    pub fn jwks(&self) -> Jwks {
        self.keys.jwks()
    }

    /// A verifier that accepts exactly what this issuer signs.
    pub fn verifier(&self) -> Result<AccessTokenVerifier, KeyError> {
        AccessTokenVerifier::try_new(self.jwks(), self.issuer.clone(), self.audience.clone())
    }

    fn claims_now(&self, user_id: Uuid, roles: &[Role], sid: Option<Uuid>) -> AccessClaims {
        let now = now_seconds();
        AccessClaims {
            sub: user_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + self.ttl.as_secs(),
            nbf: now,
            iat: now,
            roles: roles.to_vec(),
            sid,
        }
    }

    /// Signs any claims with the newest key (tests use it to forge expired tokens and the like).
    pub fn sign(&self, claims: AccessClaims) -> Result<IssuedToken, TokenError> {
        let key = self.keys.newest();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|error| TokenError::Signing(error.to_string()))?;
        Ok(IssuedToken {
            token,
            kid: key.kid.clone(),
            expires_in: claims.exp.saturating_sub(now_seconds()),
            claims,
        })
    }
}

/// Verifies access tokens locally against a JWKS: EdDSA only, type `at+jwt`, a known `kid`, a
/// good signature, and `exp`, `nbf`, `iss`, `aud` and `sub` as expected.
#[derive(Clone)]
pub struct AccessTokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for AccessTokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        formatter
            .debug_struct("AccessTokenVerifier")
            .field("kids", &kids)
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .finish()
    }
}

impl AccessTokenVerifier {
    /// # Panics
    /// When the JWKS holds no usable Ed25519 key: a function configured like that cannot
    /// authenticate anyone and must not start. Use [`AccessTokenVerifier::try_new`] to handle it.
    pub fn new(jwks: Jwks, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        match Self::try_new(jwks, issuer, audience) {
            Ok(verifier) => verifier,
            Err(error) => panic!("the JWKS cannot verify tokens: {error}"),
        }
    }

    pub fn try_new(
        jwks: Jwks,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeyError> {
        let keys = jwks.decoding_keys()?.into_iter().collect();
        // The algorithm is pinned: whatever the header says, only EdDSA is ever tried.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer.into()]);
        validation.set_audience(&[audience.into()]);
        Ok(Self { keys, validation })
    }

    /// Configuration from the environment: `JWT_ISSUER`, `JWT_AUDIENCE`, and the JWKS either
    /// inline in `JWT_JWKS` or in the file named by `JWT_JWKS_FILE` (see [`Jwks::from_env`]).
    pub fn from_env() -> anyhow::Result<Self> {
        let issuer = runtime::config::required("JWT_ISSUER")?;
        let audience = runtime::config::required("JWT_AUDIENCE")?;
        Ok(Self::try_new(Jwks::from_env()?, issuer, audience)?)
    }

    /// The key ids this verifier accepts.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token)?;
        // Checked before looking at the key so that `alg: HS256` signed with the public key,
        // or any other algorithm, never reaches a verifier.
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        if !is_access_token_type(header.typ.as_deref()) {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| TokenError::UnknownKeyId(KeyIdPreview::of(&kid)))?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::EncodingKey;

    use super::*;

    const ISSUER: &str = "https://identity.commerce.test";
    const AUDIENCE: &str = "commerce";

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(
            SigningKeys::generate("key-1"),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(300),
        )
    }

    fn verifier_of(issuer: &TokenIssuer) -> AccessTokenVerifier {
        AccessTokenVerifier::new(issuer.jwks(), ISSUER, AUDIENCE)
    }

    fn claims(issuer: &TokenIssuer) -> AccessClaims {
        issuer.claims_now(Uuid::now_v7(), &[Role::Customer], Some(Uuid::now_v7()))
    }

    fn encode_part(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn a_freshly_issued_token_verifies_with_its_user_roles_and_session() {
        let issuer = issuer();
        let user = Uuid::now_v7();
        let session = Uuid::now_v7();
        let issued = issuer
            .issue_for_session(user, &[Role::Customer, Role::Admin], session)
            .expect("issue");
        let claims = verifier_of(&issuer).verify(&issued.token).expect("verify");
        assert_eq!(claims.sub, user);
        assert_eq!(claims.roles, [Role::Customer, Role::Admin]);
        assert_eq!(claims.sid, Some(session));
        assert!(issued.expires_in <= 300 && issued.expires_in >= 299);
    }

    #[test]
    fn lifetimes_beyond_fifteen_minutes_are_capped() {
        let issuer = TokenIssuer::new(
            SigningKeys::generate("k"),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(86_400),
        );
        let issued = issuer.issue(Uuid::now_v7(), &[Role::Customer]).expect("issue");
        assert!(issued.claims.exp - issued.claims.iat <= 15 * 60);
    }

    #[test]
    fn a_token_with_alg_none_is_refused() {
        let issuer = issuer();
        let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": "key-1"});
        let payload = serde_json::to_value(claims(&issuer)).expect("claims");
        let token = format!("{}.{}.", encode_part(&header), encode_part(&payload));
        let error = verifier_of(&issuer).verify(&token).expect_err("alg none");
        assert!(
            matches!(error, TokenError::WrongAlgorithm | TokenError::Malformed),
            "{error:?}"
        );
    }

    #[test]
    fn a_token_signed_with_hmac_using_the_public_key_as_secret_is_refused() {
        let issuer = issuer();
        let public_x = issuer.jwks().keys[0].x.clone();
        for secret in [
            public_x.as_bytes().to_vec(),
            URL_SAFE_NO_PAD.decode(&public_x).expect("x"),
        ] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("key-1".to_owned());
            let token = jsonwebtoken::encode(&header, &claims(&issuer), &EncodingKey::from_secret(&secret))
                .expect("sign");
            assert_eq!(
                verifier_of(&issuer).verify(&token),
                Err(TokenError::WrongAlgorithm)
            );
        }
    }

    #[test]
    fn a_token_signed_by_a_key_outside_the_jwks_is_refused() {
        let trusted = issuer();
        let stranger = TokenIssuer::new(
            SigningKeys::generate("key-9"),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(300),
        );
        let token = stranger
            .issue(Uuid::now_v7(), &[Role::Admin])
            .expect("issue")
            .token;
        assert_eq!(
            verifier_of(&trusted).verify(&token),
            Err(TokenError::UnknownKeyId(KeyIdPreview::of("key-9")))
        );
    }

    #[test]
    fn a_token_signed_by_another_key_under_a_trusted_kid_is_refused() {
        let trusted = issuer();
        let impostor = TokenIssuer::new(
            SigningKeys::generate("key-1"),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(300),
        );
        let token = impostor
            .issue(Uuid::now_v7(), &[Role::Admin])
            .expect("issue")
            .token;
        assert_eq!(
            verifier_of(&trusted).verify(&token),
            Err(TokenError::BadSignature)
        );
    }

    /// The header the issuer writes, without the key id.
    fn access_token_header() -> Header {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header
    }

    #[test]
    fn a_token_without_a_kid_is_refused() {
        let issuer = issuer();
        let token = jsonwebtoken::encode(
            &access_token_header(),
            &claims(&issuer),
            &issuer.keys.newest().encoding,
        )
        .expect("sign");
        assert_eq!(verifier_of(&issuer).verify(&token), Err(TokenError::MissingKeyId));
    }

    #[test]
    fn issued_tokens_say_they_are_access_tokens() {
        let issuer = issuer();
        let token = issuer
            .issue(Uuid::now_v7(), &[Role::Customer])
            .expect("issue")
            .token;
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    }

    #[test]
    fn a_jwt_of_another_type_signed_with_a_trusted_key_is_refused() {
        let issuer = issuer();
        for typ in [Some("JWT"), Some("id+jwt"), Some("at+jwt+x"), None] {
            let mut header = access_token_header();
            header.typ = typ.map(str::to_owned);
            header.kid = Some("key-1".to_owned());
            let token = jsonwebtoken::encode(&header, &claims(&issuer), &issuer.keys.newest().encoding)
                .expect("sign");
            assert_eq!(
                verifier_of(&issuer).verify(&token),
                Err(TokenError::WrongType),
                "{typ:?}"
            );
        }
    }

    #[test]
    fn the_media_type_form_of_the_access_token_type_is_accepted() {
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
            assert!(is_access_token_type(Some(typ)), "{typ}");
        }
        for typ in ["", "jwt", "application/jwt", "text/at+jwt", "application/"] {
            assert!(!is_access_token_type(Some(typ)), "{typ}");
        }
    }

    #[test]
    fn an_unknown_kid_is_reported_shortened_and_escaped() {
        let issuer = issuer();
        let forged_kid = format!("line one\nINFO forged log line {}", "x".repeat(10_000));
        let mut header = access_token_header();
        header.kid = Some(forged_kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims(&issuer), &issuer.keys.newest().encoding).expect("sign");
        let error = verifier_of(&issuer).verify(&token).expect_err("unknown kid");
        let logged = error.to_string();
        assert!(matches!(error, TokenError::UnknownKeyId(_)), "{error:?}");
        assert!(logged.len() < 120, "{logged}");
        assert!(!logged.contains('\n'), "{logged}");
        assert!(logged.contains(r"line one\nINFO"), "{logged}");
        assert!(
            logged.contains(&format!("({} bytes)", forged_kid.len())),
            "{logged}"
        );
        assert_eq!(
            KeyIdPreview::of("key-9").to_string(),
            "\"key-9\"",
            "a short key id is shown whole"
        );
    }

    #[test]
    fn an_expired_token_is_refused_beyond_the_leeway() {
        let issuer = issuer();
        let mut expired = claims(&issuer);
        expired.iat -= 1_000;
        expired.nbf -= 1_000;
        expired.exp = now_seconds() - LEEWAY_SECONDS - 5;
        let token = issuer.sign(expired).expect("sign").token;
        assert_eq!(verifier_of(&issuer).verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_that_expired_within_the_leeway_still_verifies() {
        let issuer = issuer();
        let mut barely = claims(&issuer);
        barely.exp = now_seconds() - 5;
        let token = issuer.sign(barely).expect("sign").token;
        assert!(verifier_of(&issuer).verify(&token).is_ok());
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let issuer = issuer();
        let mut early = claims(&issuer);
        early.nbf = now_seconds() + 600;
        early.exp = early.nbf + 300;
        let token = issuer.sign(early).expect("sign").token;
        assert_eq!(verifier_of(&issuer).verify(&token), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let issuer = issuer();
        let mut foreign = claims(&issuer);
        foreign.iss = "https://evil.example".to_owned();
        let token = issuer.sign(foreign).expect("sign").token;
        assert_eq!(verifier_of(&issuer).verify(&token), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let issuer = issuer();
        let mut elsewhere = claims(&issuer);
        elsewhere.aud = "another-platform".to_owned();
        let token = issuer.sign(elsewhere).expect("sign").token;
        assert_eq!(
            verifier_of(&issuer).verify(&token),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn a_token_whose_payload_was_tampered_with_is_refused() {
        let issuer = issuer();
        let token = issuer
            .issue(Uuid::now_v7(), &[Role::Customer])
            .expect("issue")
            .token;
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload")).expect("json");
        payload["roles"] = serde_json::json!(["customer", "admin"]);
        let forged = format!("{}.{}.{}", parts[0], encode_part(&payload), parts[2]);
        assert_eq!(
            verifier_of(&issuer).verify(&forged),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_missing_a_required_claim_is_refused() {
        let issuer = issuer();
        let mut header = access_token_header();
        header.kid = Some("key-1".to_owned());
        let mut payload = serde_json::to_value(claims(&issuer)).expect("claims");
        if let Some(object) = payload.as_object_mut() {
            object.remove("aud");
        }
        let token = jsonwebtoken::encode(&header, &payload, &issuer.keys.newest().encoding).expect("sign");
        // Refused either by the claim check or because the claims no longer parse.
        let error = verifier_of(&issuer).verify(&token).expect_err("no aud");
        assert!(
            matches!(error, TokenError::MissingClaim(_) | TokenError::Malformed),
            "{error:?}"
        );
    }

    #[test]
    fn garbage_is_refused_as_malformed() {
        let verifier = verifier_of(&issuer());
        for garbage in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30"] {
            assert!(verifier.verify(garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn after_rotation_tokens_of_the_old_and_the_new_key_both_verify() {
        let old_issuer = issuer();
        let old_token = old_issuer
            .issue(Uuid::now_v7(), &[Role::Customer])
            .expect("issue");
        let rotated = TokenIssuer::new(
            old_issuer.keys.clone().rotated("key-2").expect("rotate"),
            ISSUER,
            AUDIENCE,
            Duration::from_secs(300),
        );
        let new_token = rotated.issue(Uuid::now_v7(), &[Role::Customer]).expect("issue");
        assert_eq!(new_token.kid, "key-2");
        let verifier = verifier_of(&rotated);
        assert!(verifier.verify(&old_token.token).is_ok());
        assert!(verifier.verify(&new_token.token).is_ok());
    }
}
