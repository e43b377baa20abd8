//! The JSON Schemas in `proto-schemas/` are generated from the domain types;
//! this test regenerates them and fails when the files differ, so the
//! contract other languages read never drifts from the one Rust enforces.
//!
//! After changing a message type, rewrite the files with
//!
//! ```sh
//! UPDATE_SCHEMAS=1 cargo test -p domain --test schemas
//! ```
//!
//! and commit them with the change. The samples in `proto-schemas/samples/`
//! are written by hand; each must validate against its schema and decode
//! into its Rust type.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use domain::messages::{
    GenerationRepair, GenerationRequested, JobStatus, ModelBuilt, ModelFailed, ScriptGenerated, ScriptStored,
    ScriptUploaded, ServiceHeartbeat,
};
use domain::{Envelope, MessageType, Payload, RawEnvelope};
use serde_json::{json, Map, Value};

const UPDATE_VAR: &str = "UPDATE_SCHEMAS";

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-schemas")
}

fn schema_file(message_type: MessageType) -> String {
    format!("{}.schema.json", message_type.routing_key())
}

/// The envelope schema, with `payload` left open: what every message shares.
fn envelope_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(RawEnvelope)).expect("schemas serialize");
    let root = schema.as_object_mut().expect("an object schema");
    root.insert("title".into(), json!("envelope"));
    root.insert(
        "description".into(),
        json!(
            "The envelope of every CADScribe message. The routing key of a message is its `type`; \
             `payload` is described by the schema of that type (`<type>.schema.json`)."
        ),
    );
    schema
}

/// The schema of a whole message of one type: the envelope, with `type`
/// fixed to the routing key and `payload` the payload's own schema.
fn message_schema<P: Payload>() -> Value {
    let mut schema = envelope_schema();
    let payload = serde_json::to_value(schemars::schema_for!(P)).expect("schemas serialize");
    let Value::Object(mut payload) = payload else {
        panic!("payload schemas are objects")
    };
    let name = payload
        .get("title")
        .and_then(Value::as_str)
        .expect("payload schemas have a title")
        .to_owned();
    let payload_defs = match payload.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    payload.remove("$schema");

    let root = schema.as_object_mut().expect("an object schema");
    let defs = root
        .entry("$defs")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("$defs is an object");
    for (key, def) in payload_defs {
        if let Some(existing) = defs.get(&key) {
            assert_eq!(existing, &def, "two different definitions named {key}");
        }
        defs.insert(key, def);
    }
    assert!(!defs.contains_key(&name), "a definition is already named {name}");
    defs.insert(name.clone(), Value::Object(payload));

    let key = P::TYPE.routing_key();
    root.insert("title".into(), json!(key));
    root.insert(
        "description".into(),
        json!(format!(
            "A `{key}` message: the CADScribe envelope whose `type` is \"{key}\" and whose payload is a {name}."
        )),
    );
    let props = root
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("the envelope has properties");
    props.insert("type".into(), json!({ "$ref": "#/$defs/MessageType", "const": key }));
    props.insert("payload".into(), json!({ "$ref": format!("#/$defs/{name}") }));
    schema
}

/// Every message type with its schema, in routing-key order of `MessageType::ALL`.
fn message_schemas() -> Vec<(MessageType, Value)> {
    fn entry<P: Payload>() -> (MessageType, Value) {
        (P::TYPE, message_schema::<P>())
    }
    let all = vec![
        entry::<GenerationRequested>(),
        entry::<GenerationRepair>(),
        entry::<ScriptGenerated>(),
        entry::<ScriptUploaded>(),
        entry::<ScriptStored>(),
        entry::<ModelBuilt>(),
        entry::<ModelFailed>(),
        entry::<JobStatus>(),
        entry::<ServiceHeartbeat>(),
    ];
    let covered: Vec<MessageType> = all.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        covered,
        MessageType::ALL,
        "every message type has exactly one payload type here"
    );
    all
}

