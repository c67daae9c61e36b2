//! Signing keys in the cloud (feature `aws`): the private JWK set kept as a Secrets Manager
//! secret or an SSM SecureString parameter, read once at start-up through aws-config.
//!
//! aws-config takes region, credentials and endpoint from the usual chain, so the same code
//! reads from AWS in a Lambda and from a local AWS-compatible server in tests
//! (`AWS_ENDPOINT_URL`).

use crate::keys::SigningKeys;

/// Where the private JWK set lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKeysSource {
    /// A Secrets Manager secret (name or ARN) whose string value is the set.
    SecretsManager { secret_id: String },
    /// An SSM parameter (usually a SecureString) whose value is the set.
    ParameterStore { name: String },
}

impl SigningKeysSource {
    /// `JWT_SIGNING_KEYS_SECRET_ID` or `JWT_SIGNING_KEYS_PARAMETER`, if either is set.
    pub fn from_env() -> Option<Self> {
        if let Ok(secret_id) = runtime::config::required("JWT_SIGNING_KEYS_SECRET_ID") {
            return Some(Self::SecretsManager { secret_id });
        }
        runtime::config::required("JWT_SIGNING_KEYS_PARAMETER")
            .ok()
            .map(|name| Self::ParameterStore { name })
    }
}

/// Reads the signing keys from AWS, configured from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`).
pub async fn load_signing_keys(source: &SigningKeysSource) -> anyhow::Result<SigningKeys> {
    load_signing_keys_with(&aws_config::load_from_env().await, source).await
}

/// Reads the signing keys from AWS with a given SDK configuration.
#[tracing::instrument(skip_all, fields(source = ?source))]
pub async fn load_signing_keys_with(
    config: &aws_config::SdkConfig,
    source: &SigningKeysSource,
) -> anyhow::Result<SigningKeys> {
    let json = match source {
        SigningKeysSource::SecretsManager { secret_id } => {
            let client = aws_sdk_secretsmanager::Client::new(config);
            let answer = client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(|error| {
                    anyhow::anyhow!(
                        "cannot read the secret {secret_id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&error)
                    )
                })?;
            answer
                .secret_string()
                .ok_or_else(|| anyhow::anyhow!("the secret {secret_id} has no string value"))?
                .to_owned()
        }
        SigningKeysSource::ParameterStore { name } => {
            let client = aws_sdk_ssm::Client::new(config);
            let answer = client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|error| {
                    anyhow::anyhow!(
                        "cannot read the parameter {name}: {}",
                        aws_sdk_ssm::error::DisplayErrorContext(&error)
                    )
                })?;
            answer
                .parameter()
                .and_then(|parameter| parameter.value())
                .ok_or_else(|| anyhow::anyhow!("the parameter {name} has no value"))?
                .to_owned()
        }
    };
    let keys = SigningKeys::from_json(&json)
        .map_err(|error| anyhow::anyhow!("the signing keys from {source:?} are unusable: {error}"))?;
    tracing::info!(kids = ?keys.kids(), "Loaded signing keys");
    Ok(keys)
}

/// The signing keys from wherever the environment says: AWS when
/// `JWT_SIGNING_KEYS_SECRET_ID` or `JWT_SIGNING_KEYS_PARAMETER` is set, otherwise
/// `JWT_SIGNING_KEYS` or `JWT_SIGNING_KEYS_FILE` (see [`SigningKeys::from_env`]).
pub async fn signing_keys_from_env() -> anyhow::Result<SigningKeys> {
    match SigningKeysSource::from_env() {
        Some(source) => load_signing_keys(&source).await,
        None => SigningKeys::from_env(),
    }
}
