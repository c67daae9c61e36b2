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
    let database_ready = store::mariadb::readiness(state.pool.clone());
    let redis_ready = state.limiter.counters().readiness();
    HttpFunction::new(identity::http::change_password_routes(state, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", database_ready)
        .readiness_check("redis", redis_ready)
        .run()
        .await
}
