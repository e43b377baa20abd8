//! The deployment files against the code's own topology: the queues KEDA
//! scales on, and the queues the operator guide and the schema README
//! describe, are exactly those `platform::bus::TOPOLOGY` declares. A new
//! consumer or routing key fails here until k8s/ and the docs follow.
//! (deploy/validate.sh checks the same manifests in depth, in Python.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use platform::bus::{dead_letter_queue, work_queue, TOPOLOGY};
use platform::testkit::repo_root;

/// One `kind: ScaledObject` of the manifests: its target and the queues of
/// its RabbitMQ triggers.
#[derive(Debug)]
struct ScaledObject {
    file: PathBuf,
    target: String,
    queues: BTreeSet<String>,
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn value_of(line: &str, key: &str) -> Option<String> {
    let rest = line.trim().strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim().trim_matches('"').trim_matches('\'').to_owned())
}

/// The ScaledObjects of every manifest under k8s/. The manifests are plain
/// block YAML, one object per `---` document, so lines are enough here.
fn scaled_objects() -> Vec<ScaledObject> {
    let mut files = Vec::new();
    yaml_files(&repo_root().join("k8s"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in text.split("\n---") {
            // RabbitMQ's scalers; the aws overlay's SQS scalers are checked
            // against TOPOLOGY by deploy/validate.sh.
            let rabbit = doc
                .lines()
                .any(|l| l.trim().trim_start_matches("- ") == "type: rabbitmq");
            if !doc.lines().any(|l| l.trim_end() == "kind: ScaledObject") || !rabbit {
                continue;
            }
            let lines: Vec<&str> = doc.lines().collect();
            let target = lines
                .iter()
                .position(|l| l.trim() == "scaleTargetRef:")
                .and_then(|i| lines[i + 1..].iter().find_map(|l| value_of(l, "name")))
                .unwrap_or_else(|| panic!("{}: a ScaledObject without scaleTargetRef.name", file.display()));
            let queues = lines.iter().filter_map(|l| value_of(l, "queueName")).collect();
            found.push(ScaledObject {
                file: file.clone(),
                target,
                queues,
            });
        }
    }
    found
}

fn expected_queues() -> BTreeMap<&'static str, BTreeSet<String>> {
    TOPOLOGY
        .iter()
        .map(|(service, keys)| (*service, keys.iter().map(|k| work_queue(service, *k)).collect()))
        .collect()
}

#[test]
fn every_worker_scales_on_exactly_its_own_queues() {
    let scaled = scaled_objects();
    assert!(!scaled.is_empty(), "no ScaledObject under k8s/");
    let expected = expected_queues();
    for so in &scaled {
        let want = expected
            .get(so.target.as_str())
            .unwrap_or_else(|| panic!("{}: {} consumes no queue of TOPOLOGY", so.file.display(), so.target));
        assert_eq!(&so.queues, want, "{}: the queues of {}", so.file.display(), so.target);
    }
    for service in expected.keys() {
        let n = scaled.iter().filter(|so| so.target == *service).count();
        assert_eq!(n, 1, "{service} needs exactly one ScaledObject, found {n}");
    }
}

#[test]
fn no_deployment_renames_the_queues() {
    // A queue prefix would rename every queue KEDA watches; the manifests
    // name the queues without one.
    let mut files = Vec::new();
    yaml_files(&repo_root().join("k8s"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("AMQP_QUEUE_PREFIX"),
            "{}: sets AMQP_QUEUE_PREFIX",
            file.display()
        );
    }
}

#[test]
fn the_operator_guide_and_the_schema_readme_name_every_queue() {
    for doc in ["docs/OPERATIONS.md", "proto-schemas/README.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        for (service, queues) in expected_queues() {
            for queue in queues.iter().cloned().chain([dead_letter_queue(service)]) {
                assert!(
                    text.contains(&format!("`{queue}`")),
                    "{doc} does not describe `{queue}`"
                );
            }
        }
    }
}
