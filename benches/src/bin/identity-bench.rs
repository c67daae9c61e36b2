//! `identity-bench`: what a login and a token check cost on this machine, and what a burst of
//! logins does to the `login` function's memory.
//!
//! 1. `rate`: logins at a fixed arrival rate (default 20/s for 30 s) through the login router
//!    in-process — JSON, the Redis limits, MariaDB reads and writes, argon2id, signing — and
//!    their p50/p99 latency.
//! 2. `back-to-back`: logins back to back from `--concurrency` tasks: the most logins per
//!    second.
//! 3. `verify`: verifying an access token (EdDSA signature and claims): the cost each request
//!    pays.
//! 4. `burst`: the real `login` binary as its own process, hit by `--burst` logins at the same
//!    moment (default 200), `--rounds` times; each client that is told `503 SERVICE_BUSY` comes
//!    back after `Retry-After`, as a well-behaved client would. Reports the first answers, the
//!    latency until each login succeeded (p50/p99), and the process's resident memory: before,
//!    its peak (the kernel's high-water mark, `VmHWM`), and after.
//!
//! It needs the local stack (`IDENTITY_DATABASE_URL`, `REDIS_URL` from
//! `local-stack/var/stack.env`) and writes throw-away accounts and their sessions to the
//! identity schema. Build it with `--release`; see docs/benchmarks/identity.md.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use identity::client::TrustedProxies;
use identity::hashing::PasswordHashing;
use identity::http::{self, Identity};
use identity::limits::{Limit, LoginLimits};
use identity::rate_limit::{AttemptLimiter, CounterKeys, Counters, LoginGuard};
use identity::sessions::Issuing;
use security::{Role, SigningKeys, TokenIssuer};
use tower::ServiceExt;

#[derive(Debug, Parser)]
#[command(about = "Login, token-verification and login-burst benchmark of the identity context")]
struct Arguments {
    #[arg(long, env = "IDENTITY_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6380")]
    redis_url: String,
    /// The phases to run, in this order: rate, back-to-back, verify, burst.
    #[arg(long, value_delimiter = ',', default_value = "rate,back-to-back,verify,burst")]
    phases: Vec<String>,
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
    /// Concurrent logins in each round of the burst phase.
    #[arg(long, default_value_t = 200)]
    burst: usize,
    /// Rounds of the burst phase.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The `login` binary of the burst phase; by default the one next to this program.
    #[arg(long)]
    login_binary: Option<std::path::PathBuf>,
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
    let counters = Counters::new(
        &arguments.redis_url,
        "identity-bench",
        CounterKeys::new(CounterKeys::generate_secret().as_bytes())?,
    )?;
    let identity = Identity {
        pool: pool.clone(),
        issuing: Issuing {
            issuer: Arc::clone(&issuer),
            refresh_ttl: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(3600),
        },
        hashing: PasswordHashing::sized_to_machine(),
        trusted: TrustedProxies::hops(1),
        login_guard: LoginGuard::new(counters.clone(), LoginLimits::unlimited()),
        registrations: AttemptLimiter::new(counters.clone(), "registrations-address", Limit::unlimited()),
        password_changes: AttemptLimiter::new(
            counters,
            "password-change-failures-session",
            Limit::unlimited(),
        ),
    };
    let router = http::all_routes(identity, Arc::clone(&verifier));

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
    let phase = |name: &str| arguments.phases.iter().any(|phase| phase == name);
    if phase("rate") || phase("back-to-back") {
        // Warm up the pools and caches.
        for _ in 0..5 {
            call(&router, http::LOGIN_PATH, body.clone()).await;
        }
    }
    if phase("rate") {
        fixed_rate(&router, &body, arguments.rate, arguments.seconds).await?;
    }
    if phase("back-to-back") {
        back_to_back(&router, &body, arguments.concurrency, arguments.seconds).await?;
    }
    if phase("verify") {
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
    }
    if phase("burst") {
        burst(&arguments, &body).await?;
    }
    pool.close().await;
    Ok(())
}

/// Phase 1: fixed arrival rate, latencies measured from the scheduled start.
async fn fixed_rate(
    router: &axum::Router,
    body: &serde_json::Value,
    rate: u32,
    seconds: u64,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let total = u64::from(rate) * seconds;
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
        "fixed rate: {} logins at {rate}/s in {:.1} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, failures {failures}",
        latencies.len(),
        elapsed.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
    );
    Ok(())
}

