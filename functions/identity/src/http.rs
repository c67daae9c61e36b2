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

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Extension, Router};
use runtime::envelope::{ApiError, Envelope, FieldError, Json, created, ok};
use runtime::openapi::Success;
use security::{AccessClaims, AccessTokenVerifier, Jwks, Role};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;

use crate::client::{ClientAddress, TrustedProxies};
use crate::domain::{DisplayName, Email, Invalid, LockChange, LockRefusal, Password};
use crate::hashing::{self, PasswordHashing};
use crate::rate_limit::{AttemptLimiter, LoginGuard};
use crate::sessions::{Issuing, SessionTokens};
use crate::store::{self, Profile, PublicProfile};
use crate::use_cases::{
    self, AccountLock, ChangeLockError, ChangePassword, ChangePasswordError, ClientInfo, LogIn, LoginError,
    ProfileError, PublicProfileError, RefreshError, RegisterError, RegisterUser, SessionError, WithdrawError,
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
/// `DELETE` on the caller's own profile withdraws the account.
pub const WITHDRAW_PATH: &str = MY_PROFILE_PATH;
pub const PUBLIC_PROFILE_PATH: &str = "/users/{id}/profile";
pub const LOCK_USER_PATH: &str = "/admin/users/{id}/lock";
pub const UNLOCK_USER_PATH: &str = "/admin/users/{id}/unlock";

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

/// What the withdraw function needs: the password check and its limit, as for a password
/// change.
#[derive(Debug, Clone)]
pub struct WithdrawState {
    pub pool: MySqlPool,
    pub hashing: PasswordHashing,
    /// Wrong passwords per session, the same counter as the password change's.
    pub limiter: AttemptLimiter,
}

/// `DELETE /users/me` (function `withdraw-account`).
pub fn withdraw_account_routes(state: WithdrawState, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(WITHDRAW_PATH, delete(withdraw_account))
        .with_state(Arc::new(state))
        .layer(Extension(verifier))
}

/// `POST /admin/users/{id}/lock` (function `lock-user`).
pub fn lock_user_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(LOCK_USER_PATH, post(lock_user))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `POST /admin/users/{id}/unlock` (function `unlock-user`).
pub fn unlock_user_routes(pool: MySqlPool, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route(UNLOCK_USER_PATH, post(unlock_user))
        .with_state(pool)
        .layer(Extension(verifier))
}

/// `GET /users/{id}/profile` (function `get-public-profile`): public, no token.
pub fn get_public_profile_routes(pool: MySqlPool) -> Router {
    Router::new()
        .route(PUBLIC_PROFILE_PATH, get(get_public_profile))
        .with_state(pool)
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
            pool: pool.clone(),
            hashing: hashing.clone(),
            limiter: password_changes.clone(),
        },
        Arc::clone(&verifier),
    ))
    .merge(withdraw_account_routes(
        WithdrawState {
            pool: pool.clone(),
            hashing,
            limiter: password_changes,
        },
        Arc::clone(&verifier),
    ))
    .merge(lock_user_routes(pool.clone(), Arc::clone(&verifier)))
    .merge(unlock_user_routes(pool.clone(), verifier))
    .merge(get_public_profile_routes(pool))
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"email": "minji@example.com", "password": "correct horse battery staple", "displayName": "Minji"}))]
pub struct RegisterRequest {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
    #[schema(value_type = String, required = true)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"email": "minji@example.com", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"refreshToken": "rt_…"}))]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"displayName": "Minji K."}))]
pub struct UpdateProfileRequest {
    #[schema(value_type = String, required = true)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"currentPassword": "correct horse battery staple", "newPassword": "a longer and newer passphrase"}))]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, required = true)]
    pub current_password: Option<String>,
    #[schema(value_type = String, required = true)]
    pub new_password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// `customer`, and `admin` for admins.
    #[schema(value_type = Vec<String>, example = json!(["customer"]))]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct WithdrawRequest {
    #[schema(value_type = String, required = true)]
    pub password: Option<String>,
}

/// An account's lock, as an admin sees it after locking or unlocking.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountLockView {
    pub id: String,
    /// `ACTIVE` or `LOCKED`.
    pub status: &'static str,
    pub locked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<AccountLock> for AccountLockView {
    fn from(lock: AccountLock) -> Self {
        Self {
            id: lock.user_id.to_string(),
            status: lock.status.as_str(),
            locked_at: lock.locked_at,
        }
    }
}

/// What anyone may see of a user: never the e-mail address, the roles or the status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicProfileView {
    pub id: String,
    pub display_name: String,
    /// The day the account was registered (UTC), not the exact time.
    pub member_since: chrono::NaiveDate,
}

