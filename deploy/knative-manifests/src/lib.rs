//! The Knative / k3s manifests of the platform, generated from `template.yaml`.
//!
//! `template.yaml` is the one registry of functions; this crate turns it into the Kustomize
//! tree under `deploy/knative/` and says where the committed tree differs from a fresh
//! generation (`tests/committed.rs` fails on any difference, so CI catches a template change
//! without regenerated manifests). Run `cargo run -p knative-manifests` from the repository
//! root to regenerate; `--check` only reports.
//!
//! - [`function`]: a Knative `Service` per function, scaled by its kind of trigger.
//! - [`sources`]: a `KafkaSource` with a dead-letter `KafkaSink` per subscription, a
//!   `PingSource` per schedule.
//! - [`ingress`]: the Traefik routes of the HTTP API.
//! - [`network`]: the NetworkPolicies that keep functions reachable only by their triggers.
//! - [`platform`]: the namespace, its settings, the fault knobs, the outbox relay and the
//!   provisioning jobs.
//! - [`backing`]: MariaDB, Kafka and Redis for the k3s overlay.
//! - [`monitoring`]: Prometheus with the platform's alert rules, for the k3s overlay.
//! - [`cluster`]: names and addresses the manifests share.
//!
//! The decisions behind them are docs/adr/0032 (functions, ingress, network) and 0033
//! (sources, relay, topics and provisioning).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};
use template::Registry;

pub mod backing;
pub mod cluster;
pub mod function;
pub mod ingress;
pub mod monitoring;
pub mod network;
pub mod platform;
pub mod sources;
mod yaml;

/// The folder, relative to the repository root, that holds the generated tree.
pub const OUTPUT_DIR: &str = "deploy/knative";

/// One generated file: its path below [`OUTPUT_DIR`] and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: PathBuf,
    pub contents: String,
}

/// The tag the k3s overlay gives every platform image: the workspace's version.
pub const IMAGE_TAG: &str = env!("CARGO_PKG_VERSION");

/// Where the k3s overlay takes the platform's images from: `dev.local` is a name Knative
/// does not resolve to a digest by default, so images imported into k3s's containerd
/// (`k3s ctr images import`) run without a registry.
pub const K3S_REGISTRY: &str = "dev.local";

/// Every file of the tree for `registry`.
pub fn generate(registry: &Registry) -> anyhow::Result<Vec<ManifestFile>> {
    let mut files = Vec::new();
    let mut base_resources = Vec::new();

    for (path, about, documents) in [
        (
            "namespace.yaml",
            "The platform's namespace.",
            vec![platform::namespace()],
        ),
        (
            "platform-config.yaml",
            "Settings that are not secret; an overlay replaces the addresses. Secrets are created\n\
             by the operator (deploy/k3s-secrets), never committed.",
            vec![platform::config()],
        ),
        (
            "faults.yaml",
            "The fault knobs (docs/adr/0054), every one off. Every function and the relay mount\n\
             them and follow changes without a restart: `kubectl -n commerce edit configmap\n\
             commerce-faults` (see docs/deploy/knative-k3s.md). Applying this file again turns\n\
             every knob off.",
            vec![platform::faults()],
        ),
        (
            "outbox-relay.yaml",
            "The outbox relay: MariaDB binlog to Kafka, one replica (docs/adr/0033).",
            platform::relay(),
        ),
        (
            "provisioning.yaml",
            "Schemas, users, grants and migrations; the binlog check; the topics (docs/adr/0033).",
            platform::jobs(),
        ),
        (
            "ingress.yaml",
            "The HTTP API's routes through Traefik to Knative's internal gateway (docs/adr/0032).",
            ingress::objects(registry),
        ),
        (
            "network-policies.yaml",
            "Who may reach the functions and the relay (docs/adr/0030, docs/adr/0032).",
            network::policies(),
        ),
    ] {
        add(&mut files, &format!("base/{path}"), about, &documents)?;
        base_resources.push(path.to_owned());
    }

    for spec in &registry.functions {
        let mut documents = vec![function::service(spec)?];
        documents.extend(sources::of(spec)?);
        let path = format!("functions/{}.yaml", spec.name);
        let about = format!(
            "{}: the function{}.",
            spec.name,
            if documents.len() > 1 {
                " and what triggers it"
            } else {
                ""
            }
        );
        add(&mut files, &format!("base/{path}"), &about, &documents)?;
        base_resources.push(path);
    }

    let base = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": base_resources,
    });
    add(
        &mut files,
        "base/kustomization.yaml",
        "Every object of the platform, for any cluster with Knative Serving (net-kourier),\n\
         Knative Eventing with the Kafka source and sink, and Traefik. Apply an overlay.",
        &[base],
    )?;

    add(
        &mut files,
        "k3s/backing-services.yaml",
        "MariaDB, Kafka and Redis for a single-node trial cluster (not for production).",
        &backing::objects(database_connections_at_most(registry)?),
    )?;
    add(
        &mut files,
        "k3s/monitoring.yaml",
        "Prometheus with the platform's alert rules, the same file the local stack tests with\n\
         promtool (docs/adr/0053); it scrapes the platform's pods by their annotations.",
        &monitoring::objects()?,
    )?;
    add(
        &mut files,
        "k3s/kustomization.yaml",
        "A single-node k3s cluster: the base, the backing services, images imported into k3s\n\
         (see docs/deploy/knative-k3s.md), one copy of every topic.",
        &[k3s_overlay(registry)?],
    )?;
    Ok(files)
}

