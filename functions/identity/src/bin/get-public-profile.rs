//! `get-public-profile`: `GET /users/{id}/profile` answers what anyone may see of a user.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "get-public-profile");
    let pool = store::mariadb::pool_from_env()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::get_public_profile_routes(pool))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
