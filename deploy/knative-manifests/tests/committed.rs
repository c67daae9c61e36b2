//! The committed manifests are what `template.yaml` generates now: a template change that
//! was not followed by `cargo run -p knative-manifests` fails here, and so in CI.

use std::path::Path;

#[test]
fn the_committed_knative_manifests_match_a_fresh_generation_from_template_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let registry = template::Registry::load(&root.join("template.yaml")).expect("template.yaml parses");
    let files = knative_manifests::generate(&registry).expect("the template generates");
    let differences = knative_manifests::drift(&files, &root.join(knative_manifests::OUTPUT_DIR))
        .expect("the tree is readable");
    let listed: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert!(
        differences.is_empty(),
        "deploy/knative/ is not what template.yaml generates ({}); regenerate it with \
         `cargo run -p knative-manifests` from the repository root and commit the result",
        listed.join("; ")
    );
}
