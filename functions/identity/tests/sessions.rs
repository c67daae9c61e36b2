//! Logging in, refreshing, reuse detection, logging out, rate limits and the routes that
//! need a live session, over HTTP in-process against MariaDB and Redis.

mod support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use identity::limits::Limit;
use security::Role;
use support::{PASSWORD, Settings, TestApp, unique_email};

#[tokio::test]
async fn login_hands_out_a_short_lived_access_token_and_a_refresh_token_and_records_the_attempt() {
    let app = TestApp::spawn().await;
    let (email, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let claims = app
        .issuer
        .verifier()
        .expect("verifier")
        .verify(&access)
        .expect("a valid token");
    assert!(claims.exp - claims.iat <= 15 * 60);
    assert_eq!(claims.roles, [Role::Customer]);
    assert!(claims.sid.is_some());
    assert!(!login.data("refreshToken").is_empty());
    assert_eq!(login.headers["cache-control"], "no-store");

    let (ip, user_agent, success): (String, String, bool) =
        sqlx::query_as("SELECT ip, user_agent, success FROM login_history WHERE email = ?")
            .bind(&email)
            .fetch_one(&app.database.pool)
            .await
            .expect("a history row");
    assert_eq!(ip, app.ip, "the address the nearest proxy saw");
    assert_eq!(user_agent, "identity-tests/1.0");
    assert!(success);

    let profile = app.my_profile(&access).await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    assert_eq!(profile.data("email"), email);
    app.finish().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401_and_are_both_recorded() {
    let app = TestApp::spawn().await;
    let (email, _) = app.logged_in_user().await;
    let wrong = app.login(&email, "not the password at all").await;
    let unknown = app.login(&unique_email(), PASSWORD).await;
    let garbled = app.login("no email here", PASSWORD).await;
    for response in [&wrong, &unknown, &garbled] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.code(), "INVALID_CREDENTIALS");
    }
    let reasons: Vec<Option<String>> =
        sqlx::query_scalar("SELECT failure_reason FROM login_history ORDER BY id")
            .fetch_all(&app.database.pool)
            .await
            .expect("history");
    assert_eq!(
        reasons,
        [
            None,
            Some("wrong-password".to_owned()),
            Some("unknown-account".to_owned()),
            Some("unknown-account".to_owned())
        ]
    );
    app.finish().await;
}

#[tokio::test]
async fn refreshing_rotates_the_token_and_reusing_an_old_one_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let (_, login) = app.logged_in_user().await;
    let first_refresh = login.data("refreshToken");

    let rotated = app.refresh(&first_refresh).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let second_refresh = rotated.data("refreshToken");
    let second_access = rotated.data("accessToken");
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(app.my_profile(&second_access).await.status, StatusCode::OK);

    let reused = app.refresh(&first_refresh).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.code(), "REFRESH_TOKEN_REUSED");

    // The thief's copy and the user's newest token are both dead now.
    let after = app.refresh(&second_refresh).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "SESSION_REVOKED");
    // And an access token of the revoked family is refused by the identity routes.
    let profile = app.my_profile(&second_access).await;
    assert_eq!(profile.status, StatusCode::UNAUTHORIZED);
    assert_eq!(profile.code(), "SESSION_REVOKED");
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_or_missing_refresh_token_gets_401_or_400() {
    let app = TestApp::spawn().await;
    let unknown = app.refresh("bm90LWEtcmVhbC10b2tlbg").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), "INVALID_REFRESH_TOKEN");
    let missing = app
        .post(identity::http::REFRESH_PATH, serde_json::json!({}), None)
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.bad_fields(), ["refreshToken"]);
    app.finish().await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_family_and_the_sessions_access_tokens() {
    let app = TestApp::spawn().await;
    let (_, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let logout = app
        .post(identity::http::LOGOUT_PATH, serde_json::json!({}), Some(&access))
        .await;
    assert_eq!(logout.status, StatusCode::OK, "{:?}", logout.body);

    let refresh = app.refresh(&login.data("refreshToken")).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh.code(), "SESSION_REVOKED");
    assert_eq!(app.my_profile(&access).await.code(), "SESSION_REVOKED");
    let reason: Option<String> = sqlx::query_scalar("SELECT revoked_reason FROM user_session")
        .fetch_one(&app.database.pool)
        .await
        .expect("the session");
    assert_eq!(reason.as_deref(), Some("logout"));
    app.finish().await;
}

#[tokio::test]
async fn too_many_failed_attempts_on_one_account_from_one_address_get_429_with_retry_after() {
    let mut settings = Settings::default();
    settings.login.per_account_and_address = Limit::new(3, Duration::from_secs(60));
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&email, "wrong password guess").await.code(),
            "INVALID_CREDENTIALS"
        );
    }
    let limited = app.login(&email, PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "RATE_LIMITED");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_history WHERE failure_reason = 'rate-limited'")
            .fetch_one(&app.database.pool)
            .await
            .expect("count");
    assert_eq!(recorded, 1);
    app.finish().await;
}