impl From<PublicProfile> for PublicProfileView {
    fn from(profile: PublicProfile) -> Self {
        Self {
            id: profile.user_id.to_string(),
            display_name: profile.display_name,
            member_since: profile.created_at.date_naive(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    pub done: bool,
}

// ---------------------------------------------------------------------------------------
// Handlers: extract → convert → call → map

#[utoipa::path(post, path = "/auth/register", tag = "identity", operation_id = "registerUser",
    summary = "Register a customer account",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account.", body = Success<RegisteredUserView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field (`email`, `password`, `displayName`)."),
        (status = 409, description = "`EMAIL_TAKEN`: an account with this e-mail address exists."),
        (status = 429, description = "`RATE_LIMITED`: too many registrations from this address; see `Retry-After`."),
        (status = 503, description = "`SERVICE_BUSY`: too many passwords are being hashed; nothing was done, see `Retry-After`."),
    ))]
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

#[utoipa::path(post, path = "/auth/login", tag = "identity", operation_id = "login",
    summary = "Log in: an access token and a refresh token",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "The tokens (`Cache-Control: no-store`).", body = Success<SessionTokens>),
        (status = 400, description = "`VALIDATION_FAILED`: `email` or `password` missing."),
        (status = 401, description = "`INVALID_CREDENTIALS`: the e-mail address or the password is wrong."),
        (status = 403, description = "`ACCOUNT_LOCKED`: the account is locked (said only after the right password)."),
        (status = 429, description = "`RATE_LIMITED`: too many login attempts; see `Retry-After`."),
        (status = 503, description = "`SERVICE_BUSY`: too many passwords are being hashed; see `Retry-After`."),
    ))]
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

#[utoipa::path(post, path = "/auth/refresh", tag = "identity", operation_id = "refreshToken",
    summary = "Trade a refresh token for a new pair",
    description = "Each refresh token is spent by its first use; presenting it again ends the session.",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The new tokens (`Cache-Control: no-store`).", body = Success<SessionTokens>),
        (status = 400, description = "`VALIDATION_FAILED`: `refreshToken` missing."),
        (status = 401, description = "`INVALID_REFRESH_TOKEN`: not a refresh token of ours.\n`REFRESH_TOKEN_EXPIRED`: the refresh token expired.\n`REFRESH_TOKEN_REUSED`: the token was used already; the session is revoked.\n`SESSION_REVOKED`: the session has ended.\n`SESSION_EXPIRED`: 30 days have passed since login."),
        (status = 403, description = "`ACCOUNT_LOCKED`: the account is locked."),
    ))]
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

#[utoipa::path(post, path = "/auth/logout", tag = "identity", operation_id = "logout",
    summary = "End the caller's session (its refresh-token family)",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Done.", body = Success<Done>),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
    ))]
async fn logout(State(pool): State<MySqlPool>, claims: AccessClaims) -> Result<Envelope<Done>, ApiError> {
    use_cases::log_out(&pool, &claims).await?;
    Ok(ok(Done { done: true }))
}

#[utoipa::path(get, path = "/users/me", tag = "identity", operation_id = "getMyProfile",
    summary = "The caller's profile",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The profile.", body = Success<ProfileView>),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 404, description = "`USER_NOT_FOUND`: the account no longer exists."),
    ))]
async fn get_my_profile(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
) -> Result<Envelope<ProfileView>, ApiError> {
    let profile = use_cases::my_profile(&pool, &claims).await?;
    Ok(ok(profile.into()))
}

#[utoipa::path(patch, path = "/users/me", tag = "identity", operation_id = "updateMyProfile",
    summary = "Change the caller's display name",
    request_body = UpdateProfileRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The profile.", body = Success<ProfileView>),
        (status = 400, description = "`VALIDATION_FAILED`: `displayName`."),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 404, description = "`USER_NOT_FOUND`: the account no longer exists."),
    ))]
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

