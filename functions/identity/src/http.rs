//! The HTTP side: request and response bodies, one router per function, and the one place
//! where use-case errors become envelope answers with stable codes.
//!
//! Request bodies have every field optional so that a missing field is reported with the
//! others as a field error (`400 VALIDATION_FAILED`), not as an opaque parse failure. Nothing
//! is written before a body has passed validation.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Extension, Router};
use runtime::envelope::{ApiError, Envelope, FieldError, Json, created, ok};
use security::{AccessClaims, AccessTokenVerifier, Jwks, Role};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;

use crate::domain::{DisplayName, Email, Invalid, Password};
use crate::rate_limit::LoginLimiter;
use crate::sessions::{Issuing, SessionTokens};
use crate::store::{self, Profile};
use crate::use_cases::{
    self, ChangePassword, ChangePasswordError, ClientInfo, LogIn, LoginError, ProfileError, RefreshError,
    RegisterError, RegisterUser, SessionError,
};

/// Identity bodies are a few short strings; anything bigger is refused with `413`.
pub const BODY_LIMIT: usize = 8 * 1024;

pub const REGISTER_PATH: &str = "/auth/register";
pub const LOGIN_PATH: &str = "/auth/login";
pub const REFRESH_PATH: &str = "/auth/refresh";
pub const LOGOUT_PATH: &str = "/auth/logout";
pub const MY_PROFILE_PATH: &str = "/users/me";
pub const MY_PASSWORD_PATH: &str = "/users/me/password";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

// ---------------------------------------------------------------------------------------
// Routers, one per function

/// `POST /auth/register` (function `register-user`).
pub fn register_user_routes(pool: MySqlPool) -> Router {
    Router::new()
        .route(REGISTER_PATH, post(register_user))
        .with_state(pool)
}

/// What the login function needs.
#[derive(Debug, Clone)]
pub struct LoginState {
    pub pool: MySqlPool,
    pub issuing: Issuing,
    pub limiter: LoginLimiter,
}

/// `POST /auth/login` (function `login`).
pub fn login_routes(state: LoginState) -> Router {
    Router::new()
        .route(LOGIN_PATH, post(login))
        .with_state(Arc::new(state))
}

/// What the refresh function needs.
#[derive(Debug, Clone)]
pub struct RefreshState {
    pub pool: MySqlPool,
    pub issuing: Issuing,
}

/// `POST /auth/refresh` (function `refresh-token`).
pub fn refresh_token_routes(state: RefreshState) -> Router {
    Router::new()
        .route(REFRESH_PATH, post(refresh_token))
        .with_state(Arc::new(state))
}

/// `POST /auth/logout` (function `logout`).
pub fn logout_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(LOGOUT_PATH, post(logout))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `GET /users/me` (function `get-my-profile`).
pub fn get_my_profile_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(MY_PROFILE_PATH, get(get_my_profile))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `PATCH /users/me` (function `update-my-profile`).
pub fn update_my_profile_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(MY_PROFILE_PATH, patch(update_my_profile))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `PUT /users/me/password` (function `change-password`).
pub fn change_password_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(MY_PASSWORD_PATH, put(change_password))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `GET /.well-known/jwks.json` (function `jwks`).
pub fn jwks_routes(jwks: Jwks) -> Router {
    Router::new()
        .route(JWKS_PATH, get(publish_jwks))
        .with_state(Arc::new(jwks))
}

/// Every identity route in one router: for in-process tests and the benchmark. Deployed,
/// each function serves only its own.
pub fn all_routes(login: LoginState, verifier: Arc<AccessTokenVerifier>) -> Router {
    let pool = login.pool.clone();
    let refresh = RefreshState {
        pool: pool.clone(),
        issuing: login.issuing.clone(),
    };
    let jwks = login.issuing.issuer.jwks();
    register_user_routes(pool.clone())
        .merge(login_routes(login))
        .merge(refresh_token_routes(refresh))
        .merge(logout_routes(pool.clone(), Arc::clone(&verifier)))
        .merge(get_my_profile_routes(pool.clone(), Arc::clone(&verifier)))
        .merge(update_my_profile_routes(pool.clone(), Arc::clone(&verifier)))
        .merge(change_password_routes(pool, verifier))
        .merge(jwks_routes(jwks))
}