/// Decodes a sample into its typed envelope, as a consumer of that type would.
fn decode_typed(message_type: MessageType, raw: RawEnvelope) -> Result<(), String> {
    fn typed<P: Payload>(raw: RawEnvelope) -> Result<(), String> {
        Envelope::<P>::from_raw(raw).map(drop).map_err(|e| e.to_string())
    }
    match message_type {
        MessageType::GenerationRequested => typed::<GenerationRequested>(raw),
        MessageType::GenerationRepair => typed::<GenerationRepair>(raw),
        MessageType::ScriptGenerated => typed::<ScriptGenerated>(raw),
        MessageType::ScriptUploaded => typed::<ScriptUploaded>(raw),
        MessageType::ScriptStored => typed::<ScriptStored>(raw),
        MessageType::ModelBuilt => typed::<ModelBuilt>(raw),
        MessageType::ModelFailed => typed::<ModelFailed>(raw),
        MessageType::JobStatus => typed::<JobStatus>(raw),
        MessageType::ServiceHeartbeat => typed::<ServiceHeartbeat>(raw),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON serializes");
    text.push('\n');
    text
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid JSON Schema")
}

fn sample(message_type: MessageType) -> Value {
    read_json(
        &schema_dir()
            .join("samples")
            .join(format!("{}.json", message_type.routing_key())),
    )
}

#[test]
fn schema_files_match_the_domain_types() {
    let dir = schema_dir();
    let mut expected = vec![("envelope.schema.json".to_owned(), envelope_schema())];
    expected.extend(message_schemas().into_iter().map(|(t, s)| (schema_file(t), s)));

    let update = std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, schema) in &expected {
        let path = dir.join(name);
        let want = pretty(schema);
        if update {
            std::fs::write(&path, &want).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(name.clone());
        }
    }
    // A schema file no type generates any more is stale too.
    let mut wanted: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    // The part spec's schema is generated and checked by tests/spec_schema.rs.
    wanted.insert("part-spec.schema.json");
    for entry in std::fs::read_dir(&dir).expect("proto-schemas/ exists") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".schema.json") && !wanted.contains(name.as_str()) {
            if update {
                std::fs::remove_file(dir.join(&name)).expect("stale schema removed");
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "proto-schemas/ differs from the domain types in {stale:?}; regenerate with \
         `{UPDATE_VAR}=1 cargo test -p domain --test schemas` and commit the result"
    );
}

#[test]
fn every_schema_is_a_valid_json_schema() {
    for (message_type, schema) in message_schemas() {
        assert!(
            jsonschema::meta::is_valid(&schema),
            "{message_type}: not a valid JSON Schema"
        );
        validator(&schema);
    }
    assert!(jsonschema::meta::is_valid(&envelope_schema()));
}

#[test]
fn every_sample_validates_against_its_schema_and_decodes_in_rust() {
    let envelope = validator(&envelope_schema());
    for (message_type, schema) in message_schemas() {
        let sample = sample(message_type);
        let errors: Vec<String> = validator(&schema)
            .iter_errors(&sample)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "samples/{message_type}.json does not match its schema: {errors:#?}"
        );
        assert!(
            envelope.is_valid(&sample),
            "samples/{message_type}.json is not a valid envelope"
        );

        let raw: RawEnvelope = serde_json::from_value(sample.clone())
            .unwrap_or_else(|e| panic!("samples/{message_type}.json is not an envelope: {e}"));
        assert_eq!(
            raw.message_type, message_type,
            "samples/{message_type}.json has another type"
        );
        decode_typed(message_type, raw.clone())
            .unwrap_or_else(|e| panic!("samples/{message_type}.json does not decode: {e}"));
        // What Rust writes back still matches the schema.
        let written = serde_json::to_value(&raw).expect("envelopes serialize");
        assert!(
            validator(&schema).is_valid(&written),
            "{message_type}: Rust's own output does not validate"
        );
    }
}

#[test]
fn every_sample_is_refused_by_every_other_schema() {
    let schemas = message_schemas();
    for (sample_type, _) in &schemas {
        let sample = sample(*sample_type);
        for (schema_type, schema) in &schemas {
            if schema_type != sample_type {
                assert!(
                    !validator(schema).is_valid(&sample),
                    "a {sample_type} sample passes as {schema_type}"
                );
            }
        }
    }
}

/// What a broken message lacks, and how to break a good one that way.
type Breakage = (&'static str, fn(&mut Value));

#[test]
fn schemas_refuse_what_rust_refuses() {
    let schema = validator(
        &message_schemas()
            .into_iter()
            .find(|(t, _)| *t == MessageType::ScriptStored)
            .unwrap()
            .1,
    );
    let good = sample(MessageType::ScriptStored);
    assert!(schema.is_valid(&good));

    let broken: [Breakage; 6] = [
        ("a slug with capitals", |m| m["payload"]["slug"] = json!("Not-A-Slug")),
        ("version 0", |m| m["payload"]["version"] = json!(0)),
        ("no input_key", |m| {
            m["payload"].as_object_mut().unwrap().remove("input_key");
        }),
        ("an unknown script source", |m| {
            m["payload"]["source"] = json!({ "kind": "copied" })
        }),
        ("a job_id that is not a UUID", |m| m["job_id"] = json!("job-1")),
        ("a created_at that is not a date", |m| {
            m["created_at"] = json!("yesterday")
        }),
    ];
    for (what, breaks) in broken {
        let mut message = good.clone();
        breaks(&mut message);
        assert!(!schema.is_valid(&message), "the schema accepts {what}");
        let rust = serde_json::from_value::<RawEnvelope>(message)
            .map_err(|e| e.to_string())
            .and_then(|raw| decode_typed(MessageType::ScriptStored, raw));
        assert!(rust.is_err(), "Rust accepts {what}");
    }
}
