//! `update-my-profile`: `PATCH /users/me` changes the caller's display name.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "update-my-profile");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::update_my_profile_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