/// Sessions beyond the functions' pools: the relay's binlog stream and position store, the
/// provisioning jobs, and an operator with a client.
pub const OTHER_DATABASE_CONNECTIONS: u32 = 20;

/// The most sessions the platform can hold open on MariaDB at once: every function's pool
/// full at its largest scale, and the others. The k3s overlay's MariaDB accepts that many, so
/// a burst that scales every function out meets slow queries, not refused connections.
pub fn database_connections_at_most(registry: &Registry) -> anyhow::Result<u32> {
    let mut total = OTHER_DATABASE_CONNECTIONS;
    for spec in &registry.functions {
        if function::has_database(spec) {
            let scaling = function::Scaling::of(spec, function::Trigger::of(spec)?);
            total += scaling.database_connections * scaling.max_scale;
        }
    }
    Ok(total)
}

fn add(files: &mut Vec<ManifestFile>, path: &str, about: &str, documents: &[Value]) -> anyhow::Result<()> {
    files.push(ManifestFile {
        path: PathBuf::from(path),
        contents: yaml::file(about, documents)?,
    });
    Ok(())
}

fn k3s_overlay(registry: &Registry) -> anyhow::Result<Value> {
    let mut binaries: Vec<&str> = registry
        .functions
        .iter()
        .map(|function| function.name.as_str())
        .collect();
    binaries.extend(["outbox-relay", "stackctl"]);
    binaries.sort_unstable();
    let images: Vec<Value> = binaries
        .iter()
        .map(|binary| {
            json!({
                "name": cluster::image(binary),
                "newName": format!("{K3S_REGISTRY}/{}", cluster::image(binary)),
                "newTag": IMAGE_TAG,
            })
        })
        .collect();
    // A JSON patch is a YAML list of operations, written here as a string.
    let replace = |path: &str, value: Value| {
        yaml::document_text(&json!([{"op": "replace", "path": path, "value": value}]))
    };
    Ok(json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../base", "backing-services.yaml", "monitoring.yaml"],
        "images": images,
        "patches": [
            {
                "target": {"group": "eventing.knative.dev", "kind": "KafkaSink"},
                "patch": replace("/spec/replicationFactor", json!(1))?,
            },
            {
                "target": {"version": "v1", "kind": "ConfigMap", "name": cluster::PLATFORM_CONFIG},
                "patch": replace("/data/KAFKA_REPLICATION_FACTOR", json!("1"))?,
            },
        ],
    }))
}

/// How the tree on disk differs from a generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// Generated, but the file on disk has other contents.
    Changed(PathBuf),
    /// Generated, but not on disk.
    Missing(PathBuf),
    /// On disk, but no longer generated (a function that left the template).
    Stale(PathBuf),
}

impl fmt::Display for Drift {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed(path) => write!(formatter, "{} differs", path.display()),
            Self::Missing(path) => write!(formatter, "{} is missing", path.display()),
            Self::Stale(path) => write!(formatter, "{} is no longer generated", path.display()),
        }
    }
}

