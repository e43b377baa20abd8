//! `cadscribe spec`: the offline generator's dry run, with no services.

use std::process::Command;

use serde_json::Value;

fn spec(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_cadscribe"))
        .arg("spec")
        .args(args)
        .output()
        .expect("cadscribe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn a_part_prints_its_spec_reply_and_expectations() {
    let (code, v) = spec(&[
        "a 40 x 20 x 10 mm block with a 6 mm hole through its centre",
        "--script",
    ]);
    assert_eq!(code, 0, "{v}");
    let expected_volume = 40.0 * 20.0 * 10.0 - std::f64::consts::PI * 9.0 * 10.0;
    let volume = v["expected"]["volume_mm3"].as_f64().unwrap();
    assert!((volume - expected_volume).abs() < 1e-6 * expected_volume, "{volume}");
    let bbox: Vec<f64> = v["expected"]["bbox_mm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(bbox, [40.0, 20.0, 10.0]);
    assert_eq!(v["spec"]["spec_version"], 1);
    assert!(v["reply"].as_str().unwrap().contains("Ø6"), "{v}");
    assert!(v["script"].as_str().unwrap().contains("import FreeCAD"), "{v}");
}

#[test]
fn a_refused_prompt_exits_2_with_the_reason() {
    let (code, v) = spec(&["a cube with side -5 mm"]);
    assert_eq!(code, 2, "{v}");
    assert!(v["refused"].as_str().unwrap().contains("positive"), "{v}");
    let (code, v) = spec(&["a teapot"]);
    assert_eq!(code, 2, "{v}");
    assert!(v.get("spec").is_none());
}

#[test]
fn a_follow_up_applies_to_a_base_spec_from_a_file() {
    let (_, first) = spec(&["plate 100 x 60 x 5 mm"]);
    let dir = std::env::temp_dir().join(format!("cadscribe-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("v1.json");
    std::fs::write(&base, first.to_string()).unwrap();
    let (code, v) = spec(&["make it 8 mm thick", "--base", base.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["expected"]["bbox_mm"][2].as_f64(), Some(8.0), "{v}");
    assert!(v["reply"].as_str().unwrap().contains("5 → 8"), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}
