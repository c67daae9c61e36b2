//! The HTTP side: request and response bodies, one router per function, and the one place
//! where use-case errors become envelope answers with stable codes.
//!
//! Request bodies have every field optional so that a missing field is reported with the
//! others as a field error (`400 VALIDATION_FAILED`), not as an opaque parse failure. Nothing
//! is written before a body has passed validation.
//!
//! Answers that ask the client to come back later carry `Retry-After`: `429 RATE_LIMITED`
//! when a limit was reached (ADR 0013), `503 SERVICE_BUSY` when too many passwords are being
//! hashed at once (ADR 0014).

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

use crate::client::{ClientAddress, TrustedProxies};
use crate::domain::{DisplayName, Email, Invalid, Password};
use crate::hashing::{self, PasswordHashing};
use crate::rate_limit::{AttemptLimiter, LoginGuard};
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

/// What the register function needs.
#[derive(Debug, Clone)]
pub struct RegisterState {
    pub pool: MySqlPool,
    pub hashing: PasswordHashing,
    /// Registrations per address.
    pub limiter: AttemptLimiter,
    pub trusted: TrustedProxies,
}

/// `POST /auth/register` (function `register-user`).
pub fn register_user_routes(state: RegisterState) -> Router {
    let trusted = state.trusted;
    Router::new()
        .route(REGISTER_PATH, post(register_user))
        .with_state(Arc::new(state))
        .layer(Extension(trusted))
}

/// What the login function needs.
#[derive(Debug, Clone)]
pub struct LoginState {
    pub pool: MySqlPool,
    pub issuing: Issuing,
    pub guard: LoginGuard,
    pub hashing: PasswordHashing,
    pub trusted: TrustedProxies,
}

