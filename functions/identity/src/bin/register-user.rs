//! `register-user`: `POST /auth/register` creates an account and records `user.registered`.

use identity::http::RegisterState;
use identity::settings;
use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "register-user");
    let state = RegisterState {
        pool: store::mariadb::pool_from_env()?,
        hashing: settings::password_hashing()?,
        limiter: settings::registration_limiter()?,
        trusted: settings::trusted_proxies()?,
    };
    let database_ready = store::mariadb::readiness(state.pool.clone());
    let redis_ready = state.limiter.counters().readiness();
    HttpFunction::new(identity::http::register_user_routes(state))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", database_ready)
        .readiness_check("redis", redis_ready)
        .run()
        .await
}
