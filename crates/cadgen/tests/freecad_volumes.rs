//! Runs every catalogue example through real FreeCAD (`freecadcmd`) and
//! checks that the solid it builds is valid, single, and has the volume the
//! generator predicted. FreeCAD is part of the project's required stack, so
//! a missing binary fails the test instead of skipping it.
//!
//! The binary is `$FREECAD_CMD`, else `freecadcmd` on `PATH`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Catalogue prompts (the tolerance column is historical: each part is now
/// held to the tolerance its expectations state).
const CASES: &[(&str, f64)] = &[
    ("a 40 x 20 x 10 mm plate with a 6 mm through hole", 1e-3),
    ("box 2 by 3 by 4 cm", 1e-3),
    ("cube 25 mm", 1e-3),
    ("cylinder diameter 20mm height 50mm", 1e-3),
    ("a rod 10 mm dia 100 mm long", 1e-3),
    ("tube outer diameter 30 mm inner diameter 24 mm length 80 mm", 1e-3),
    ("pipe 1 in OD wall 2 mm 100 mm long", 1e-3),
    ("sphere radius 15 mm", 1e-3),
    ("cone bottom diameter 40 top diameter 10 height 30 mm", 1e-3),
    ("cone base diameter 30 mm height 40 mm", 1e-3),
    ("washer 20 mm outer 8.4 mm inner 2 mm thick", 1e-3),
    ("M8 washer", 1e-3),
    ("a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle", 1e-3),
    (
        "flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle and a 40 mm bore",
        1e-3,
    ),
    ("L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm", 1e-3),
    ("L-bracket 60 x 60 x 40 mm 4 mm thick with 4 M4 holes", 1e-3),
    ("spur gear module 2 with 20 teeth 10 mm thick bore 8 mm", 1e-2),
    ("gear module 1.5 with 50 teeth 8 mm thick", 1e-2),
    ("pinion module 1 with 12 teeth 6 mm thick 3 mm bore", 1e-2),
    ("M8 hex nut", 1e-3),
    ("hex nut 13 mm across flats 6.5 mm thick 8 mm hole", 1e-3),
    ("standoff 20 mm tall 6 mm diameter M3", 1e-3),
    ("hex standoff M4 15 mm long", 1e-3),
    ("enclosure 100 x 60 x 40 mm wall 2 mm", 1e-3),
    ("a rectangular tube 40 x 20 mm, 2 mm wall, 500 mm long", 1e-3),
    ("an aluminium angle 25 x 25 x 3 mm, 300 mm long", 1e-3),
    (
        "shelf bracket: an L of 6 mm plate, 60 mm long, 40 mm tall, 30 mm wide, with two 5 mm holes in each leg",
        1e-3,
    ),
    ("plate 100 x 50 x 5 mm with 4 holes 6 mm at the corners", 1e-3),
    ("plate 120 x 40 x 6 mm with 5 holes 8 mm", 1e-3),
    (
        "plate 60 x 40 x 3 mm with holes 4 mm at (10, 10), (50, 10) and (30, 30)",
        1e-3,
    ),
];

/// Executes each script in a fresh document the way the worker's harness
/// does, then reports the solid left at the top of the document (objects
/// consumed by others, such as the tools of a cut, do not count).
const RUNNER: &str = r#"
import os
import traceback

import FreeCAD as App

folder = os.environ["CADGEN_SCRIPTS_DIR"]
for name in sorted(os.listdir(folder)):
    doc = App.newDocument("Check")
    App.setActiveDocument(doc.Name)
    try:
        with open(os.path.join(folder, name)) as f:
            source = f.read()
        exec(compile(source, name, "exec"), {"__name__": "__main__"})
        doc.recompute()
        # The harness's rule: every object nothing else consumes, with a solid.
        features = [o for o in doc.Objects if not o.InList and o.isDerivedFrom("Part::Feature") and o.Shape.Solids]
        shape = features[-1].Shape
        # The tight box: BoundBox may be loose around curved faces.
        b = shape.optimalBoundingBox()
        print("CADGEN_RESULT %s %.6f %d %d %d %s %.6f %.6f %.6f" % (
            name, shape.Volume, shape.isValid(), len(shape.Solids), len(features), shape.ShapeType,
            b.XLength, b.YLength, b.ZLength))
    except Exception:
        print("CADGEN_ERROR %s %s" % (name, traceback.format_exc().replace("\n", " | ")))
    App.closeDocument(doc.Name)
"#;

struct Measured {
    volume: f64,
    valid: bool,
    solids: usize,
    features: usize,
    shape_type: String,
    extents: [f64; 3],
}

