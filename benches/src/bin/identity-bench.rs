//! `identity-bench`: what a login and a token check cost on this machine.
//!
//! 1. Logins at a fixed arrival rate (default 20/s for 30 s) through the login router
//!    in-process — JSON, Redis rate limit, MariaDB reads and writes, argon2id, signing — and
//!    their p50/p99 latency.
//! 2. Logins back to back from `--concurrency` tasks: the most logins per second.
//! 3. Verifying an access token (EdDSA signature and claims): the cost each request pays.
//!
//! It needs the local stack (`IDENTITY_DATABASE_URL`, `REDIS_URL` from `local-stack/var/stack.env`)
//! and writes a throw-away account and its sessions to the identity schema. Build it with
//! `--release`; see docs/benchmarks/identity.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use identity::http::{self, LoginState};
use identity::rate_limit::{Limit, LoginLimiter};
use identity::sessions::Issuing;
use security::{Role, SigningKeys, TokenIssuer};
use tower::ServiceExt;

#[derive(Debug, Parser)]
#[command(about = "Login and token-verification benchmark of the identity context")]
struct Arguments {
    #[arg(long, env = "IDENTITY_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6380")]
    redis_url: String,
    /// Logins per second in the fixed-rate phase.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Seconds of the fixed-rate phase and of the back-to-back phase.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Concurrent tasks in the back-to-back phase.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Token verifications to time.
    #[arg(long, default_value_t = 200_000)]
    verifications: u32,
}

const PASSWORD: &str = "benchmark password 2026";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(16)
        .connect(&arguments.database_url)
        .await?;
    let issuer = Arc::new(TokenIssuer::new(
        SigningKeys::generate("bench"),
        "https://identity.bench",
        "commerce",
        Duration::from_secs(300),
    ));
    let verifier = Arc::new(issuer.verifier()?);
    let unlimited = Limit {
        max_attempts: u32::MAX,
        window: Duration::from_secs(60),
    };
    let state = LoginState {
        pool: pool.clone(),
        issuing: Issuing {
            issuer: Arc::clone(&issuer),
            refresh_ttl: Duration::from_secs(3600),
        },
        limiter: LoginLimiter::new(&arguments.redis_url, "identity-bench", unlimited, unlimited)?,
    };
    let router = http::all_routes(state, Arc::clone(&verifier));

    let email = format!("bench-{}@identity.bench", uuid::Uuid::now_v7().simple());
    let (status, _) = call(
        &router,
        http::REGISTER_PATH,
        serde_json::json!({"email": email, "password": PASSWORD, "displayName": "Bench"}),
    )
    .await;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "registering the bench account answered {status}"
    );
    let body = serde_json::json!({"email": email, "password": PASSWORD});

    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    // Warm up the pools and caches.
    for _ in 0..5 {
        call(&router, http::LOGIN_PATH, body.clone()).await;
    }

    // Phase 1: fixed arrival rate, latencies measured from the scheduled start.
    let interval = Duration::from_secs_f64(1.0 / f64::from(arguments.rate.max(1)));
    let total = u64::from(arguments.rate) * arguments.seconds;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..total {
        let scheduled = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let router = router.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let (status, _) = call(&router, http::LOGIN_PATH, body).await;
            (status, scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (status, latency) = task.await?;
        if status == StatusCode::OK {
            latencies.push(latency);
        } else {
            failures += 1;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "fixed rate: {} logins at {}/s in {:.1} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, failures {failures}",
        latencies.len(),
        arguments.rate,
        elapsed.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
    );

    // Phase 2: back to back.
    let deadline = Instant::now() + Duration::from_secs(arguments.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..arguments.concurrency {
        let router = router.clone();
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut done = 0_u64;
            while Instant::now() < deadline {
                if call(&router, http::LOGIN_PATH, body.clone()).await.0 == StatusCode::OK {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut logins = 0;
    for worker in workers {
        logins += worker.await?;
    }
    println!(
        "back to back: {logins} logins from {} tasks in {:.1} s: {:.1} logins/s",
        arguments.concurrency,
        started.elapsed().as_secs_f64(),
        logins as f64 / started.elapsed().as_secs_f64()
    );

    // Phase 3: verifying a token.
    let token = issuer.issue(uuid::Uuid::now_v7(), &[Role::Customer])?.token;
    let started = Instant::now();
    for _ in 0..arguments.verifications {
        std::hint::black_box(verifier.verify(std::hint::black_box(&token)))?;
    }
    let per_verification = started.elapsed() / arguments.verifications.max(1);
    println!(
        "token verification: {:.1} µs each ({} verifications, one core)",
        per_verification.as_secs_f64() * 1e6,
        arguments.verifications
    );
    pool.close().await;
    Ok(())
}

async fn call(router: &axum::Router, path: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .header("x-forwarded-for", "10.0.0.1")
        .header("user-agent", "identity-bench")
        .body(Body::from(body.to_string()));
    let Ok(request) = request else {
        return (StatusCode::BAD_REQUEST, serde_json::Value::Null);
    };
    match router.clone().oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            (status, serde_json::from_slice(&bytes).unwrap_or_default())
        }
        Err(never) => match never {},
    }
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
