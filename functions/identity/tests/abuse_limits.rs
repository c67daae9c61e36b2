//! The abuse limits of issue #11 over HTTP in-process, against MariaDB and the real Redis:
//! what a stranger can no longer do to an account's owner, what a stolen access token can no
//! longer guess, what one address can no longer try, and what a burst of logins gets when
//! every password worker is taken. Each test is a reproduction of a finding that must now
//! fail to reproduce.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use identity::limits::Limit;
use support::{PASSWORD, Settings, TestApp, another_address, unique_email};

const WRONG: &str = "not the password at all";

fn retry_after(response: &support::TestResponse) -> u64 {
    response.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

async fn history_of(app: &TestApp, email: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT ip, failure_reason FROM login_history WHERE email = ? ORDER BY id")
        .bind(email)
        .fetch_all(&app.database.pool)
        .await
        .expect("history")
}

#[tokio::test]
async fn a_stranger_failing_an_accounts_login_again_and_again_does_not_lock_out_its_owner() {
    let app = TestApp::spawn().await;
    let (email, _) = app.logged_in_user().await;
    let stranger = another_address(66);

    // The finding: 11 failed logins used to lock the account for everyone for its window.
    let mut answers = Vec::new();
    for _ in 0..11 {
        answers.push(app.login_from(&stranger, &email, WRONG).await);
    }
    assert!(
        answers[..5]
            .iter()
            .all(|answer| answer.code() == "INVALID_CREDENTIALS")
    );
    assert!(
        answers[5..].iter().all(|answer| answer.code() == "RATE_LIMITED"),
        "the stranger's own address is held back after five failures"
    );
    assert!(retry_after(&answers[10]) > 0);

    let owner = app.login(&email, PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK, "{:?}", owner.body);
    app.finish().await;
}

#[tokio::test]
async fn under_a_distributed_attack_the_owner_still_logs_in_and_each_new_address_gets_one_failure() {
    let mut settings = Settings::default();
    settings.login.per_account = Limit::new(6, Duration::from_secs(3600));
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;

    // Many addresses, one failure each: more than the account's allowance in all.
    for index in 1..=8 {
        let answer = app.login_from(&another_address(index), &email, WRONG).await;
        assert_eq!(answer.code(), "INVALID_CREDENTIALS");
    }
    let second_try = app.login_from(&another_address(1), &email, WRONG).await;
    assert_eq!(
        second_try.code(),
        "RATE_LIMITED",
        "a second failure from a new address waits"
    );

    let from_known_address = app.login(&email, PASSWORD).await;
    assert_eq!(
        from_known_address.status,
        StatusCode::OK,
        "{:?}",
        from_known_address.body
    );
    let from_new_address = app.login_from(&another_address(200), &email, PASSWORD).await;
    assert_eq!(
        from_new_address.status,
        StatusCode::OK,
        "the first try from anywhere is never refused: {:?}",
        from_new_address.body
    );
    app.finish().await;
}

#[tokio::test]
async fn successful_logins_do_not_count_as_failures() {
    let mut settings = Settings::default();
    settings.login.per_account_and_address = Limit::new(2, Duration::from_secs(600));
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;
    for _ in 0..6 {
        assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::OK);
    }
    assert_eq!(app.login(&email, WRONG).await.code(), "INVALID_CREDENTIALS");
    assert_eq!(app.login(&email, WRONG).await.code(), "INVALID_CREDENTIALS");
    assert_eq!(
        app.login(&email, WRONG).await.code(),
        "RATE_LIMITED",
        "the failures alone reach the limit"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_address_trying_unknown_accounts_is_throttled() {
    let mut settings = Settings::default();
    settings.login.unknown_accounts_per_address = Limit::new(3, Duration::from_secs(600));
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;
    let prober = another_address(77);
    for _ in 0..3 {
        let unknown = app.login_from(&prober, &unique_email(), PASSWORD).await;
        assert_eq!(unknown.code(), "INVALID_CREDENTIALS");
    }
    let next = app.login_from(&prober, &unique_email(), PASSWORD).await;
    assert_eq!(next.code(), "RATE_LIMITED");
    assert!(retry_after(&next) > 0);
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::OK,
        "other addresses are not affected"
    );
    app.finish().await;
}

#[tokio::test]
async fn registrations_are_throttled_per_address() {
    let settings = Settings {
        registrations: Limit::new(2, Duration::from_secs(3600)),
        ..Settings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let register_from = |ip: String| {
        let app = &app;
        async move {
            let body =
                serde_json::json!({"email": unique_email(), "password": PASSWORD, "displayName": "Sign Up"});
            app.request_from(
                &ip,
                axum::http::Method::POST,
                identity::http::REGISTER_PATH,
                Some(axum::body::Body::from(body.to_string())),
                None,
            )
            .await
        }
    };
    let mass = another_address(88);
    assert_eq!(register_from(mass.clone()).await.status, StatusCode::CREATED);
    assert_eq!(register_from(mass.clone()).await.status, StatusCode::CREATED);
    let third = register_from(mass).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.code(), "RATE_LIMITED");
    assert!(retry_after(&third) > 0);
    assert_eq!(
        app.count("user_account").await,
        2,
        "nothing written for the refused one"
    );
    assert_eq!(
        register_from(another_address(89)).await.status,
        StatusCode::CREATED,
        "another address registers"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_stolen_access_token_gets_only_a_few_guesses_of_the_current_password() {
    let app = TestApp::spawn().await;
    let (email, thief_session) = app.logged_in_user().await;
    let owner_session = app.login(&email, PASSWORD).await;
    let stolen = thief_session.data("accessToken");

    // The finding: the current password could be guessed at argon2 speed.
    for guess in 0..5 {
        let wrong = app
            .change_password(
                &stolen,
                &format!("guess number {guess} of many"),
                "a brand new passphrase",
            )
            .await;
        assert_eq!(wrong.bad_fields(), ["currentPassword"]);
    }
    let limited = app
        .change_password(&stolen, PASSWORD, "a brand new passphrase")
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "RATE_LIMITED");
    assert!(retry_after(&limited) > 0);
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::OK,
        "the password did not change"
    );

    // The owner's own session is not held back by the thief's guesses.
    let changed = app
        .change_password(
            &owner_session.data("accessToken"),
            PASSWORD,
            "the owner's new passphrase",
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    app.finish().await;
}

#[tokio::test]
async fn when_every_password_worker_and_queue_place_is_taken_login_answers_503_with_retry_after() {
    let settings = Settings {
        hashing_workers: 1,
        hashing_queue: 0,
        ..Settings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;

    let (release, released) = std::sync::mpsc::channel::<()>();
    let hashing = app.hashing.clone();
    let occupied = tokio::spawn(async move {
        hashing
            .run(move || {
                let _ = released.recv();
            })
            .await
    });
    let (app_ref, email_ref) = (&app, email.as_str());
    let busy = testkit::poll::Polling::new(Duration::from_secs(10), Duration::from_millis(10))
        .until(
            move || app_ref.login(email_ref, PASSWORD),
            |answer| answer.status == StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", busy.body);
    assert_eq!(busy.code(), "SERVICE_BUSY");
    assert_eq!(retry_after(&busy), 1);

    release.send(()).expect("release the worker");
    occupied.await.expect("task").expect("the occupying job ran");
    assert_eq!(app.login(&email, PASSWORD).await.status, StatusCode::OK);
    let refused_as_busy: Vec<(String, Option<String>)> = history_of(&app, &email).await;
    assert!(
        refused_as_busy.iter().all(|(_, reason)| reason.is_none()),
        "a busy answer is neither a failure nor written: {refused_as_busy:?}"
    );
    app.finish().await;
}

#[tokio::test]
async fn limited_attempts_are_recorded_with_the_address_the_proxy_saw() {
    let mut settings = Settings::default();
    settings.login.per_account_and_address = Limit::new(1, Duration::from_secs(600));
    let app = TestApp::spawn_with(settings).await;
    let (email, _) = app.logged_in_user().await;
    app.login(&email, WRONG).await;
    app.login(&email, WRONG).await;
    let history = history_of(&app, &email).await;
    let reasons: Vec<Option<&str>> = history.iter().map(|(_, reason)| reason.as_deref()).collect();
    assert_eq!(reasons, [None, Some("wrong-password"), Some("rate-limited")]);
    assert!(history.iter().all(|(ip, _)| *ip == app.ip), "{history:?}");
    app.finish().await;
}

#[tokio::test]
async fn redis_keys_name_neither_the_email_nor_the_address() {
    let app = TestApp::spawn().await;
    let (email, _) = app.logged_in_user().await;
    app.login(&email, WRONG).await;
    let mut redis = redis::Client::open(support::redis_url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", app.counter_prefix))
        .query_async(&mut redis)
        .await
        .expect("keys");
    assert!(keys.len() >= 3, "{keys:?}");
    for key in &keys {
        assert!(!key.contains(&email) && !key.contains(&app.ip), "{key}");
    }
    // The old name of an account's counter: 16 bytes of an unsalted SHA-256 of the e-mail,
    // which anyone holding a list of addresses could recompute.
    use sha2::Digest;
    let unsalted: String = sha2::Sha256::digest(email.as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert!(keys.iter().all(|key| !key.contains(&unsalted)), "{keys:?}");
    app.finish().await;
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_cannot_be_refreshed() {
    let settings = Settings {
        refresh_ttl: Duration::from_secs(3600),
        session_lifetime: Duration::from_secs(1800),
        ..Settings::default()
    };
    let app = TestApp::spawn_with(settings).await;
    let (_, login) = app.logged_in_user().await;
    let refresh_expires_in = login.body["data"]["refreshExpiresIn"].as_u64().expect("seconds");
    assert!(
        refresh_expires_in <= 1800,
        "the refresh token does not outlive the session: {refresh_expires_in}"
    );

    let refreshed = app.refresh(&login.data("refreshToken")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    // Everything about the session is still live but its age: it began 31 minutes ago.
    sqlx::query("UPDATE user_session SET created_at = created_at - INTERVAL 31 MINUTE")
        .execute(&app.database.pool)
        .await
        .expect("age the session");
    let too_old = app.refresh(&refreshed.data("refreshToken")).await;
    assert_eq!(too_old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(too_old.code(), "SESSION_EXPIRED");
    app.finish().await;
}
