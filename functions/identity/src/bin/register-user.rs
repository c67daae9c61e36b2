//! `register-user`: `POST /auth/register` creates an account and records `user.registered`.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "register-user");
    let pool = store::mariadb::pool_from_env()?;
    HttpFunction::new(identity::http::register_user_routes(pool))
        .body_limit(identity::http::BODY_LIMIT)
        .run()
        .await
}
