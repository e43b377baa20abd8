//! Every catalogue part through the FreeCAD sandbox, by both executors: a
//! fresh `freecadcmd` per job (cold) and a child forked from a FreeCAD
//! loaded once (warm) must build the same verified model.

use domain::verify::Verification;
use sandbox::{Executor, Outcome, Sandbox};

async fn build_catalogue(executor: Executor) -> Vec<(&'static str, f64)> {
    let sandbox = Sandbox::from_env()
        .unwrap_or_else(|e| panic!("{e}\nThese tests need FreeCAD: run `make stack-up`."))
        .with_executor(executor);
    let mut volumes = Vec::new();
    for entry in cadgen::CATALOGUE {
        let part = cadgen::generate(entry.example).unwrap_or_else(|e| panic!("{}: {e}", entry.example));
        let report = sandbox.run(&part.script).await.expect("the sandbox works");
        match &report.outcome {
            Outcome::Built { metrics, .. } => {
                let verification = Verification::of(&part.expected, metrics);
                assert!(
                    verification.passed,
                    "{executor}: {}: {}",
                    entry.example,
                    verification.failures()
                );
                volumes.push((entry.example, metrics.volume));
            }
            Outcome::Failed { error, .. } => panic!("{executor}: {}: {error}\n{}", entry.example, report.log),
        }
    }
    volumes
}

#[tokio::test]
async fn both_executors_build_every_catalogue_part_alike() {
    let cold = build_catalogue(Executor::Cold).await;
    let warm = build_catalogue(Executor::Warm).await;
    assert_eq!(cold.len(), cadgen::CATALOGUE.len());
    for ((prompt, c), (_, w)) in cold.iter().zip(&warm) {
        assert!((c - w).abs() <= 1e-9 * c.abs(), "{prompt}: cold {c} mm³, warm {w} mm³");
    }
}