fn run_freecad(scripts: &[(String, String)]) -> BTreeMap<String, Result<Measured, String>> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cadgen-freecad-{}-{run}", std::process::id()));
    let scripts_dir = dir.join("scripts");
    std::fs::create_dir_all(&scripts_dir).expect("create temp dir");
    for (name, source) in scripts {
        std::fs::write(scripts_dir.join(name), source).expect("write script");
    }
    let runner = dir.join("runner.py");
    std::fs::write(&runner, RUNNER).expect("write runner");

    let binary = std::env::var_os("FREECAD_CMD").map_or_else(|| PathBuf::from("freecadcmd"), PathBuf::from);
    let output = Command::new(&binary)
        .arg(&runner)
        .env("CADGEN_SCRIPTS_DIR", &scripts_dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run FreeCAD ({}): {e}. FreeCAD is part of the required stack: \
                 run `make stack-up`, or point FREECAD_CMD at freecadcmd.",
                binary.display()
            )
        });
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut results = BTreeMap::new();
    // FreeCAD's progress output shares lines with ours: find the markers.
    let markers = stdout.lines().filter_map(|l| l.find("CADGEN_").map(|i| &l[i..]));
    for line in markers {
        if let Some(rest) = line.strip_prefix("CADGEN_RESULT ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let measured = Measured {
                volume: f[1].parse().expect("volume"),
                valid: f[2] == "1",
                solids: f[3].parse().expect("solids"),
                features: f[4].parse().expect("features"),
                shape_type: f[5].to_string(),
                extents: [
                    f[6].parse().expect("x"),
                    f[7].parse().expect("y"),
                    f[8].parse().expect("z"),
                ],
            };
            results.insert(f[0].to_string(), Ok(measured));
        } else if let Some(rest) = line.strip_prefix("CADGEN_ERROR ") {
            let (name, error) = rest.split_once(' ').unwrap_or((rest, ""));
            results.insert(name.to_string(), Err(error.to_string()));
        }
    }
    assert!(
        !results.is_empty(),
        "FreeCAD ran but reported nothing.\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    results
}

/// A prompt, or a prompt and follow-ups separated by " => ".
fn generate_chain(chain: &str) -> Result<cadgen::Generated, cadgen::NotUnderstood> {
    cadgen::converse(chain.split(" => "))
}

/// Builds every generated part in FreeCAD and compares what it measures
/// with the expectations the compiler gave: volume, bounding box, one
/// valid solid.
fn check_in_freecad(chains: &[String]) {
    let generated: Vec<_> = chains
        .iter()
        .enumerate()
        .map(|(i, chain)| {
            let g = generate_chain(chain).unwrap_or_else(|e| panic!("{chain:?}: {e}"));
            (format!("case_{i:03}_{}.py", g.part), chain, g)
        })
        .collect();
    let scripts: Vec<(String, String)> = generated
        .iter()
        .map(|(n, _, g)| (n.clone(), g.script.clone()))
        .collect();
    let results = run_freecad(&scripts);

    let mut failures = Vec::new();
    println!(
        "{:<18} {:>14} {:>14} {:>10}  prompt",
        "part", "expected mm³", "FreeCAD mm³", "error"
    );
    for (name, prompt, g) in &generated {
        let e = &g.expected;
        let volume = e.volume_mm3.expect("the compiler predicts every volume it accepts");
        match results.get(name) {
            Some(Ok(m)) => {
                let error = (m.volume - volume).abs() / volume;
                println!(
                    "{:<18} {:>14.3} {:>14.3} {:>9.5}%  {prompt}",
                    g.part,
                    volume,
                    m.volume,
                    error * 100.0
                );
                // A boolean feature's shape is a compound holding its one solid.
                let one_solid = m.valid
                    && m.solids == 1
                    && m.features == 1
                    && (m.shape_type == "Solid" || m.shape_type == "Compound");
                let bbox_ok = e.bbox_mm.is_none_or(|b| {
                    b.iter()
                        .zip(m.extents)
                        .all(|(want, got)| (want - got).abs() <= e.bbox_tolerance_mm)
                });
                if error > e.volume_tolerance || !one_solid || !bbox_ok {
                    failures.push(format!(
                        "{prompt:?}: volume {} vs expected {volume} (error {:.4} %), extents {:?} vs {:?}, \
                         valid {}, solids {}, features {}, type {}",
                        m.volume,
                        error * 100.0,
                        m.extents,
                        e.bbox_mm,
                        m.valid,
                        m.solids,
                        m.features,
                        m.shape_type
                    ));
                }
            }
            Some(Err(e)) => failures.push(format!("{prompt:?}: FreeCAD raised: {e}")),
            None => failures.push(format!("{prompt:?}: no result from FreeCAD")),
        }
    }
    assert!(failures.is_empty(), "FreeCAD disagreed:\n{}", failures.join("\n"));
}

#[test]
fn freecad_builds_every_example_with_the_expected_volume() {
    let chains: Vec<String> = CASES.iter().map(|(p, _)| p.to_string()).collect();
    check_in_freecad(&chains);
}

/// Every prompt of the benchmark suite that must be made is built once, so
/// the volumes the suite expects are the ones FreeCAD measures.
#[test]
fn freecad_builds_every_prompt_of_the_benchmark_suite() {
    let suite = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/prompts.tsv")).expect("suite");
    let chains: Vec<String> = suite
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[2] != "refuse").then(|| f[1].to_string())
        })
        .collect();
    assert!(chains.len() >= 200, "the suite has {} prompts to make", chains.len());
    check_in_freecad(&chains);
}