// ---------------------------------------------------------------------------------------
// Bodies

/// Collects field errors while a body is validated.
#[derive(Debug, Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Invalid(reason)) => {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    reason: reason.to_owned(),
                });
                None
            }
        }
    }

    fn required<'a>(&mut self, field: &str, value: Option<&'a str>) -> Option<&'a str> {
        if value.is_none() {
            self.0.push(FieldError {
                field: field.to_owned(),
                reason: "is required".to_owned(),
            });
        }
        value
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: Option<String>,
    pub password: Option<String>,
    pub display_name: Option<String>,
}

impl RegisterRequest {
    fn validate(self) -> Result<RegisterUser, ApiError> {
        let mut fields = Fields::default();
        let email = fields
            .required("email", self.email.as_deref())
            .and_then(|raw| fields.check("email", Email::parse(raw)));
        let password = fields
            .required("password", self.password.as_deref())
            .and_then(|raw| fields.check("password", Password::new_for(raw, email.as_ref())));
        let display_name = fields
            .required("displayName", self.display_name.as_deref())
            .and_then(|raw| fields.check("displayName", DisplayName::parse(raw)));
        fields.into_result()?;
        match (email, password, display_name) {
            (Some(email), Some(password), Some(display_name)) => Ok(RegisterUser {
                email,
                password,
                display_name,
            }),
            _ => Err(ApiError::validation(Vec::new())),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfileRequest {
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Profile> for ProfileView {
    fn from(profile: Profile) -> Self {
        Self {
            id: profile.user_id.to_string(),
            email: profile.email,
            display_name: profile.display_name,
            roles: profile.roles,
            created_at: profile.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    pub done: bool,
}

// ---------------------------------------------------------------------------------------
// Handlers: extract → convert → call → map

async fn register_user(
    State(pool): State<MySqlPool>,
    Json(body): Json<RegisterRequest>,
) -> Result<Envelope<RegisteredUserView>, ApiError> {
    let command = body.validate()?;
    let user = use_cases::register(&pool, command).await?;
    Ok(created(RegisteredUserView {
        id: user.user_id.to_string(),
        email: user.email,
        display_name: user.display_name,
    }))
}

async fn login(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Response {
    let mut fields = Fields::default();
    let email = fields.required("email", body.email.as_deref()).map(str::to_owned);
    let password = fields
        .required("password", body.password.as_deref())
        .map(Password::candidate);
    if let Err(error) = fields.into_result() {
        return error.into_response();
    }
    let (Some(email), Some(password)) = (email, password) else {
        return ApiError::validation(Vec::new()).into_response();
    };
    let command = LogIn {
        email,
        password,
        client: client_info(&headers),
    };
    match use_cases::log_in(&state.pool, &state.issuing, &state.limiter, command).await {
        Ok(tokens) => no_store(ok(tokens)),
        Err(LoginError::RateLimited { retry_after_seconds }) => (
            [(header::RETRY_AFTER, retry_after_seconds.to_string())],
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many login attempts. Retry later.",
            ),
        )
            .into_response(),
        Err(LoginError::InvalidCredentials) => ApiError::unauthorized(
            "INVALID_CREDENTIALS",
            "The e-mail address or the password is wrong.",
        )
        .into_response(),
        Err(LoginError::Unexpected(error)) => ApiError::internal(&error).into_response(),
    }
}

async fn refresh_token(State(state): State<Arc<RefreshState>>, Json(body): Json<RefreshRequest>) -> Response {
    let Some(presented) = body
        .refresh_token
        .as_deref()
        .filter(|token| !token.trim().is_empty())
    else {
        return ApiError::validation(Vec::new())
            .with_field("refreshToken", "is required")
            .into_response();
    };
    match use_cases::refresh(&state.pool, &state.issuing, presented).await {
        Ok(tokens) => no_store(ok(tokens)),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn logout(State(pool): State<MySqlPool>, claims: AccessClaims) -> Result<Envelope<Done>, ApiError> {
    use_cases::log_out(&pool, &claims).await?;
    Ok(ok(Done { done: true }))
}

async fn get_my_profile(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
) -> Result<Envelope<ProfileView>, ApiError> {
    let profile = use_cases::my_profile(&pool, &claims).await?;
    Ok(ok(profile.into()))
}

async fn update_my_profile(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
    Json(body): Json<UpdateProfileRequest>,
) -> Result<Envelope<ProfileView>, ApiError> {
    let mut fields = Fields::default();
    let display_name = fields
        .required("displayName", body.display_name.as_deref())
        .and_then(|raw| fields.check("displayName", DisplayName::parse(raw)));
    fields.into_result()?;
    let display_name = display_name.ok_or_else(|| ApiError::validation(Vec::new()))?;
    let profile = use_cases::update_my_profile(&pool, &claims, display_name).await?;
    Ok(ok(profile.into()))
}

async fn change_password(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<Envelope<Done>, ApiError> {
    let mut fields = Fields::default();
    let current = fields
        .required("currentPassword", body.current_password.as_deref())
        .map(Password::candidate);
    let new = fields
        .required("newPassword", body.new_password.as_deref())
        .map(str::to_owned);
    fields.into_result()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::validation(Vec::new()));
    };
    use_cases::change_password(&pool, &claims, ChangePassword { current, new }).await?;
    Ok(ok(Done { done: true }))
}

/// The JWKS in its standard shape (not the envelope): JWT libraries read it as is.
async fn publish_jwks(State(jwks): State<Arc<Jwks>>) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
        axum::Json(jwks.as_ref().clone()),
    )
        .into_response()
}

/// Token answers must not be cached by any proxy or browser.
fn no_store(envelope: Envelope<SessionTokens>) -> Response {
    let mut response = envelope.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The client's address and user agent. Behind API Gateway (or any proxy) the address is the
/// last entry of `X-Forwarded-For`, the one the nearest proxy appended; earlier entries come
/// from the client and may be forged.
fn client_info(headers: &HeaderMap) -> ClientInfo {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let ip = text("x-forwarded-for")
        .and_then(|list| list.rsplit(',').next())
        .or_else(|| text("x-real-ip"))
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .unwrap_or("unknown");
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    ClientInfo {
        ip: store::truncate(ip, 45).to_owned(),
        user_agent: store::truncate(&user_agent, 512).to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Errors → envelope, the one place for this transport

fn session_revoked() -> ApiError {
    ApiError::unauthorized("SESSION_REVOKED", "This session has ended. Log in again.")
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => {
                ApiError::conflict("EMAIL_TAKEN", "An account with this e-mail address exists.")
            }
            RegisterError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::UnknownToken => {
                ApiError::unauthorized("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
            }
            RefreshError::Expired => ApiError::unauthorized(
                "REFRESH_TOKEN_EXPIRED",
                "The refresh token has expired. Log in again.",
            ),
            RefreshError::SessionRevoked => session_revoked(),
            RefreshError::Reused => ApiError::unauthorized(
                "REFRESH_TOKEN_REUSED",
                "This refresh token was already used; the session has been ended. Log in again.",
            ),
            RefreshError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Revoked => session_revoked(),
            SessionError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}

impl From<ProfileError> for ApiError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::SessionRevoked => session_revoked(),
            ProfileError::NotFound => ApiError::not_found("USER_NOT_FOUND", "The account no longer exists."),
            ProfileError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::SessionRevoked => session_revoked(),
            ChangePasswordError::WrongCurrentPassword => {
                ApiError::validation(Vec::new()).with_field("currentPassword", "is wrong")
            }
            ChangePasswordError::WeakNewPassword(Invalid(reason)) => {
                ApiError::validation(Vec::new()).with_field("newPassword", reason)
            }
            ChangePasswordError::NotFound => {
                ApiError::not_found("USER_NOT_FOUND", "The account no longer exists.")
            }
            ChangePasswordError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}
