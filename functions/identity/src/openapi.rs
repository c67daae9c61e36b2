//! Identity's part of the HTTP API's OpenAPI document (docs/adr/0052).

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        crate::http::register_user,
        crate::http::login,
        crate::http::refresh_token,
        crate::http::logout,
        crate::http::get_my_profile,
        crate::http::update_my_profile,
        crate::http::change_password,
        crate::http::withdraw_account,
        crate::http::lock_user,
        crate::http::unlock_user,
        crate::http::get_public_profile,
        crate::http::publish_jwks,
    ),
    tags((name = "identity", description = "Accounts, sessions and tokens."))
)]
struct IdentityDocument;

/// The document of identity's HTTP functions.
pub fn openapi() -> utoipa::openapi::OpenApi {
    IdentityDocument::openapi()
}
