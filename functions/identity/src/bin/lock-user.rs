//! `lock-user`: `POST /admin/users/{id}/lock` locks an account (admin), ends its sessions and
//! announces `user.locked`.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "lock-user");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::lock_user_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
