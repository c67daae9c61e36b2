//! `withdraw-account`: `DELETE /users/me` erases the caller's account after checking their
//! password, ends its sessions and announces `user.withdrawn`.

use identity::http::WithdrawState;
use identity::settings;
use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "withdraw-account");
    let state = WithdrawState {
        pool: store::mariadb::pool_from_env()?,
        hashing: settings::password_hashing()?,
        limiter: settings::password_change_limiter()?,
    };
    let verifier = settings::verifier()?;
    let database_ready = store::mariadb::readiness(state.pool.clone());
    let redis_ready = state.limiter.counters().readiness();
    HttpFunction::new(identity::http::withdraw_account_routes(state, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", database_ready)
        .readiness_check("redis", redis_ready)
        .run()
        .await
}
