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
    HttpFunction::new(identity::http::login_routes(state))
        .body_limit(identity::http::BODY_LIMIT)
        .run()
        .await
}
