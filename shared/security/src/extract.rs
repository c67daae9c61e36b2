//! axum extractors for the caller's identity.
//!
//! Each reads the [`AccessTokenVerifier`] the function put in the request extensions
//! (`.layer(Extension(Arc::new(verifier)))`) and the `Authorization: Bearer <jwt>` header.
//! Every refusal is a `401 UNAUTHENTICATED` in the envelope with the same message, whatever
//! was wrong: a client learns nothing about why a token failed, and the reason is logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use runtime::envelope::ApiError;
use uuid::Uuid;

use crate::role::Role;
use crate::token::{AccessClaims, AccessTokenVerifier};

/// A caller with a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub user_id: Uuid,
    pub roles: Vec<Role>,
}

impl AuthenticatedUser {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A caller with a valid access token and the admin role; others get `403 FORBIDDEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub AuthenticatedUser);

fn unauthenticated() -> ApiError {
    ApiError::unauthorized("UNAUTHENTICATED", "A valid bearer access token is required.")
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S: Send + Sync> FromRequestParts<S> for AccessClaims {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(verifier) = parts.extensions.get::<Arc<AccessTokenVerifier>>().cloned() else {
            return Err(ApiError::internal(&anyhow::anyhow!(
                "no AccessTokenVerifier in the request extensions; add \
                 .layer(Extension(Arc::new(verifier))) to the router"
            )));
        };
        let Some(token) = bearer_token(parts) else {
            tracing::info!("Refused a request without a bearer token");
            return Err(unauthenticated());
        };
        verifier.verify(token).map_err(|reason| {
            tracing::info!(%reason, "Refused an access token");
            unauthenticated()
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = AccessClaims::from_request_parts(parts, state).await?;
        tracing::Span::current().record("user_id", tracing::field::display(claims.sub));
        Ok(Self {
            user_id: claims.sub,
            roles: claims.roles,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthenticatedUser::from_request_parts(parts, state).await?;
        if user.has_role(Role::Admin) {
            Ok(Self(user))
        } else {
            Err(ApiError::forbidden(
                "FORBIDDEN",
                "This action needs the admin role.",
            ))
        }
    }
}
