//! `get-my-profile`: `GET /users/me` answers the caller's profile.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "get-my-profile");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::get_my_profile_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
