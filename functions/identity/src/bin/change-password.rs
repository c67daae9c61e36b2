//! `change-password`: `PUT /users/me/password` replaces the password and ends the other sessions.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "change-password");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    HttpFunction::new(identity::http::change_password_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .run()
        .await
}
