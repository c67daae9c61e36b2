//! `jwks`: `GET /.well-known/jwks.json` publishes the public half of every signing key, old
//! and new, so verifiers accept tokens across a key rotation.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "jwks");
    let issuing = identity::settings::issuing().await?;
    HttpFunction::new(identity::http::jwks_routes(issuing.issuer.jwks()))
        .run()
        .await
}
