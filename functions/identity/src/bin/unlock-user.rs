//! `unlock-user`: `POST /admin/users/{id}/unlock` lifts an account's lock (admin) and
//! announces `user.unlocked`.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "unlock-user");
    let pool = store::mariadb::pool_from_env()?;
    let verifier = identity::settings::verifier()?;
    let ready = store::mariadb::readiness(pool.clone());
    HttpFunction::new(identity::http::unlock_user_routes(pool, verifier))
        .body_limit(identity::http::BODY_LIMIT)
        .readiness_check("database", ready)
        .run()
        .await
}
