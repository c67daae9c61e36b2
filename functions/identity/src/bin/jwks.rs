//! `jwks`: `GET /.well-known/jwks.json` publishes the public half of every signing key, old
//! and new, so verifiers accept tokens across a key rotation.
//!
//! It reads the public JWKS (`JWT_JWKS` or `JWT_JWKS_FILE`), the same the verifiers trust,
//! and never a private key: publishing keys needs no power to sign with them.

use runtime::http::HttpFunction;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("identity", "jwks");
    let jwks = security::Jwks::from_env()?;
    HttpFunction::new(identity::http::jwks_routes(jwks)).run().await
}
