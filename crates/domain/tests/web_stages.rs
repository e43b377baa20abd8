//! The web client's job-stage rules (`web/src/generated/stages.ts`) are
//! generated from [`domain::JobStage`]; this test regenerates them and fails
//! when the file differs, so the browser follows the transitions the store
//! enforces (the repair move included) instead of a copy of them.
//!
//! After changing the stages, rewrite the file with
//!
//! ```sh
//! UPDATE_SCHEMAS=1 cargo test -p domain --test web_stages
//! ```
//!
//! and commit it with the change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use domain::JobStage;

const UPDATE_VAR: &str = "UPDATE_SCHEMAS";
const COMMAND: &str = "UPDATE_SCHEMAS=1 cargo test -p domain --test web_stages";

fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/src/generated/stages.ts")
}

/// A TypeScript string literal (JSON's quoting is valid TypeScript).
fn literal(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

fn list(stages: impl IntoIterator<Item = JobStage>) -> String {
    let items: Vec<String> = stages.into_iter().map(|s| literal(s.as_str())).collect();
    format!("[{}]", items.join(", "))
}

/// The module: every stage in order, and for each what the domain says of it.
fn module() -> String {
    let mut ts = String::new();
    ts.push_str(&format!(
        "// Generated from `JobStage` in crates/domain/src/job.rs: do not edit.\n\
         // Regenerate with `{COMMAND}`;\n\
         // `cargo test` fails while this file differs from the domain.\n\n"
    ));
    ts.push_str("/** Every job stage, in the domain's order. */\n");
    ts.push_str(&format!(
        "export const JOB_STAGES = {} as const;\n\n",
        list(JobStage::ALL)
    ));
    ts.push_str("export type JobStage = (typeof JOB_STAGES)[number];\n\n");
    ts.push_str(
        "/** What the domain says of one stage. */\n\
         export interface StageRule {\n\
         \x20 /** What a person sees while the job is in this stage. */\n\
         \x20 readonly label: string;\n\
         \x20 /** The job has ended; it moves nowhere from here. */\n\
         \x20 readonly terminal: boolean;\n\
         \x20 /** A service is working on the job: it has left the queue and not ended. */\n\
         \x20 readonly working: boolean;\n\
         \x20 /** Position on the happy path; terminal failures have none. A legal move to a lower rank is a repair. */\n\
         \x20 readonly rank: number | null;\n\
         \x20 /** The stages a job in this stage may move to. */\n\
         \x20 readonly next: readonly JobStage[];\n\
         }\n\n",
    );
    ts.push_str("export const STAGE_RULES = {\n");
    for stage in JobStage::ALL {
        let rank = stage.rank().map_or("null".to_owned(), |r| r.to_string());
        let next = list(JobStage::ALL.into_iter().filter(|to| stage.can_transition_to(*to)));
        writeln!(ts, "  {}: {{", literal(stage.as_str())).unwrap();
        writeln!(ts, "    label: {},", literal(stage.label())).unwrap();
        writeln!(ts, "    terminal: {},", stage.is_terminal()).unwrap();
        writeln!(ts, "    working: {},", stage.is_working()).unwrap();
        writeln!(ts, "    rank: {rank},").unwrap();
        writeln!(ts, "    next: {next},").unwrap();
        ts.push_str("  },\n");
    }
    ts.push_str("} as const satisfies Record<JobStage, StageRule>;\n");
    ts
}

#[test]
fn web_stage_rules_match_the_domain() {
    let path = path();
    let want = module();
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("web/src/generated/ is created");
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let have = std::fs::read_to_string(&path).ok();
    assert!(
        have.as_deref() == Some(want.as_str()),
        "web/src/generated/stages.ts differs from the domain's job stages; regenerate it with \
         `{COMMAND}` and commit the result"
    );
}