#[tokio::test]
async fn protected_routes_answer_401_in_the_envelope_for_missing_or_garbled_tokens() {
    let app = TestApp::spawn().await;
    for bearer in [None, Some("garbage"), Some("a.b.c")] {
        let response = app
            .request(Method::GET, identity::http::MY_PROFILE_PATH, None, bearer)
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert_eq!(response.body["success"], false);
        assert_eq!(response.code(), "UNAUTHENTICATED");
    }
    // A valid signature but no session (not issued by login) is refused too.
    let sessionless = app
        .issuer
        .issue(uuid::Uuid::now_v7(), &[Role::Customer])
        .expect("issue")
        .token;
    assert_eq!(app.my_profile(&sessionless).await.code(), "SESSION_REVOKED");
    app.finish().await;
}

#[tokio::test]
async fn the_display_name_can_be_changed_with_validation() {
    let app = TestApp::spawn().await;
    let (_, login) = app.logged_in_user().await;
    let access = login.data("accessToken");
    let patch = |body: serde_json::Value| {
        let app = &app;
        let access = access.clone();
        async move {
            app.request(
                Method::PATCH,
                identity::http::MY_PROFILE_PATH,
                Some(axum::body::Body::from(body.to_string())),
                Some(&access),
            )
            .await
        }
    };
    let changed = patch(serde_json::json!({"displayName": "  Grace Hopper "})).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.data("displayName"), "Grace Hopper");
    let refused = patch(serde_json::json!({"displayName": ""})).await;
    assert_eq!(refused.bad_fields(), ["displayName"]);
    assert_eq!(app.my_profile(&access).await.data("displayName"), "Grace Hopper");
    app.finish().await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let (email, here) = app.logged_in_user().await;
    let elsewhere = app.login(&email, PASSWORD).await;
    let access = here.data("accessToken");
    let change = |current: &str, new: &str| {
        let body = serde_json::json!({"currentPassword": current, "newPassword": new});
        let app = &app;
        let access = access.clone();
        async move {
            app.request(
                Method::PUT,
                identity::http::MY_PASSWORD_PATH,
                Some(axum::body::Body::from(body.to_string())),
                Some(&access),
            )
            .await
        }
    };
    assert_eq!(
        change("wrong current password", "a brand new passphrase")
            .await
            .bad_fields(),
        ["currentPassword"]
    );
    assert_eq!(change(PASSWORD, "short").await.bad_fields(), ["newPassword"]);
    let changed = change(PASSWORD, "a brand new passphrase").await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);

    assert_eq!(
        app.refresh(&elsewhere.data("refreshToken")).await.code(),
        "SESSION_REVOKED"
    );
    assert_eq!(
        app.my_profile(&access).await.status,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(app.login(&email, PASSWORD).await.code(), "INVALID_CREDENTIALS");
    assert_eq!(
        app.login(&email, "a brand new passphrase").await.status,
        StatusCode::OK
    );
    app.finish().await;
}

#[tokio::test]
async fn the_admin_role_granted_by_the_bootstrap_reaches_tokens_at_the_next_refresh() {
    let app = TestApp::spawn().await;
    let (email, login) = app.logged_in_user().await;
    let parsed = identity::domain::Email::parse(&email).expect("email");
    identity::use_cases::grant_admin(&app.database.pool, &parsed)
        .await
        .expect("grant");
    let refreshed = app.refresh(&login.data("refreshToken")).await;
    let claims = app
        .issuer
        .verifier()
        .expect("verifier")
        .verify(&refreshed.data("accessToken"))
        .expect("valid");
    assert_eq!(claims.roles, [Role::Customer, Role::Admin]);
    let unknown = identity::domain::Email::parse(&unique_email()).expect("email");
    assert!(
        identity::use_cases::grant_admin(&app.database.pool, &unknown)
            .await
            .is_err()
    );
    app.finish().await;
}

#[tokio::test]
async fn the_jwks_publishes_the_public_keys_only() {
    let app = TestApp::spawn().await;
    let jwks = app
        .request(Method::GET, identity::http::JWKS_PATH, None, None)
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(jwks.body["keys"][0]["kid"], "test-key");
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    assert!(jwks.body["keys"][0].get("d").is_none());
    app.finish().await;
}

#[tokio::test]
async fn a_password_typed_with_decomposed_accents_logs_in_to_an_account_registered_with_composed_ones() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let composed = "crème brûlée à la carte";
    let decomposed = "cre\u{300}me bru\u{302}le\u{301}e a\u{300} la carte";
    assert_eq!(
        app.register(&email, composed, "Chef").await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.login(&email, decomposed).await.status, StatusCode::OK);
    assert_eq!(
        app.login(&email, "creme brulee a la carte").await.code(),
        "INVALID_CREDENTIALS"
    );
    app.finish().await;
}
