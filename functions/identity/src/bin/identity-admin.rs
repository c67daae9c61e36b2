//! `identity-admin`: the identity context's operator commands.
//!
//! - `init-keys --dir DIR`: creates `DIR/signing-keys.json` (a private Ed25519 JWK set,
//!   mode 0600) unless it exists, and writes its public half to `DIR/jwks.json`; creates
//!   `DIR/rate-limit-key` (the secret that names the rate limits' Redis keys, mode 0600)
//!   unless it exists. The local stack runs it on every start; the first run generates both.
//! - `rotate-keys --dir DIR --kid KID`: adds a new key that signs from now on; the JWKS keeps
//!   the old ones (drop them with `--keep` once their tokens have expired).
//! - `grant-admin EMAIL`: gives the account the admin role. This is the only way to become an
//!   admin; no HTTP route grants roles.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use identity::domain::Email;
use identity::rate_limit::CounterKeys;
use identity::use_cases::{self, GrantAdminError};
use security::SigningKeys;

#[derive(Debug, Parser)]
#[command(about = "Operator commands of the identity context")]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generates the signing keys and the rate-limit key unless they exist, and writes the
    /// public JWKS next to them.
    InitKeys {
        #[arg(long)]
        dir: PathBuf,
        /// The key id of a newly generated key (default: `key-<date>`).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Adds a new signing key; it signs from now on, and the JWKS publishes old and new.
    RotateKeys {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        kid: String,
        /// Keep only the newest N keys (after the old keys' tokens have expired).
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Grants the admin role to the account with this e-mail address.
    GrantAdmin {
        email: String,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
}

const SIGNING_KEYS_FILE: &str = "signing-keys.json";
const JWKS_FILE: &str = "jwks.json";
const RATE_LIMIT_KEY_FILE: &str = "rate-limit-key";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Arguments::parse().command {
        Command::InitKeys { dir, kid } => {
            let path = dir.join(SIGNING_KEYS_FILE);
            let keys = if path.exists() {
                SigningKeys::from_file(&path)?
            } else {
                let kid = kid.unwrap_or_else(|| format!("key-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")));
                let keys = SigningKeys::generate(&kid);
                write_private(&path, keys.to_private_json().as_bytes())?;
                println!("generated signing key {kid} in {}", path.display());
                keys
            };
            write_jwks(&dir, &keys)?;
            let rate_limit_key = dir.join(RATE_LIMIT_KEY_FILE);
            if !rate_limit_key.exists() {
                write_private(&rate_limit_key, CounterKeys::generate_secret().as_bytes())?;
                println!("generated the rate-limit key in {}", rate_limit_key.display());
            }
        }
        Command::RotateKeys { dir, kid, keep } => {
            let path = dir.join(SIGNING_KEYS_FILE);
            let mut keys = SigningKeys::from_file(&path)?.rotated(&kid)?;
            if let Some(keep) = keep {
                keys = keys.retain_newest(keep);
            }
            write_private(&path, keys.to_private_json().as_bytes())?;
            write_jwks(&dir, &keys)?;
            println!("signing keys now {:?}; {kid} signs", keys.kids());
        }
        Command::GrantAdmin { email, database_url } => {
            let email =
                Email::parse(&email).map_err(|reason| anyhow::anyhow!("the e-mail address {reason}"))?;
            let pool = sqlx::MySqlPool::connect(&database_url).await?;
            match use_cases::grant_admin(&pool, &email).await {
                Ok(user_id) => println!(
                    "granted admin to {} (user {user_id}); it takes effect at their next login or refresh",
                    email.as_str()
                ),
                Err(GrantAdminError::UnknownAccount) => {
                    anyhow::bail!("no account has the e-mail address {}", email.as_str())
                }
                Err(GrantAdminError::Unexpected(error)) => return Err(error),
            }
        }
    }
    Ok(())
}

/// Writes a secret readable by its owner only, replacing the file atomically.
fn write_private(path: &Path, secret: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(secret)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

fn write_jwks(dir: &Path, keys: &SigningKeys) -> anyhow::Result<()> {
    let path = dir.join(JWKS_FILE);
    std::fs::write(&path, keys.jwks().to_json())?;
    println!("public keys {:?} in {}", keys.kids(), path.display());
    Ok(())
}
