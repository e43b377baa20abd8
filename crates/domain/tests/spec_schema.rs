//! `proto-schemas/part-spec.schema.json` is generated from
//! [`domain::spec::PartSpec`]; this test regenerates it and fails when the
//! file differs, so what language models are asked for never drifts from
//! what the compiler accepts. Rewrite it with
//!
//! ```sh
//! UPDATE_SCHEMAS=1 cargo test -p domain --test spec_schema
//! ```

use std::path::{Path, PathBuf};

use domain::spec::{Axis, Base, Edges, Feature, PartSpec, Positions};
use serde_json::{json, Value};

/// The file name, also excluded from the message schemas' stale-file check.
const FILE: &str = "part-spec.schema.json";

fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto-schemas")
        .join(FILE)
}

fn schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(PartSpec)).expect("schemas serialize");
    let root = schema.as_object_mut().expect("an object schema");
    root.insert("title".into(), json!("part-spec"));
    root.insert(
        "description".into(),
        json!(
            "A CADScribe part spec, version 1: a base solid and features, every length in millimetres. \
             See docs/SPEC.md."
        ),
    );
    schema
}

fn sample() -> PartSpec {
    let mut spec = PartSpec::new(
        "plate",
        Base::Box {
            length: 100.0,
            width: 60.0,
            height: 5.0,
        },
    );
    spec.features.push(Feature::Fillet {
        radius: 3.0,
        edges: Edges::Vertical,
    });
    spec.features.push(Feature::Hole {
        name: String::new(),
        diameter: 5.5,
        depth: None,
        counterbore: None,
        axis: Axis::Z,
        at: Positions::Grid {
            start: [8.25, 8.25],
            step: [83.5, 43.5],
            counts: [2, 2],
        },
    });
    spec
}

#[test]
fn part_spec_schema_matches_the_type() {
    let mut want = serde_json::to_string_pretty(&schema()).expect("JSON");
    want.push('\n');
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1") {
        std::fs::write(path(), &want).expect("schema written");
        return;
    }
    let have = std::fs::read_to_string(path()).unwrap_or_default();
    assert!(
        have == want,
        "proto-schemas/{FILE} differs from domain::spec::PartSpec; regenerate with \
         `UPDATE_SCHEMAS=1 cargo test -p domain --test spec_schema` and commit the result"
    );
}

#[test]
fn specs_validate_against_the_schema_and_junk_does_not() {
    let schema = schema();
    assert!(jsonschema::meta::is_valid(&schema));
    let validator = jsonschema::options().build(&schema).expect("a valid schema");
    let good = serde_json::to_value(sample()).expect("JSON");
    let errors: Vec<String> = validator.iter_errors(&good).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut bad = good.clone();
    bad["base"]["kind"] = json!("teapot");
    assert!(!validator.is_valid(&bad));
    let mut bad = good;
    bad["base"]["width"] = json!("wide");
    assert!(!validator.is_valid(&bad));
}
