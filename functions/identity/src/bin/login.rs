//! `login`: `POST /auth/login` checks the credentials and opens a session.

use identity::http::LoginState;
use identity::settings;
use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "login");
    let state = LoginState {
        pool: store::mariadb::pool_from_env()?,
        issuing: settings::issuing().await?,
        guard: settings::login_guard()?,
        hashing: settings::password_hashing()?,
        trusted: settings::trusted_proxies()?,
    };
    let database_ready = store::mariadb::readiness(state.pool.clone());
    let redis_ready = state.guard.counters().readiness();
    HttpFunction::new(identity::http::login_routes(state))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", database_ready)
        .readiness_check("redis", redis_ready)
        .run()
        .await
}
