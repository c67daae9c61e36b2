//! `change-password`: `PUT /users/me/password` replaces the password and ends the other sessions.

use identity::http::ChangePasswordState;
use identity::settings;
use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "change-password");
    let state = ChangePasswordState {
        pool: store::mariadb::pool_from_env()?,
        hashing: settings::password_hashing()?,
        limiter: settings::password_change_limiter()?,
    };
    let verifier = settings::verifier()?;
    HttpFunction::new(identity::http::change_password_routes(state, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .run()
        .await
}
