//! `refresh-token`: `POST /auth/refresh` rotates a refresh token; reuse revokes the session.

use identity::http::RefreshState;
use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "refresh-token");
    let state = RefreshState {
        pool: store::mariadb::pool_from_env()?,
        issuing: identity::settings::issuing().await?,
    };
    let ready = store::mariadb::readiness(state.pool.clone());
    HttpFunction::new(identity::http::refresh_token_routes(state))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
