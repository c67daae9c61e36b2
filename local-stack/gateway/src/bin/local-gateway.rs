//! `local-gateway`: the storefront's single HTTP port on a laptop, routing to the functions
//! as `template.yaml` declares.

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "template.yaml")]
    template: std::path::PathBuf,
    /// The port of the first function; the others follow in name order (see `stackctl plan`).
    #[arg(long, env = "FUNCTION_BASE_PORT", default_value_t = 8100)]
    function_base_port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    function_host: String,
    /// The built storefront (`storefront/dist`), served under `/shop/`.
    #[arg(long, env = "STOREFRONT_DIR")]
    storefront_dir: Option<std::path::PathBuf>,
    /// Browser origins allowed to call the API from elsewhere, comma-separated (`*`: any).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',', default_value = "")]
    cors_allowed_origins: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("local-stack", "local-gateway");
    let args = Args::parse();
    let registry = template::Registry::load(&args.template)?;
    let targets = gateway::targets(&registry, &args.function_host, args.function_base_port);
    for target in &targets {
        tracing::info!(method = %target.method, path = %target.path, function = %target.function, "Route");
    }
    let mut routes = gateway::router(&targets)?;
    if let Some(dir) = args.storefront_dir {
        tracing::info!(dir = %dir.display(), mount = gateway::storefront::MOUNT, "Serving the storefront");
        routes = routes.merge(gateway::storefront::router(dir));
    }
    let mut router = runtime::http::HttpFunction::new(routes)
        .body_limit(gateway::BODY_LIMIT)
        .into_router();
    if let Some(cors) = gateway::cors::layer(&args.cors_allowed_origins)? {
        tracing::info!(origins = ?args.cors_allowed_origins, "Answering CORS requests");
        router = router.layer(cors);
    }
    // Served here rather than by `HttpFunction::run`, because the gateway must know each
    // connection's peer to append it to `X-Forwarded-For` (docs/adr/0023).
    let address = runtime::config::bind_address()?;
    let port: u16 = runtime::config::parsed_or("PORT", 8080)?;
    let listener = tokio::net::TcpListener::bind((address, port))
        .await
        .map_err(|error| anyhow::anyhow!("Cannot listen on {address} port {port}: {error}"))?;
    let port = listener.local_addr().map_or(port, |bound| bound.port());
    tracing::info!(%address, port, "Serving HTTP");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(runtime::http::shutdown_signal())
    .await?;
    tracing::info!("Stopped after draining in-flight requests");
    Ok(())
}