/// Phase 2: back to back.
async fn back_to_back(
    router: &axum::Router,
    body: &serde_json::Value,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
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
        "back to back: {logins} logins from {concurrency} tasks in {:.1} s: {:.1} logins/s",
        started.elapsed().as_secs_f64(),
        logins as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Phase 4: a burst against the login process

/// The `login` binary running as a process of its own, killed when dropped.
struct LoginProcess {
    child: Child,
    port: u16,
}

impl Drop for LoginProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LoginProcess {
    /// Starts `binary` on a port it picks (`PORT=0`) with throw-away keys and limits out of
    /// reach, and reads the port from its "Serving HTTP" log line.
    fn start(binary: &std::path::Path, arguments: &Arguments) -> anyhow::Result<Self> {
        let keys = SigningKeys::generate("burst");
        let out_of_reach = "1000000000";
        let mut command = Command::new(binary);
        command
            .env("PORT", "0")
            .env("RUST_LOG", "warn,runtime::http=info")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env("DATABASE_URL", &arguments.database_url)
            .env("REDIS_URL", &arguments.redis_url)
            .env("JWT_ISSUER", "https://identity.bench")
            .env("JWT_AUDIENCE", "commerce")
            .env("JWT_SIGNING_KEYS", keys.to_private_json())
            .env_remove("JWT_SIGNING_KEYS_FILE")
            .env("RATE_LIMIT_HMAC_KEY", CounterKeys::generate_secret())
            // The limits of this and earlier versions of `login`, all out of reach: the burst
            // measures the hashing, not the limits.
            .env("LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", out_of_reach)
            .env("LOGIN_FAILURES_PER_ACCOUNT", out_of_reach)
            .env("LOGIN_FAILURES_PER_ADDRESS", out_of_reach)
            .env("LOGIN_LIMIT_PER_ACCOUNT", out_of_reach)
            .env("LOGIN_LIMIT_PER_IP", out_of_reach)
            .env("DATABASE_MAX_CONNECTIONS", "10")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        // As template.yaml sets it for the hashing functions (docs/adr/0014), unless the
        // caller set it; `MALLOC_MMAP_THRESHOLD_=glibc` measures glibc's own default.
        match std::env::var("MALLOC_MMAP_THRESHOLD_").as_deref() {
            Ok("glibc") => command.env_remove("MALLOC_MMAP_THRESHOLD_"),
            Ok(_) => &mut command,
            Err(_) => command.env("MALLOC_MMAP_THRESHOLD_", "131072"),
        };
        let mut child = command
            .spawn()
            .map_err(|error| anyhow::anyhow!("cannot start {}: {error}", binary.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (report, reported) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .filter(|line| line["message"] == "Serving HTTP")
                    .and_then(|line| line["port"].as_u64());
                match port {
                    Some(port) => {
                        let _ = report.send(port);
                    }
                    None => eprintln!("login: {line}"),
                }
            }
        });
        let mut process = Self { child, port: 0 };
        let port = reported
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| anyhow::anyhow!("{} did not serve within 30 s", binary.display()))?;
        process.port = u16::try_from(port)?;
        anyhow::ensure!(process.port != 0, "the login binary reports port 0; rebuild it");
        Ok(process)
    }

    /// `VmRSS` and `VmHWM` (the peak) of the process, in MiB.
    fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/<pid>/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// How one client's login went: its first answer, and how long until it succeeded.
struct ClientLogin {
    first_status: u16,
    until_success: Option<Duration>,
}

async fn burst(arguments: &Arguments, body: &serde_json::Value) -> anyhow::Result<()> {
    let binary = match &arguments.login_binary {
        Some(binary) => binary.clone(),
        None => std::env::current_exe()?.with_file_name("login"),
    };
    let login = LoginProcess::start(&binary, arguments)?;
    let url = format!("http://127.0.0.1:{}{}", login.port, http::LOGIN_PATH);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(arguments.burst)
        .timeout(Duration::from_secs(120))
        .build()?;
    // One login to open the process's pools, then the memory it runs with.
    let warm_up = client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-forwarded-for", "10.0.0.1")
        .body(body.to_string())
        .send()
        .await?;
    anyhow::ensure!(
        warm_up.status() == 200,
        "the warm-up login answered {}",
        warm_up.status()
    );
    let (before, _) = login.memory()?;
    println!(
        "burst: {} (pid {}), {} concurrent logins × {} rounds; a client told 503 comes back after Retry-After; RSS before {before:.1} MiB",
        binary.display(),
        login.child.id(),
        arguments.burst,
        arguments.rounds
    );

    for round in 1..=arguments.rounds {
        let start = Arc::new(tokio::sync::Barrier::new(arguments.burst));
        let mut clients = Vec::new();
        for index in 0..arguments.burst {
            let (client, url, body, start) =
                (client.clone(), url.clone(), body.to_string(), Arc::clone(&start));
            let address = format!("10.1.{}.{}", index / 250, index % 250 + 1);
            clients.push(tokio::spawn(async move {
                start.wait().await;
                let started = Instant::now();
                let mut first_status = None;
                for _ in 0..60 {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-forwarded-for", &address)
                        .body(body.clone())
                        .send()
                        .await;
                    let Ok(answer) = answer else {
                        first_status.get_or_insert(0);
                        break;
                    };
                    let status = answer.status().as_u16();
                    first_status.get_or_insert(status);
                    if status == 200 {
                        return ClientLogin {
                            first_status: first_status.unwrap_or(status),
                            until_success: Some(started.elapsed()),
                        };
                    }
                    let wait = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.parse::<u64>().ok());
                    match wait {
                        Some(seconds) if status == 503 || status == 429 => {
                            tokio::time::sleep(Duration::from_secs(seconds)).await;
                        }
                        _ => break,
                    }
                }
                ClientLogin {
                    first_status: first_status.unwrap_or(0),
                    until_success: None,
                }
            }));
        }
        let mut latencies = Vec::new();
        let (mut first_ok, mut first_busy, mut first_other, mut failed) = (0, 0, 0, 0);
        for client in clients {
            let login = client.await?;
            match login.first_status {
                200 => first_ok += 1,
                503 => first_busy += 1,
                _ => first_other += 1,
            }
            match login.until_success {
                Some(latency) => latencies.push(latency),
                None => failed += 1,
            }
        }
        latencies.sort();
        let (now, peak) = login.memory()?;
        println!(
            "round {round}: first answers {first_ok} ok, {first_busy} busy (503), {first_other} other; \
             {} logged in, {failed} never; until logged in p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
             RSS now {now:.1} MiB, peak so far {peak:.1} MiB",
            latencies.len(),
            millis(percentile(&latencies, 0.50)),
            millis(percentile(&latencies, 0.99)),
            millis(latencies.last().copied().unwrap_or_default()),
        );
    }
    let (after, peak) = login.memory()?;
    println!("login RSS: before {before:.1} MiB, peak (VmHWM) {peak:.1} MiB, after {after:.1} MiB");
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
