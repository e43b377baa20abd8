//! Realistic language-model answers, replayed through the whole pipeline.
//!
//! A local chat-completions server answers each request with a file of
//! `crates/e2e/corpus/model-answers/`, chosen by the prompt the request is
//! about; the real services, broker, database, object store and FreeCAD do
//! the rest. Each answer must end as the table says: built, built after one
//! repair or re-ask, or failed with its class and script line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use domain::{FailureClass, JobStage};
use e2e::chat::{asks_for_spec, chat_model};
use e2e::{Pipeline, PIPELINE};
use platform::testkit::repo_root;

/// What must become of a case's job.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Completed and verified after `repairs` FreeCAD repairs.
    Built { repairs: u32 },
    /// Failed with this class at this script line.
    Failed { class: FailureClass, line: u32 },
}

struct Case {
    prompt: &'static str,
    /// Answers to the spec question, in order (the last one repeats).
    spec: &'static [&'static str],
    /// Answers to script requests, in order (the last one repeats).
    scripts: &'static [&'static str],
    outcome: Outcome,
    /// How many script requests the case takes.
    script_requests: usize,
}

const NO_SPEC: &[&str] = &["unsupported"];

const CASES: &[Case] = &[
    Case {
        prompt: "a 40 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["prose"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    Case {
        prompt: "a 42 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["two-blocks"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    Case {
        prompt: "a 44 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["unfenced"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    // Cut off mid-line: the checker finds the syntax error and the model
    // is asked again before anything runs.
    Case {
        prompt: "a 46 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["truncated", "truncated-retry"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 2,
    },
    Case {
        prompt: "a 48 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["gui"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    Case {
        prompt: "a 50 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["self-export"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    Case {
        prompt: "a 52 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["numpy"],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 1,
    },
    Case {
        prompt: "a 54 x 30 x 10 mm block",
        spec: &["spec"],
        scripts: &[],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 0,
    },
    // Not JSON: the spec goes back once with the parser's reason.
    Case {
        prompt: "a 56 x 30 x 10 mm block",
        spec: &["invalid-json", "invalid-json-retry"],
        scripts: &[],
        outcome: Outcome::Built { repairs: 0 },
        script_requests: 0,
    },
    // A fillet larger than the block: FreeCAD raises on line 6, the repair
    // (the same answer) raises again, and the job fails saying where.
    Case {
        prompt: "a 58 x 30 x 10 mm block with its edges rounded",
        spec: NO_SPEC,
        scripts: &["freecad-error"],
        outcome: Outcome::Failed {
            class: FailureClass::Exception,
            line: 6,
        },
        script_requests: 2,
    },
    // `import os` on line 2, every time: refused by the contract after the
    // re-asks, before any run.
    Case {
        prompt: "a 60 x 30 x 10 mm block",
        spec: NO_SPEC,
        scripts: &["escape"],
        outcome: Outcome::Failed {
            class: FailureClass::Refused,
            line: 2,
        },
        script_requests: 3,
    },
];

fn answer(name: &str) -> String {
    if name == "unsupported" {
        return r#"{"unsupported": "this answer is written as a script"}"#.into();
    }
    let path = repo_root().join(format!("crates/e2e/corpus/model-answers/{name}.md"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The case a request is about: the one whose prompt its messages carry.
fn case_of(request: &serde_json::Value) -> Option<usize> {
    let text = request["messages"].to_string();
    CASES.iter().position(|c| text.contains(c.prompt))
}

#[tokio::test]
async fn replayed_model_answers_build_or_fail_by_class_and_line() {
    // (case, spec question?) → how many times asked.
    let asked: Mutex<HashMap<(usize, bool), usize>> = Mutex::new(HashMap::new());
    let (base_url, requests) = chat_model(move |request| {
        let Some(case) = case_of(request) else {
            return Err((400, "no case for this request".into()));
        };
        let spec = asks_for_spec(request);
        let n = {
            let mut asked = asked.lock().unwrap();
            let n = asked.entry((case, spec)).or_default();
            *n += 1;
            *n
        };
        let list = if spec { CASES[case].spec } else { CASES[case].scripts };
        let name = list.get(n - 1).or(list.last()).copied().unwrap_or("unsupported");
        Ok(answer(name))
    })
    .await;

    let mut p = Pipeline::new().await;
    p.start(
        &PIPELINE,
        &[
            ("AI_PROVIDER", "openai"),
            ("AI_BASE_URL", &base_url),
            ("AI_MODEL", "local-coder"),
            ("MAX_REPAIRS", "1"),
            ("AI_MAX_CHECK_RETRIES", "2"),
        ],
    );
    let mut projects = Vec::new();
    let mut jobs = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let project = p.project(&format!("answer {i}")).await;
        jobs.push(p.generate(&project, case.prompt).await);
        projects.push(project);
    }
    let mut failures = Vec::new();
    for (i, (case, id)) in CASES.iter().zip(jobs).enumerate() {
        let job = p.finished(id, Duration::from_secs(240)).await;
        let scripts = requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| case_of(r) == Some(i) && !asks_for_spec(r))
            .count();
        let verdict = match case.outcome {
            Outcome::Built { repairs } => {
                let verified = job.verification.as_ref().is_some_and(|v| v.passed);
                job.stage == JobStage::Completed && job.repair_attempts == repairs && verified
            }
            Outcome::Failed { class, line } => {
                let d = job.diagnosis.as_ref();
                job.stage == JobStage::Failed
                    && d.is_some_and(|d| d.class == class && d.line == Some(line) && d.code.is_some())
                    && d.is_some_and(|d| !d.suggestion.is_empty())
            }
        };
        if !verdict || scripts != case.script_requests {
            failures.push(format!(
                "{:?}: expected {:?} after {} script request(s); got {:?} after {scripts}, repairs {}, error {:?}, diagnosis {:?}",
                case.prompt, case.outcome, case.script_requests, job.stage, job.repair_attempts, job.error, job.diagnosis
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The repair of the failed fillet told the model the class, the line
    // and its text, and a suggestion.
    let fillet = CASES.iter().position(|c| c.prompt.contains("rounded")).unwrap();
    let repair = requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| case_of(r) == Some(fillet) && !asks_for_spec(r))
        .nth(1)
        .map(|r| r["messages"].to_string())
        .expect("a repair request");
    assert!(
        repair.contains("FreeCAD exception at line 6")
            && repair.contains("makeFillet")
            && repair.contains("suggestion"),
        "{repair}"
    );

    // The same idioms uploaded as a user's own scripts: the same checker
    // and harness, so they build too.
    let uploads = p.project("uploaded idioms").await;
    for name in ["gui", "self-export", "numpy"] {
        let text = answer(name);
        let code = text
            .split("```")
            .nth(1)
            .and_then(|b| b.split_once('\n'))
            .map(|(_, c)| c)
            .unwrap();
        let job = p
            .finished(p.upload(&uploads, code).await, Duration::from_secs(120))
            .await;
        assert_eq!(
            job.stage,
            JobStage::Completed,
            "{name}: {:?} {:?}",
            job.error,
            job.diagnosis
        );
    }
    projects.push(uploads);
    let slugs: Vec<_> = projects.iter().map(|p| &p.slug).collect();
    p.clean(&slugs).await;
}

/// A model that asks instead of guessing: the job ends with its question,
/// and the user's answer reaches the model as part of the same request.
#[tokio::test]
async fn a_model_asks_for_a_missing_dimension_and_the_answer_continues_the_request() {
    let (base_url, requests) = chat_model(|request| {
        if !asks_for_spec(request) {
            return Ok(answer("unsupported"));
        }
        let last = request["messages"]
            .as_array()
            .and_then(|m| m.last())
            .map(|m| m["content"].to_string());
        Ok(if last.is_some_and(|l| l.contains("72 mm")) {
            r#"{"spec_version": 1, "part": "cylinder", "base": {"kind": "cylinder", "diameter": 72, "height": 12}}"#
                .into()
        } else {
            r#"{"question": "What diameter should the disc have?"}"#.into()
        })
    })
    .await;
    let mut p = Pipeline::new().await;
    p.start(
        &PIPELINE,
        &[
            ("AI_PROVIDER", "openai"),
            ("AI_BASE_URL", &base_url),
            ("AI_MODEL", "local-coder"),
        ],
    );
    let project = p.project("ask the model").await;
    let job = p
        .finished(
            p.generate(&project, "a 12 mm thick disc").await,
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(job.stage, JobStage::NeedsInput, "{:?}", job.error);
    assert_eq!(
        job.question.as_ref().map(|q| q.text.as_str()),
        Some("What diameter should the disc have?")
    );

    let answered = p
        .finished(p.generate(&project, "72 mm").await, Duration::from_secs(120))
        .await;
    assert_eq!(answered.stage, JobStage::Completed, "{:?}", answered.error);
    assert!(answered.verification.as_ref().is_some_and(|v| v.passed));
    let last = requests.lock().unwrap().last().cloned().expect("asked");
    let ask = last["messages"].to_string();
    assert!(
        ask.contains("a 12 mm thick disc")
            && ask.contains("What diameter should the disc have?")
            && ask.contains("72 mm"),
        "the model sees the request, its question and the answer together: {ask}"
    );
    p.clean(&[&project.slug]).await;
}
