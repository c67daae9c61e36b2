//! Security shared by every HTTP function: who the caller is, and what they may do.
//!
//! - [`password`]: argon2id hashing and verification of passwords (OWASP parameters).
//! - [`keys`]: Ed25519 signing keys ([`SigningKeys`], newest signs) and their public halves as
//!   a JWKS ([`Jwks`]), loaded from the environment or a file — or, with the `aws` feature,
//!   from AWS Secrets Manager or SSM Parameter Store ([`aws`]).
//! - [`token`]: short-lived access tokens. [`TokenIssuer`] signs them (only the identity
//!   context does); [`AccessTokenVerifier`] checks them locally in every function against the
//!   JWKS, with the algorithm pinned, the type `at+jwt` and `exp`, `iss`, `aud` and `sub`
//!   required.
//! - [`extract`]: axum extractors, so a handler's signature shows who may call it:
//!   [`AuthenticatedUser`] (any valid bearer token), [`Admin`] (the admin role), and
//!   [`AccessClaims`] itself when a handler needs the session id.
//!
//! A function makes the verifier reachable to the extractors with
//! `router.layer(Extension(Arc::new(AccessTokenVerifier::from_env()?)))`.

#[cfg(feature = "aws")]
pub mod aws;
pub mod extract;
pub mod keys;
pub mod password;
mod role;
pub mod token;

pub use extract::{Admin, AuthenticatedUser};
pub use keys::{Jwks, PublicJwk, SigningKeys};
pub use role::Role;
pub use token::{AccessClaims, AccessTokenVerifier, IssuedToken, KeyIdPreview, TokenError, TokenIssuer};
