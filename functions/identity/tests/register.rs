//! Registering an account over HTTP: the happy path, the duplicate, and bad input that must
//! be answered with field errors and write nothing.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use support::{PASSWORD, TestApp, unique_email};

#[tokio::test]
async fn a_new_user_is_registered_and_user_registered_goes_to_the_outbox() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let response = app
        .register(&format!("  {}  ", email.to_uppercase()), PASSWORD, "Ada Lovelace")
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(response.data("email"), email, "the address is stored normalised");
    assert_eq!(response.data("displayName"), "Ada Lovelace");

    let (event_type, topic, aggregate_id, payload): (String, String, String, String) =
        sqlx::query_as("SELECT type, topic, aggregateid, CAST(payload AS CHAR) FROM outbox")
            .fetch_one(&app.database.pool)
            .await
            .expect("one outbox row");
    assert_eq!(event_type, "commerce.identity.user.registered.v1");
    assert_eq!(topic, "commerce.identity.user");
    assert_eq!(aggregate_id, response.data("id"));
    let payload: events::identity::UserRegisteredV1 = serde_json::from_str(&payload).expect("payload");
    assert_eq!(payload.email, email);
    assert!(!payload_mentions_password(&payload), "no secret in the event");
    app.finish().await;
}

fn payload_mentions_password(payload: &events::identity::UserRegisteredV1) -> bool {
    serde_json::to_string(payload).expect("json").contains(PASSWORD)
}

#[tokio::test]
async fn a_second_registration_of_the_same_email_in_any_case_gets_409_email_taken() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    assert_eq!(
        app.register(&email, PASSWORD, "First").await.status,
        StatusCode::CREATED
    );
    let again = app.register(&email.to_uppercase(), PASSWORD, "Second").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "EMAIL_TAKEN");
    assert_eq!(app.count("user_account").await, 1);
    assert_eq!(
        app.count("outbox").await,
        1,
        "no event for the refused registration"
    );
    app.finish().await;
}

#[tokio::test]
async fn bad_input_gets_field_errors_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let long_name = "n".repeat(101);
    let cases = [
        (serde_json::json!({}), vec!["email", "password", "displayName"]),
        (
            serde_json::json!({"password": PASSWORD, "displayName": "No Email"}),
            vec!["email"],
        ),
        (
            serde_json::json!({"email": "not-an-email", "password": PASSWORD, "displayName": "X"}),
            vec!["email"],
        ),
        (
            serde_json::json!({"email": "zoë@exämple.com", "password": PASSWORD, "displayName": "X"}),
            vec!["email"],
        ),
        (
            serde_json::json!({"email": unique_email(), "password": "short", "displayName": "X"}),
            vec!["password"],
        ),
        (
            serde_json::json!({"email": unique_email(), "password": "🔑".repeat(11), "displayName": "X"}),
            vec!["password"],
        ),
        (
            serde_json::json!({"email": unique_email(), "password": PASSWORD, "displayName": "admin\u{202E}"}),
            vec!["displayName"],
        ),
        (
            serde_json::json!({"email": unique_email(), "password": PASSWORD, "displayName": "\u{0}\u{7}"}),
            vec!["displayName"],
        ),
        (
            serde_json::json!({"email": unique_email(), "password": PASSWORD, "displayName": long_name}),
            vec!["displayName"],
        ),
        (
            serde_json::json!({"email": " ", "password": " ".repeat(20), "displayName": "  "}),
            vec!["email", "password", "displayName"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post(identity::http::REGISTER_PATH, body.clone(), None).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.code(), "VALIDATION_FAILED", "{body}");
        assert_eq!(response.bad_fields(), fields, "{body}");
    }
    assert_eq!(app.count("user_account").await, 0);
    assert_eq!(app.count("outbox").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn oversized_malformed_and_mistyped_bodies_get_4xx_and_write_nothing() {
    let app = TestApp::spawn().await;
    let huge = serde_json::json!({
        "email": unique_email(),
        "password": PASSWORD,
        "displayName": "x".repeat(64 * 1024),
    });
    let response = app.post(identity::http::REGISTER_PATH, huge, None).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.code(), "BODY_TOO_LARGE");

    let malformed = app
        .request(
            Method::POST,
            identity::http::REGISTER_PATH,
            Some(Body::from("{\"email\": ")),
            None,
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "MALFORMED_JSON");

    let mistyped = app
        .post(
            identity::http::REGISTER_PATH,
            serde_json::json!({"email": 42, "password": PASSWORD, "displayName": "X"}),
            None,
        )
        .await;
    assert_eq!(mistyped.status, StatusCode::BAD_REQUEST);

    let not_json = app
        .request(Method::POST, identity::http::REGISTER_PATH, None, None)
        .await;
    assert!(not_json.status.is_client_error(), "{:?}", not_json.status);

    assert_eq!(app.count("user_account").await, 0);
    assert_eq!(app.count("outbox").await, 0);
    app.finish().await;
}