/// Every difference between `files` and the tree under `dir`.
pub fn drift(files: &[ManifestFile], dir: &Path) -> anyhow::Result<Vec<Drift>> {
    let mut differences = Vec::new();
    for file in files {
        match std::fs::read_to_string(dir.join(&file.path)) {
            Ok(contents) if contents == file.contents => {}
            Ok(_) => differences.push(Drift::Changed(file.path.clone())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                differences.push(Drift::Missing(file.path.clone()));
            }
            Err(error) => return Err(error).with_context(|| format!("Cannot read {}", file.path.display())),
        }
    }
    let generated: BTreeSet<&Path> = files.iter().map(|file| file.path.as_path()).collect();
    for path in files_below(dir)? {
        if !generated.contains(path.as_path()) {
            differences.push(Drift::Stale(path));
        }
    }
    Ok(differences)
}

/// Writes `files` under `dir` and removes the files there that are no longer generated.
pub fn write(files: &[ManifestFile], dir: &Path) -> anyhow::Result<Vec<Drift>> {
    let differences = drift(files, dir)?;
    for difference in &differences {
        match difference {
            Drift::Changed(path) | Drift::Missing(path) => {
                let target = dir.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("Cannot create {}", parent.display()))?;
                }
                let contents = &files
                    .iter()
                    .find(|file| &file.path == path)
                    .context("a drifted file is a generated one")?
                    .contents;
                std::fs::write(&target, contents)
                    .with_context(|| format!("Cannot write {}", target.display()))?;
            }
            Drift::Stale(path) => {
                let target = dir.join(path);
                std::fs::remove_file(&target)
                    .with_context(|| format!("Cannot remove {}", target.display()))?;
            }
        }
    }
    Ok(differences)
}

