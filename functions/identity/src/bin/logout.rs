//! `logout`: `POST /auth/logout` ends the caller's session (its refresh-token family).

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "logout");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::logout_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
