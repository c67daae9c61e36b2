//! Signing keys from AWS Secrets Manager and SSM Parameter Store, read through aws-config
//! from a real AWS-compatible server: moto in server mode, started on a free port for this
//! test and stopped with it. `local-stack/test` installs moto (`ensure_moto`).

#![cfg(feature = "aws")]

use std::process::Stdio;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;
use security::SigningKeys;
use security::aws::{SigningKeysSource, load_signing_keys_with};

/// A moto server of its own, killed when dropped.
struct Moto {
    _process: tokio::process::Child,
    endpoint: String,
}

impl Moto {
    /// Starts moto on a port the kernel picks (`-p 0`) and reads the port from the line moto
    /// prints when it listens, so no other test or process can be handed the same port.
    async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, BufReader};

        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let mut process = tokio::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {program} ({error}); install it with \
                     `python3 -m pip install 'moto[server]==5.2.5'` (local-stack/test does)"
                )
            });
        let stderr = process.stderr.take().expect("moto's stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let listening = async {
            while let Some(line) = lines.next_line().await.expect("read moto's output") {
                if let Some(address) = line.split("Running on ").nth(1) {
                    return address.trim().to_owned();
                }
            }
            panic!("moto exited before it listened");
        };
        let endpoint = tokio::time::timeout(Duration::from_secs(30), listening)
            .await
            .expect("moto listens within 30 s");
        // moto logs every request to stderr; keep reading so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            _process: process,
            endpoint,
        }
    }

    /// SDK settings for this server: its endpoint, a region and dummy credentials, so nothing
    /// is looked up anywhere else (no instance metadata, no profile).
    async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .load()
            .await
    }
}

#[tokio::test]
async fn signing_keys_are_read_from_a_secrets_manager_secret() {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;
    let keys = SigningKeys::generate("cloud-1")
        .rotated("cloud-2")
        .expect("rotate");
    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("commerce/jwt-signing-keys")
        .secret_string(keys.to_private_json())
        .send()
        .await
        .expect("create the secret");

    let source = SigningKeysSource::SecretsManager {
        secret_id: "commerce/jwt-signing-keys".to_owned(),
    };
    let loaded = load_signing_keys_with(&config, &source).await.expect("load");
    assert_eq!(loaded.kids(), ["cloud-1", "cloud-2"]);
    assert_eq!(loaded.jwks(), keys.jwks());
}

#[tokio::test]
async fn signing_keys_are_read_from_an_ssm_securestring_parameter() {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;
    let keys = SigningKeys::generate("param-1");
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name("/commerce/identity/jwt-signing-keys")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(keys.to_private_json())
        .send()
        .await
        .expect("put the parameter");

    let source = SigningKeysSource::ParameterStore {
        name: "/commerce/identity/jwt-signing-keys".to_owned(),
    };
    let loaded = load_signing_keys_with(&config, &source).await.expect("load");
    assert_eq!(loaded.jwks(), keys.jwks());
}

#[tokio::test]
async fn a_missing_secret_or_an_unusable_one_fails_naming_it() {
    let moto = Moto::start().await;
    let config = moto.sdk_config().await;
    let missing = SigningKeysSource::SecretsManager {
        secret_id: "commerce/absent".to_owned(),
    };
    let error = load_signing_keys_with(&config, &missing)
        .await
        .expect_err("absent");
    assert!(error.to_string().contains("commerce/absent"), "{error}");

    aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("commerce/not-keys")
        .secret_string("{\"keys\": []}")
        .send()
        .await
        .expect("create the secret");
    let unusable = SigningKeysSource::SecretsManager {
        secret_id: "commerce/not-keys".to_owned(),
    };
    let error = load_signing_keys_with(&config, &unusable)
        .await
        .expect_err("empty");
    assert!(error.to_string().contains("unusable"), "{error}");
}