/// Every file below `dir`, relative to it, sorted; none when `dir` does not exist.
fn files_below(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = match std::fs::read_dir(dir.join(&relative)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("Cannot list {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  PlaceOrderFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: place-order}}
    Properties:
      Tags: {context: ordering}
      Environment: {Variables: {DATABASE_URL: !Sub "{{resolve:secretsmanager:${Secret}}}"}}
      Events:
        Place: {Type: HttpApi, Properties: {Path: /orders, Method: post}}
"#;

    #[test]
    fn a_written_tree_has_no_drift_and_a_stale_or_edited_file_is_reported() {
        let registry = Registry::parse(TEMPLATE).expect("valid");
        let files = generate(&registry).expect("generates");
        let dir = std::env::temp_dir().join(format!("knative-manifests-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);

        let written = write(&files, &dir).expect("writes");
        assert!(written.iter().all(|drift| matches!(drift, Drift::Missing(_))));
        assert_eq!(drift(&files, &dir).expect("reads"), []);

        std::fs::write(dir.join("base/functions/old-function.yaml"), "x").expect("writable");
        std::fs::write(dir.join("base/namespace.yaml"), "edited").expect("writable");
        let found = drift(&files, &dir).expect("reads");
        assert_eq!(
            found,
            [
                Drift::Changed(PathBuf::from("base/namespace.yaml")),
                Drift::Stale(PathBuf::from("base/functions/old-function.yaml")),
            ]
        );
        write(&files, &dir).expect("writes");
        assert_eq!(drift(&files, &dir).expect("reads"), []);
        std::fs::remove_dir_all(&dir).expect("removable");
    }

    #[test]
    fn the_trial_mariadb_accepts_every_pool_at_every_functions_largest_scale() {
        let registry = Registry::parse(TEMPLATE).expect("valid");
        // place-order: an HTTP function, ten instances with a pool of ten each.
        assert_eq!(
            database_connections_at_most(&registry).expect("counts"),
            10 * 10 + OTHER_DATABASE_CONNECTIONS
        );
        let files = generate(&registry).expect("generates");
        let backing = files
            .iter()
            .find(|file| file.path == Path::new("k3s/backing-services.yaml"))
            .expect("generated");
        assert!(backing.contents.contains("- --max-connections=120\n"));
    }

    /// Every document of every generated file, parsed.
    fn documents(files: &[ManifestFile]) -> Vec<(PathBuf, Value)> {
        let mut found = Vec::new();
        for file in files {
            for text in file.contents.split("\n---\n").skip(1) {
                let document: Value = serde_yaml::from_str(text).expect("generated YAML parses");
                found.push((file.path.clone(), document));
            }
        }
        found
    }

    #[test]
    fn the_knob_file_is_every_knob_off_and_every_process_that_reads_knobs_mounts_it() {
        let registry = Registry::parse(TEMPLATE).expect("valid");
        let files = generate(&registry).expect("generates");
        let documents = documents(&files);

        let knobs = documents
            .iter()
            .find(|(_, document)| {
                document["kind"] == "ConfigMap" && document["metadata"]["name"] == cluster::FAULTS_CONFIG
            })
            .map(|(path, document)| {
                assert_eq!(path, Path::new("base/faults.yaml"));
                document["data"][cluster::FAULTS_KEY]
                    .as_str()
                    .expect("a string")
                    .to_owned()
            })
            .expect("the knob ConfigMap is generated");
        assert_eq!(faults::FaultSet::parse(&knobs), Ok(faults::FaultSet::default()));

        // The functions (Knative Services) and the relay (the one Deployment of the platform's
        // namespace) read knobs; each names the file in the whole mounted volume.
        let readers: Vec<&Value> = documents
            .iter()
            .map(|(_, document)| document)
            .filter(|document| {
                document["metadata"]["namespace"] == cluster::NAMESPACE
                    && ((document["apiVersion"] == "serving.knative.dev/v1" && document["kind"] == "Service")
                        || document["kind"] == "Deployment")
            })
            .collect();
        assert_eq!(readers.len(), 2, "place-order and the relay");
        for document in readers {
            let name = &document["metadata"]["name"];
            let pod = &document["spec"]["template"]["spec"];
            let volume = pod["volumes"]
                .as_array()
                .and_then(|volumes| {
                    volumes
                        .iter()
                        .find(|volume| volume["configMap"]["name"] == cluster::FAULTS_CONFIG)
                })
                .unwrap_or_else(|| panic!("{name} has no knob volume"));
            let container = &pod["containers"][0];
            let mount = container["volumeMounts"]
                .as_array()
                .and_then(|mounts| mounts.iter().find(|mount| mount["name"] == volume["name"]))
                .unwrap_or_else(|| panic!("{name} does not mount the knobs"));
            assert_eq!(mount["readOnly"], true, "{name}");
            let file = container["env"]
                .as_array()
                .and_then(|variables| {
                    variables
                        .iter()
                        .find(|variable| variable["name"] == "FAULTS_FILE")
                })
                .unwrap_or_else(|| panic!("{name} has no FAULTS_FILE"));
            assert_eq!(
                file["value"].as_str(),
                Some(
                    format!(
                        "{}/{}",
                        mount["mountPath"].as_str().expect("a path"),
                        cluster::FAULTS_KEY
                    )
                    .as_str()
                ),
                "{name}"
            );
        }
        // The kubelet never updates a file mounted through subPath: none is.
        assert!(files.iter().all(|file| !file.contents.contains("subPath")));
    }

    #[test]
    fn the_base_lists_every_generated_file_and_the_overlay_every_platform_image() {
        let registry = Registry::parse(TEMPLATE).expect("valid");
        let files = generate(&registry).expect("generates");
        let kustomization = files
            .iter()
            .find(|file| file.path == Path::new("base/kustomization.yaml"))
            .expect("generated");
        for file in files.iter().filter(|file| file.path.starts_with("base")) {
            let relative = file.path.strip_prefix("base").expect("below base");
            if relative != Path::new("kustomization.yaml") {
                assert!(
                    kustomization
                        .contents
                        .contains(&format!("- {}\n", relative.display())),
                    "{} is not listed",
                    relative.display()
                );
            }
        }
        let overlay = files
            .iter()
            .find(|file| file.path == Path::new("k3s/kustomization.yaml"))
            .expect("generated");
        for image in [
            "commerce/place-order",
            "commerce/outbox-relay",
            "commerce/stackctl",
        ] {
            assert!(overlay.contents.contains(&format!("name: {image}\n")), "{image}");
        }
    }
}
