//! The operator command `identity-admin`, run as a process the way the README tells an
//! operator to: the admin bootstrap, and the key files of the local stack with rotation.

mod support;

use std::process::Command;

use axum::http::StatusCode;
use security::{Jwks, Role, SigningKeys};
use support::{PASSWORD, TestApp, unique_email};

fn identity_admin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_identity-admin"))
}

#[tokio::test]
async fn grant_admin_gives_an_existing_account_the_admin_role_and_refuses_an_unknown_one() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    assert_eq!(
        app.register(&email, PASSWORD, "Operator").await.status,
        StatusCode::CREATED
    );

    let granted = identity_admin()
        .args(["grant-admin", &email.to_uppercase()])
        .env("DATABASE_URL", app.database.url())
        .output()
        .expect("run identity-admin");
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );

    let login = app.login(&email, PASSWORD).await;
    let claims = app
        .issuer
        .verifier()
        .expect("verifier")
        .verify(&login.data("accessToken"))
        .expect("valid");
    assert_eq!(claims.roles, [Role::Customer, Role::Admin]);

    let unknown = identity_admin()
        .args(["grant-admin", &unique_email()])
        .env("DATABASE_URL", app.database.url())
        .output()
        .expect("run identity-admin");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account"));
    app.finish().await;
}

#[test]
fn init_keys_creates_the_keys_once_and_rotation_publishes_old_and_new() {
    let dir = std::env::temp_dir().join(format!("identity-keys-{}", uuid::Uuid::now_v7().simple()));
    let run = |args: &[&str]| {
        let output = identity_admin().args(args).output().expect("run identity-admin");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    run(&["init-keys", "--dir", dir_arg, "--kid", "first"]);
    let private = std::fs::read_to_string(dir.join("signing-keys.json")).expect("signing keys");
    run(&["init-keys", "--dir", dir_arg, "--kid", "second"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("signing-keys.json")).expect("signing keys"),
        private,
        "a second run keeps the keys"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("signing-keys.json"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the private keys");
    }

    run(&["rotate-keys", "--dir", dir_arg, "--kid", "second"]);
    let keys = SigningKeys::from_file(&dir.join("signing-keys.json")).expect("keys");
    assert_eq!(keys.kids(), ["first", "second"]);
    let jwks =
        Jwks::from_json(&std::fs::read_to_string(dir.join("jwks.json")).expect("jwks")).expect("a JWKS");
    assert_eq!(jwks, keys.jwks());

    run(&["rotate-keys", "--dir", dir_arg, "--kid", "third", "--keep", "2"]);
    let keys = SigningKeys::from_file(&dir.join("signing-keys.json")).expect("keys");
    assert_eq!(keys.kids(), ["second", "third"]);
    std::fs::remove_dir_all(&dir).expect("clean up");
}