#[utoipa::path(put, path = "/users/me/password", tag = "identity", operation_id = "changePassword",
    summary = "Change the caller's password; the user's other sessions end",
    request_body = ChangePasswordRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Done.", body = Success<Done>),
        (status = 400, description = "`VALIDATION_FAILED`: `currentPassword` missing or wrong, `newPassword` missing or weak."),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 404, description = "`USER_NOT_FOUND`: the account no longer exists."),
        (status = 429, description = "`RATE_LIMITED`: 5 wrong current passwords in this session; see `Retry-After`."),
        (status = 503, description = "`SERVICE_BUSY`: too many passwords are being hashed; see `Retry-After`."),
    ))]
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

#[utoipa::path(delete, path = "/users/me", tag = "identity", operation_id = "withdrawAccount",
    summary = "Withdraw the caller's account",
    description = "Personal data is erased and every session ends.",
    request_body = WithdrawRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Withdrawn."),
        (status = 400, description = "`VALIDATION_FAILED`: `password` missing."),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 403, description = "`WRONG_PASSWORD`: the password is wrong; nothing was done.\n`ACCOUNT_LOCKED`: the account is locked."),
        (status = 404, description = "`USER_NOT_FOUND`: the account no longer exists."),
        (status = 429, description = "`RATE_LIMITED`: too many wrong passwords in this session; see `Retry-After`."),
        (status = 503, description = "`SERVICE_BUSY`: too many passwords are being hashed; see `Retry-After`."),
    ))]
async fn withdraw_account(
    State(state): State<Arc<WithdrawState>>,
    claims: AccessClaims,
    Json(body): Json<WithdrawRequest>,
) -> Result<StatusCode, Refusal> {
    let mut fields = Fields::default();
    let password = fields
        .required("password", body.password.as_deref())
        .map(Password::candidate);
    fields.into_result()?;
    let password = password.ok_or_else(|| ApiError::validation(Vec::new()))?;
    use_cases::withdraw(&state.pool, &state.hashing, &state.limiter, &claims, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/users/{id}/lock", tag = "identity", operation_id = "lockUser",
    summary = "Lock a user's account; every session of the user ends",
    params(("id" = String, Path, description = "The user id (a UUID)", example = "0f8fad5b-d9cb-469f-a165-70867728950e")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The account's lock (locking again changes nothing).", body = Success<AccountLockView>),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 404, description = "`USER_NOT_FOUND`: no such user."),
        (status = 409, description = "`ACCOUNT_WITHDRAWN`: the account was withdrawn."),
        (status = 422, description = "`CANNOT_LOCK_YOURSELF`: an admin cannot lock their own account."),
    ))]
async fn lock_user(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
    Path(id): Path<String>,
) -> Result<Envelope<AccountLockView>, ApiError> {
    change_lock(&pool, &claims, &id, LockChange::Lock).await
}

#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "identity", operation_id = "unlockUser",
    summary = "Unlock a user's account",
    params(("id" = String, Path, description = "The user id (a UUID)", example = "0f8fad5b-d9cb-469f-a165-70867728950e")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The account's lock.", body = Success<AccountLockView>),
        (status = 401, description = "`SESSION_REVOKED`: the session has ended; log in again."),
        (status = 404, description = "`USER_NOT_FOUND`: no such user."),
        (status = 409, description = "`ACCOUNT_WITHDRAWN`: the account was withdrawn."),
    ))]
async fn unlock_user(
    State(pool): State<MySqlPool>,
    claims: AccessClaims,
    Path(id): Path<String>,
) -> Result<Envelope<AccountLockView>, ApiError> {
    change_lock(&pool, &claims, &id, LockChange::Unlock).await
}

async fn change_lock(
    pool: &MySqlPool,
    claims: &AccessClaims,
    id: &str,
    change: LockChange,
) -> Result<Envelope<AccountLockView>, ApiError> {
    // An id that is no user id names no user.
    let user_id = uuid::Uuid::parse_str(id).map_err(|_| user_not_found())?;
    let lock = use_cases::change_lock(pool, claims, user_id, change).await?;
    Ok(ok(lock.into()))
}