/// `POST /auth/login` (function `login`).
pub fn login_routes(state: LoginState) -> Router {
    let trusted = state.trusted;
    Router::new()
        .route(LOGIN_PATH, post(login))
        .with_state(Arc::new(state))
        .layer(Extension(trusted))
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

/// What the change-password function needs.
#[derive(Debug, Clone)]
pub struct ChangePasswordState {
    pub pool: MySqlPool,
    pub hashing: PasswordHashing,
    /// Wrong current passwords per session.
    pub limiter: AttemptLimiter,
}

/// `PUT /users/me/password` (function `change-password`).
pub fn change_password_routes(state: ChangePasswordState, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(MY_PASSWORD_PATH, put(change_password))
        .with_state(Arc::new(state))
        .layer(Extension(verifier))
}

/// `GET /.well-known/jwks.json` (function `jwks`).
pub fn jwks_routes(jwks: Jwks) -> Router {
    Router::new()
        .route(JWKS_PATH, get(publish_jwks))
        .with_state(Arc::new(jwks))
}

/// What all identity functions need together, for [`all_routes`].
#[derive(Debug, Clone)]
pub struct Identity {
    pub pool: MySqlPool,
    pub issuing: Issuing,
    pub hashing: PasswordHashing,
    pub trusted: TrustedProxies,
    pub login_guard: LoginGuard,
    pub registrations: AttemptLimiter,
    pub password_changes: AttemptLimiter,
}

/// Every identity route in one router: for in-process tests and the benchmark. Deployed,
/// each function serves only its own.
pub fn all_routes(identity: Identity, verifier: Arc<AccessTokenVerifier>) -> Router {
    let Identity {
        pool,
        issuing,
        hashing,
        trusted,
        login_guard,
        registrations,
        password_changes,
    } = identity;
    let jwks = issuing.issuer.jwks();
    register_user_routes(RegisterState {
        pool: pool.clone(),
        hashing: hashing.clone(),
        limiter: registrations,
        trusted,
    })
    .merge(login_routes(LoginState {
        pool: pool.clone(),
        issuing: issuing.clone(),
        guard: login_guard,
        hashing: hashing.clone(),
        trusted,
    }))
    .merge(refresh_token_routes(RefreshState {
        pool: pool.clone(),
        issuing,
    }))
    .merge(logout_routes(pool.clone(), Arc::clone(&verifier)))
    .merge(get_my_profile_routes(pool.clone(), Arc::clone(&verifier)))
    .merge(update_my_profile_routes(pool.clone(), Arc::clone(&verifier)))
    .merge(change_password_routes(
        ChangePasswordState {
            pool,
            hashing,
            limiter: password_changes,
        },
        verifier,
    ))
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
    fn validate(self, client: ClientAddress) -> Result<RegisterUser, ApiError> {
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
                client,
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
    State(state): State<Arc<RegisterState>>,
    client: ClientAddress,
    Json(body): Json<RegisterRequest>,
) -> Result<Envelope<RegisteredUserView>, Refusal> {
    let command = body.validate(client)?;
    let user = use_cases::register(&state.pool, &state.hashing, &state.limiter, command).await?;
    Ok(created(RegisteredUserView {
        id: user.user_id.to_string(),
        email: user.email,
        display_name: user.display_name,
    }))
}

async fn login(
    State(state): State<Arc<LoginState>>,
    address: ClientAddress,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, Refusal> {
    let mut fields = Fields::default();
    let email = fields.required("email", body.email.as_deref()).map(str::to_owned);
    let password = fields
        .required("password", body.password.as_deref())
        .map(Password::candidate);
    fields.into_result()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::validation(Vec::new()).into());
    };
    let command = LogIn {
        email,
        password,
        client: client_info(address, &headers),
    };
    let tokens =
        use_cases::log_in(&state.pool, &state.issuing, &state.guard, &state.hashing, command).await?;
    Ok(no_store(ok(tokens)))
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
    State(state): State<Arc<ChangePasswordState>>,
    claims: AccessClaims,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<Envelope<Done>, Refusal> {
    let mut fields = Fields::default();
    let current = fields
        .required("currentPassword", body.current_password.as_deref())
        .map(Password::candidate);
    let new = fields
        .required("newPassword", body.new_password.as_deref())
        .map(str::to_owned);
    fields.into_result()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::validation(Vec::new()).into());
    };
    use_cases::change_password(
        &state.pool,
        &state.hashing,
        &state.limiter,
        &claims,
        ChangePassword { current, new },
    )
    .await?;
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

/// The client's address (decided from the trusted proxies, see [`ClientAddress`]) and user
/// agent, for the login history.
fn client_info(address: ClientAddress, headers: &HeaderMap) -> ClientInfo {
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    ClientInfo {
        address,
        user_agent: store::truncate(&user_agent, 512).to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Errors → envelope, the one place for this transport

/// An error answer in the envelope, with `Retry-After` when waiting helps.
#[derive(Debug)]
pub struct Refusal {
    error: ApiError,
    retry_after_seconds: Option<u64>,
}

impl Refusal {
    /// `429 RATE_LIMITED`: a limit was reached; it lifts after `retry_after_seconds`.
    fn rate_limited(message: &'static str, retry_after_seconds: u64) -> Self {
        Self {
            error: ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message),
            retry_after_seconds: Some(retry_after_seconds),
        }
    }

    /// `503 SERVICE_BUSY`: too many passwords are being hashed; nothing was done.
    fn busy() -> Self {
        Self {
            error: ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_BUSY",
                "Too many requests are being handled; nothing was done. Send the same request again shortly.",
            ),
            retry_after_seconds: Some(hashing::RETRY_AFTER_SECONDS),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after_seconds: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self.retry_after_seconds {
            Some(seconds) => ([(header::RETRY_AFTER, seconds.to_string())], self.error).into_response(),
            None => self.error.into_response(),
        }
    }
}

fn session_revoked() -> ApiError {
    ApiError::unauthorized("SESSION_REVOKED", "This session has ended. Log in again.")
}

impl From<RegisterError> for Refusal {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => {
                ApiError::conflict("EMAIL_TAKEN", "An account with this e-mail address exists.").into()
            }
            RegisterError::RateLimited { retry_after_seconds } => Refusal::rate_limited(
                "Too many registrations from this address. Retry later.",
                retry_after_seconds,
            ),
            RegisterError::Busy => Refusal::busy(),
            RegisterError::Unexpected(error) => ApiError::internal(&error).into(),
        }
    }
}

impl From<LoginError> for Refusal {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::RateLimited { retry_after_seconds } => {
                Refusal::rate_limited("Too many login attempts. Retry later.", retry_after_seconds)
            }
            LoginError::InvalidCredentials => ApiError::unauthorized(
                "INVALID_CREDENTIALS",
                "The e-mail address or the password is wrong.",
            )
            .into(),
            LoginError::Busy => Refusal::busy(),
            LoginError::Unexpected(error) => ApiError::internal(&error).into(),
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
            RefreshError::SessionExpired => ApiError::unauthorized(
                "SESSION_EXPIRED",
                "This session has reached its maximum lifetime. Log in again.",
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

impl From<ChangePasswordError> for Refusal {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::SessionRevoked => session_revoked().into(),
            ChangePasswordError::WrongCurrentPassword => ApiError::validation(Vec::new())
                .with_field("currentPassword", "is wrong")
                .into(),
            ChangePasswordError::RateLimited { retry_after_seconds } => Refusal::rate_limited(
                "Too many wrong current passwords in this session. Retry later.",
                retry_after_seconds,
            ),
            ChangePasswordError::WeakNewPassword(Invalid(reason)) => ApiError::validation(Vec::new())
                .with_field("newPassword", reason)
                .into(),
            ChangePasswordError::NotFound => {
                ApiError::not_found("USER_NOT_FOUND", "The account no longer exists.").into()
            }
            ChangePasswordError::Busy => Refusal::busy(),
            ChangePasswordError::Unexpected(error) => ApiError::internal(&error).into(),
        }
    }
}
