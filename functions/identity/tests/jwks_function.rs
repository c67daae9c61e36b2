//! The `jwks` function publishes the public keys without being given any private key: it
//! starts with the public JWKS alone and serves it.

use std::process::Command;

use security::SigningKeys;

#[tokio::test]
async fn the_jwks_function_serves_the_public_keys_with_no_private_key_in_reach() {
    let keys = SigningKeys::generate("key-a").rotated("key-b").expect("rotate");
    let directory = std::env::temp_dir().join(format!("jwks-function-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&directory).expect("a directory");
    let jwks_file = directory.join("jwks.json");
    std::fs::write(&jwks_file, keys.jwks().to_json()).expect("write the JWKS");

    let mut command = Command::new(env!("CARGO_BIN_EXE_jwks"));
    for variable in [
        "JWT_SIGNING_KEYS",
        "JWT_SIGNING_KEYS_FILE",
        "JWT_SIGNING_KEYS_SECRET_ID",
        "JWT_SIGNING_KEYS_PARAMETER",
        "JWT_JWKS",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "DATABASE_URL",
    ] {
        command.env_remove(variable);
    }
    command.env("JWT_JWKS_FILE", &jwks_file);
    let served = testkit::serve::ServedBinary::start(command).await;

    let answer = reqwest::get(format!("{}/.well-known/jwks.json", served.url()))
        .await
        .expect("the function answers");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value =
        serde_json::from_slice(&answer.bytes().await.expect("a body")).expect("a JWKS");
    let kids: Vec<&str> = body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert_eq!(kids, ["key-a", "key-b"]);
    assert!(!body.to_string().contains(r#""d""#), "no private part: {body}");
    drop(served);
    let _ = std::fs::remove_dir_all(&directory);
}