/// How long shared caches may keep a public profile: a changed display name or a
/// withdrawal shows within a minute.
const PUBLIC_PROFILE_MAX_AGE: &str = "public, max-age=60";

#[utoipa::path(get, path = "/users/{id}/profile", tag = "identity", operation_id = "getPublicProfile",
    summary = "What anyone may see of a user",
    params(("id" = String, Path, description = "The user id (a UUID)", example = "0f8fad5b-d9cb-469f-a165-70867728950e")),
    responses(
        (status = 200, description = "The public profile (`Cache-Control: public, max-age=60`).", body = Success<PublicProfileView>),
        (status = 404, description = "`USER_NOT_FOUND`: unknown, malformed or withdrawn."),
    ))]
async fn get_public_profile(
    State(pool): State<MySqlPool>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user_id = uuid::Uuid::parse_str(id.trim()).map_err(|_| user_not_found())?;
    let profile = use_cases::public_profile(&pool, user_id).await?;
    Ok((
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PUBLIC_PROFILE_MAX_AGE),
        )],
        ok(PublicProfileView::from(profile)),
    )
        .into_response())
}

/// The JWKS in its standard shape (not the envelope): JWT libraries read it as is.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity", operation_id = "getJwks",
    summary = "The public keys that verify access tokens",
    responses(
        (status = 200, description = "A JSON Web Key Set (RFC 7517) of Ed25519 keys, as JWT libraries read it: not in the envelope.",
            body = Object, example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "2026-01", "alg": "EdDSA", "use": "sig", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})),
    ))]
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

fn user_not_found() -> ApiError {
    ApiError::not_found("USER_NOT_FOUND", "No such user.")
}

fn account_locked() -> ApiError {
    ApiError::forbidden(
        "ACCOUNT_LOCKED",
        "This account is locked. Contact support to have it unlocked.",
    )
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
            LoginError::AccountLocked => account_locked().into(),
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
            RefreshError::AccountLocked => account_locked(),
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

impl From<WithdrawError> for Refusal {
    fn from(error: WithdrawError) -> Self {
        match error {
            WithdrawError::SessionRevoked => session_revoked().into(),
            // 403, not 401: the caller is authenticated, and a client that drops its tokens on
            // 401 must not log its user out for a mistyped password.
            WithdrawError::WrongPassword => ApiError::forbidden(
                "WRONG_PASSWORD",
                "The password is wrong; the account was not withdrawn.",
            )
            .into(),
            WithdrawError::RateLimited { retry_after_seconds } => Refusal::rate_limited(
                "Too many wrong passwords in this session. Retry later.",
                retry_after_seconds,
            ),
            WithdrawError::AccountLocked => account_locked().into(),
            WithdrawError::NotFound => {
                ApiError::not_found("USER_NOT_FOUND", "The account no longer exists.").into()
            }
            WithdrawError::Busy => Refusal::busy(),
            WithdrawError::Unexpected(error) => ApiError::internal(&error).into(),
        }
    }
}

impl From<ChangeLockError> for ApiError {
    fn from(error: ChangeLockError) -> Self {
        match error {
            ChangeLockError::SessionRevoked => session_revoked(),
            ChangeLockError::NotAdmin => {
                ApiError::forbidden("FORBIDDEN", "This action needs the admin role.")
            }
            ChangeLockError::NotFound => user_not_found(),
            ChangeLockError::Refused(LockRefusal::OwnAccount) => ApiError::unprocessable(
                "CANNOT_LOCK_YOURSELF",
                "An admin cannot lock their own account; ask another admin.",
            ),
            ChangeLockError::Refused(LockRefusal::Withdrawn) => ApiError::conflict(
                "ACCOUNT_WITHDRAWN",
                "This account was withdrawn; there is nothing to lock or unlock.",
            ),
            ChangeLockError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}

impl From<PublicProfileError> for ApiError {
    fn from(error: PublicProfileError) -> Self {
        match error {
            PublicProfileError::NotFound => user_not_found(),
            PublicProfileError::Unexpected(error) => ApiError::internal(&error),
        }
    }
}
