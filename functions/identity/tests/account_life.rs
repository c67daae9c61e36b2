//! The account's life after registration, over HTTP in-process against MariaDB and Redis:
//! the user's withdrawal, an admin's lock and unlock, and the public profile — each with
//! its bad inputs, which are answered with a stable code and change nothing.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use identity::limits::Limit;
use support::{PASSWORD, Settings, TestApp, TestResponse, unique_email};

/// The id of the user whose access token this is.
async fn user_id_of(app: &TestApp, access_token: &str) -> String {
    let profile = app.my_profile(access_token).await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    profile.data("id")
}

/// The outbox's event types and payloads, oldest first.
async fn outbox(app: &TestApp) -> Vec<(String, serde_json::Value)> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT type, CAST(payload AS CHAR) FROM outbox ORDER BY occurred_at, id")
            .fetch_all(&app.database.pool)
            .await
            .expect("the outbox");
    rows.into_iter()
        .map(|(event_type, payload)| (event_type, serde_json::from_str(&payload).expect("JSON")))
        .collect()
}

async fn types_in_outbox(app: &TestApp) -> Vec<String> {
    outbox(app)
        .await
        .into_iter()
        .map(|(event_type, _)| event_type)
        .collect()
}

async fn status_of(app: &TestApp, user_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM user_account WHERE id = ?")
        .bind(user_id)
        .fetch_one(&app.database.pool)
        .await
        .expect("the account")
}

async fn active_sessions(app: &TestApp, user_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM user_session WHERE user_id = ? AND revoked_at IS NULL")
        .bind(user_id)
        .fetch_one(&app.database.pool)
        .await
        .expect("count")
}

fn assert_refused(response: &TestResponse, status: StatusCode, code: &str) {
    assert_eq!(response.status, status, "{:?}", response.body);
    assert_eq!(response.code(), code, "{:?}", response.body);
}

// ---------------------------------------------------------------------------------------
// Withdrawal

