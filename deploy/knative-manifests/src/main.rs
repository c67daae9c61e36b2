//! `knative-manifests`: writes `deploy/knative/` from `template.yaml`, or with `--check` only
//! reports where the committed tree differs. Run from the repository root.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Generates the Knative / k3s manifests under deploy/knative/ from template.yaml")]
struct Arguments {
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    #[arg(long, default_value = knative_manifests::OUTPUT_DIR)]
    out: PathBuf,
    /// Only report the differences; exit 1 when there are any.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match run(&arguments) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("knative-manifests: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the tree is (now) what the template generates.
fn run(arguments: &Arguments) -> anyhow::Result<bool> {
    let registry = template::Registry::load(&arguments.template)?;
    let files = knative_manifests::generate(&registry)?;
    if arguments.check {
        let differences = knative_manifests::drift(&files, &arguments.out)?;
        for difference in &differences {
            println!("{difference}");
        }
        if !differences.is_empty() {
            println!(
                "{} is stale: run `cargo run -p knative-manifests`",
                arguments.out.display()
            );
        }
        return Ok(differences.is_empty());
    }
    let changes = knative_manifests::write(&files, &arguments.out)?;
    for change in &changes {
        println!("{change}: updated");
    }
    println!(
        "{} files in {}, {} updated",
        files.len(),
        arguments.out.display(),
        changes.len()
    );
    Ok(true)
}
