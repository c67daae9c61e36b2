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
    HttpFunction::new(identity::http::register_user_routes(state))
        .body_limit(identity::http::BODY_LIMIT)
        .run()
        .await
}