#[tokio::test]
async fn withdrawal_erases_the_account_ends_every_session_and_announces_user_withdrawn() {
    let app = TestApp::spawn().await;
    let (email, first) = app.logged_in_user().await;
    let second = app.login(&email, PASSWORD).await;
    let access = first.data("accessToken");
    let user_id = user_id_of(&app, &access).await;

    let withdrawn = app.withdraw(&access, Some(PASSWORD)).await;
    assert_eq!(withdrawn.status, StatusCode::NO_CONTENT, "{:?}", withdrawn.body);

    // Every session is over, the calling one and the other.
    assert_refused(
        &app.my_profile(&access).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_refused(
        &app.refresh(&second.data("refreshToken")).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(active_sessions(&app, &user_id).await, 0);

    // The row stays for the books, with nothing personal in it.
    let (stored_email, display_name, password_hash, status, withdrawn_at): (
        String,
        String,
        Option<String>,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT email, display_name, password_hash, status, withdrawn_at FROM user_account WHERE id = ?",
    )
    .bind(&user_id)
    .fetch_one(&app.database.pool)
    .await
    .expect("the row is kept");
    assert_eq!(stored_email, format!("withdrawn:{user_id}"));
    assert_eq!(display_name, "");
    assert_eq!(password_hash, None);
    assert_eq!(status, "WITHDRAWN");
    assert!(withdrawn_at.is_some());
    // The login history keeps when and how each attempt ended, not who or where.
    let traced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_history WHERE email = ? OR ip <> '' OR user_agent <> ''",
    )
    .bind(&email)
    .fetch_one(&app.database.pool)
    .await
    .expect("count");
    assert_eq!(traced, 0);
    assert_eq!(
        app.count("login_history").await,
        2,
        "every attempt is still counted"
    );
    // The address and the password open nothing any more.
    assert_refused(
        &app.login(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    );

    let events = outbox(&app).await;
    let (event_type, payload) = events.last().expect("an event");
    assert_eq!(event_type, "commerce.identity.user.withdrawn.v1");
    assert_eq!(payload["userId"], user_id.as_str());
    assert!(payload["withdrawnAt"].is_string());
    assert!(!payload.to_string().contains(&email), "no e-mail in {payload}");
    app.finish().await;
}

#[tokio::test]
async fn the_address_of_a_withdrawn_account_registers_again_as_a_new_user() {
    let app = TestApp::spawn().await;
    let (email, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let old_id = user_id_of(&app, &access).await;
    assert_eq!(
        app.withdraw(&access, Some(PASSWORD)).await.status,
        StatusCode::NO_CONTENT
    );

    let again = app
        .register(&email, "another long passphrase", "Back Again")
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    let new_id = again.data("id");
    assert_ne!(new_id, old_id);
    let login = app.login(&email, "another long passphrase").await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(user_id_of(&app, &login.data("accessToken")).await, new_id);

    assert_refused(
        &app.public_profile(&old_id).await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_eq!(
        app.public_profile(&new_id).await.data("displayName"),
        "Back Again"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_wrong_or_missing_password_or_token_withdraws_nothing() {
    let app = TestApp::spawn().await;
    let (_, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let user_id = user_id_of(&app, &access).await;
    let events_before = types_in_outbox(&app).await;

    assert_refused(
        &app.withdraw(&access, Some("not the password at all")).await,
        StatusCode::FORBIDDEN,
        "WRONG_PASSWORD",
    );
    let missing = app.withdraw(&access, None).await;
    assert_refused(&missing, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    assert_eq!(missing.bad_fields(), ["password"]);
    let no_body = app
        .request(
            axum::http::Method::DELETE,
            identity::http::WITHDRAW_PATH,
            None,
            Some(&access),
        )
        .await;
    assert!(no_body.status.is_client_error(), "{:?}", no_body.body);
    assert_refused(
        &app.withdraw("not.a.token", Some(PASSWORD)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );

    assert_eq!(status_of(&app, &user_id).await, "ACTIVE");
    assert_eq!(app.my_profile(&access).await.status, StatusCode::OK);
    assert_eq!(active_sessions(&app, &user_id).await, 1);
    assert_eq!(types_in_outbox(&app).await, events_before);
    app.finish().await;
}

#[tokio::test]
async fn wrong_withdrawal_passwords_count_with_wrong_current_passwords_of_the_session() {
    let settings = Settings {
        password_changes: Limit::new(3, Duration::from_secs(60)),
        ..Settings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let (_, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let user_id = user_id_of(&app, &access).await;

    for _ in 0..2 {
        let changed = app
            .change_password(&access, "a wrong current password", "a brand new passphrase")
            .await;
        assert_eq!(changed.status, StatusCode::BAD_REQUEST, "{:?}", changed.body);
    }
    assert_refused(
        &app.withdraw(&access, Some("a third wrong password")).await,
        StatusCode::FORBIDDEN,
        "WRONG_PASSWORD",
    );
    // Three wrong guesses in this session: even the right password now waits.
    let limited = app.withdraw(&access, Some(PASSWORD)).await;
    assert_refused(&limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(status_of(&app, &user_id).await, "ACTIVE");
    app.finish().await;
}

// ---------------------------------------------------------------------------------------
// An admin's lock and unlock

#[tokio::test]
async fn a_locked_account_loses_its_sessions_and_cannot_log_in_or_refresh_until_unlocked() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.logged_in_admin().await;
    let admin_token = admin.data("accessToken");
    let (email, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let user_id = user_id_of(&app, &access).await;

    let locked = app.lock(Some(&admin_token), &user_id).await;
    assert_eq!(locked.status, StatusCode::OK, "{:?}", locked.body);
    assert_eq!(locked.data("status"), "LOCKED");
    assert!(!locked.data("lockedAt").is_empty());

    assert_eq!(active_sessions(&app, &user_id).await, 0);
    assert_refused(
        &app.my_profile(&access).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_refused(
        &app.refresh(&login.data("refreshToken")).await,
        StatusCode::FORBIDDEN,
        "ACCOUNT_LOCKED",
    );
    // The right password learns of the lock; a wrong one learns nothing new.
    assert_refused(
        &app.login(&email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "ACCOUNT_LOCKED",
    );
    assert_refused(
        &app.login(&email, "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(
        active_sessions(&app, &user_id).await,
        0,
        "a refused login opens nothing"
    );
    let reasons: Vec<Option<String>> =
        sqlx::query_scalar("SELECT failure_reason FROM login_history WHERE user_id = ? ORDER BY id")
            .bind(&user_id)
            .fetch_all(&app.database.pool)
            .await
            .expect("history");
    assert_eq!(
        reasons,
        [
            None,
            Some("account-locked".to_owned()),
            Some("wrong-password".to_owned())
        ]
    );

    // Locking twice changes nothing and announces nothing more.
    let again = app.lock(Some(&admin_token), &user_id).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.data("lockedAt"), locked.data("lockedAt"));

    let unlocked = app.unlock(Some(&admin_token), &user_id).await;
    assert_eq!(unlocked.status, StatusCode::OK, "{:?}", unlocked.body);
    assert_eq!(unlocked.data("status"), "ACTIVE");
    assert!(unlocked.body["data"]["lockedAt"].is_null());
    // The old session stays ended; a new login works.
    assert_refused(
        &app.refresh(&login.data("refreshToken")).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::OK);

    let events = outbox(&app).await;
    let status_events: Vec<(&str, &serde_json::Value)> = events
        .iter()
        .filter(|(event_type, _)| !event_type.ends_with(".registered.v1"))
        .map(|(event_type, payload)| (event_type.as_str(), payload))
        .collect();
    assert_eq!(status_events.len(), 2, "{status_events:?}");
    assert_eq!(status_events[0].0, "commerce.identity.user.locked.v1");
    assert_eq!(status_events[0].1["userId"], user_id.as_str());
    assert_eq!(status_events[1].0, "commerce.identity.user.unlocked.v1");
    app.finish().await;
}

#[tokio::test]
async fn lock_and_unlock_refuse_customers_strangers_unknown_users_the_admin_and_withdrawn_accounts() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.logged_in_admin().await;
    let admin_token = admin.data("accessToken");
    let (_, customer) = app.logged_in_user().await;
    let customer_token = customer.data("accessToken");
    let customer_id = user_id_of(&app, &customer_token).await;
    let (_, leaving) = app.logged_in_user().await;
    let leaving_token = leaving.data("accessToken");
    let withdrawn_id = user_id_of(&app, &leaving_token).await;
    assert_eq!(
        app.withdraw(&leaving_token, Some(PASSWORD)).await.status,
        StatusCode::NO_CONTENT
    );
    let events_before = types_in_outbox(&app).await;

    assert_refused(
        &app.lock(Some(&customer_token), &customer_id).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_refused(
        &app.lock(None, &customer_id).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );
    assert_refused(
        &app.lock(Some(&admin_token), &uuid::Uuid::now_v7().to_string())
            .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_refused(
        &app.unlock(Some(&admin_token), "not-a-user-id").await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_refused(
        &app.lock(Some(&admin_token), &admin_id.to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CANNOT_LOCK_YOURSELF",
    );
    for refused in [
        app.lock(Some(&admin_token), &withdrawn_id).await,
        app.unlock(Some(&admin_token), &withdrawn_id).await,
    ] {
        assert_refused(&refused, StatusCode::CONFLICT, "ACCOUNT_WITHDRAWN");
    }

    assert_eq!(status_of(&app, &customer_id).await, "ACTIVE");
    assert_eq!(status_of(&app, &admin_id.to_string()).await, "ACTIVE");
    assert_eq!(status_of(&app, &withdrawn_id).await, "WITHDRAWN");
    assert_eq!(app.my_profile(&customer_token).await.status, StatusCode::OK);
    assert_eq!(app.my_profile(&admin_token).await.status, StatusCode::OK);
    assert_eq!(types_in_outbox(&app).await, events_before);
    app.finish().await;
}

#[tokio::test]
async fn an_admin_whose_session_ended_can_lock_nobody() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.logged_in_admin().await;
    let admin_token = admin.data("accessToken");
    let (_, customer) = app.logged_in_user().await;
    let customer_id = user_id_of(&app, &customer.data("accessToken")).await;
    let logout = app
        .post(
            identity::http::LOGOUT_PATH,
            serde_json::json!({}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(logout.status, StatusCode::OK);

    assert_refused(
        &app.lock(Some(&admin_token), &customer_id).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(status_of(&app, &customer_id).await, "ACTIVE");
    app.finish().await;
}

// ---------------------------------------------------------------------------------------
// The public profile

#[tokio::test]
async fn the_public_profile_shows_the_display_name_and_the_day_of_joining_and_nothing_private() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let registered = app.register(&email, PASSWORD, "Ada Lovelace").await;
    let user_id = registered.data("id");

    let profile = app.public_profile(&user_id).await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    let data = profile.body["data"].as_object().expect("an object");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["displayName", "id", "memberSince"]);
    assert_eq!(profile.data("id"), user_id);
    assert_eq!(profile.data("displayName"), "Ada Lovelace");
    assert_eq!(
        profile.data("memberSince"),
        chrono::Utc::now().date_naive().to_string()
    );
    assert!(!profile.body.to_string().contains(&email));
    assert_eq!(profile.headers["cache-control"], "public, max-age=60");
    app.finish().await;
}

#[tokio::test]
async fn the_public_profile_of_an_unknown_or_malformed_id_is_not_found_and_a_locked_one_is_shown() {
    let app = TestApp::spawn().await;
    for id in [
        uuid::Uuid::now_v7().to_string(),
        "me".to_owned(),
        "%20".to_owned(),
    ] {
        assert_refused(
            &app.public_profile(&id).await,
            StatusCode::NOT_FOUND,
            "USER_NOT_FOUND",
        );
    }

    // A lock is no one else's business: the profile does not tell.
    let (_, admin) = app.logged_in_admin().await;
    let (_, customer) = app.logged_in_user().await;
    let customer_id = user_id_of(&app, &customer.data("accessToken")).await;
    let locked = app.lock(Some(&admin.data("accessToken")), &customer_id).await;
    assert_eq!(locked.status, StatusCode::OK);
    let profile = app.public_profile(&customer_id).await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    assert!(profile.body["data"].get("status").is_none());
    app.finish().await;
}
