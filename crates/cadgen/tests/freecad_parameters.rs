//! The FCStd keeps the spec editable: the compiled script builds the part
//! as FreeCAD features whose dimensions are expressions on the
//! "Parameters" spreadsheet. Each case builds a script in real FreeCAD
//! (`freecadcmd`), saves the document as an FCStd, reopens it, changes one
//! spreadsheet cell, recomputes, and checks the solid against what the
//! compiler expects of the spec with that parameter changed — the same
//! edit made through CADScribe. FreeCAD is part of the required stack, so a
//! missing binary fails the test.
//!
//! The binary is `$FREECAD_CMD`, else `freecadcmd` on `PATH`.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::PathBuf;
use std::process::Command;

/// Builds, saves, reopens, edits a cell, recomputes; prints the solid
/// before and after.
const RUNNER: &str = r#"
import os
import traceback

import FreeCAD as App

folder = os.environ["CADGEN_CASES_DIR"]


def top_solids(doc):
    # The harness's rule: objects nothing else consumes, with a solid.
    return [o for o in doc.Objects if not o.InList and o.isDerivedFrom("Part::Feature") and o.Shape.Solids]


for name in sorted(n for n in os.listdir(folder) if n.endswith(".py") and n != "runner.py"):
    case = name[:-3]
    try:
        doc = App.newDocument("Build")
        App.setActiveDocument(doc.Name)
        with open(os.path.join(folder, name)) as f:
            source = f.read()
        exec(compile(source, name, "exec"), {"__name__": "__main__"})
        doc.recompute()
        before = top_solids(doc)
        volume_before = before[-1].Shape.Volume
        a = before[-1].Shape.optimalBoundingBox()
        path = os.path.join(folder, case + ".FCStd")
        doc.saveAs(path)
        App.closeDocument(doc.Name)

        doc = App.openDocument(path)
        sheet = doc.getObject("Parameters")
        with open(os.path.join(folder, case + ".edit")) as f:
            alias, value = f.read().strip().split("\t")
        sheet.set(alias, value)
        doc.recompute()
        after = top_solids(doc)
        broken = [o.Name for o in doc.Objects if "Invalid" in o.State]
        shape = after[-1].Shape
        b = shape.optimalBoundingBox()
        print("CADGEN_RESULT %s %.6f %.6f %d %d %d %d %s %s %s" % (
            case, volume_before, shape.Volume, len(before), len(after), shape.isValid(), len(shape.Solids),
            ",".join(broken) or "-",
            " ".join("%.6f" % v for v in (a.XMin, a.YMin, a.ZMin, a.XMax, a.YMax, a.ZMax)),
            " ".join("%.6f" % v for v in (b.XMin, b.YMin, b.ZMin, b.XMax, b.YMax, b.ZMax))))
        App.closeDocument(doc.Name)
    except Exception:
        print("CADGEN_ERROR %s %s" % (case, traceback.format_exc().replace("\n", " | ")))
"#;

/// A prompt, the parameter changed in the spreadsheet and its new value.
struct Case {
    prompt: &'static str,
    parameter: &'static str,
    value: f64,
}

const CASES: &[Case] = &[
    // A plate with holes: thickness, hole size, length.
    Case {
        prompt: "plate 100 x 50 x 10 mm with 4 holes 6 mm at the corners",
        parameter: "height",
        value: 15.0,
    },
    Case {
        prompt: "plate 100 x 50 x 10 mm with 4 holes 6 mm at the corners",
        parameter: "hole_diameter",
        value: 8.0,
    },
    Case {
        prompt: "plate 100 x 50 x 10 mm with 4 holes 6 mm at the corners",
        parameter: "length",
        value: 120.0,
    },
    Case {
        prompt: "plate 80 x 50 x 10 with four M6 counterbored holes at the corners",
        parameter: "hole_counterbore_depth",
        value: 5.0,
    },
    // A cylinder.
    Case {
        prompt: "cylinder diameter 20mm height 50mm",
        parameter: "diameter",
        value: 30.0,
    },
    // A tube and a washer.
    Case {
        prompt: "tube outer diameter 30 mm inner diameter 24 mm length 80 mm",
        parameter: "inner_diameter",
        value: 20.0,
    },
    Case {
        prompt: "washer 20 mm outer 8.4 mm inner 2 mm thick",
        parameter: "height",
        value: 3.0,
    },
    // A flange: thickness and bolt holes.
    Case {
        prompt: "flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle and a 40 mm bore",
        parameter: "height",
        value: 15.0,
    },
    Case {
        prompt: "flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle and a 40 mm bore",
        parameter: "bolt_hole_diameter",
        value: 9.0,
    },
    // Other catalogue parts.
    Case {
        prompt: "L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm",
        parameter: "thickness",
        value: 6.0,
    },
    Case {
        prompt: "M8 hex nut",
        parameter: "across_flats",
        value: 14.0,
    },
    Case {
        prompt: "M8 hex nut",
        parameter: "sides",
        value: 8.0,
    },
    Case {
        prompt: "enclosure 100 x 60 x 40 mm wall 2 mm",
        parameter: "shell_wall",
        value: 3.0,
    },
    Case {
        prompt: "spur gear module 2 with 20 teeth 10 mm thick bore 8 mm",
        parameter: "thickness",
        value: 12.0,
    },
    Case {
        prompt: "block 50 x 30 x 20 with 3 mm fillets on the vertical edges",
        parameter: "height",
        value: 25.0,
    },
];

struct Measured {
    before: f64,
    after: f64,
    solids_before: usize,
    solids_after: usize,
    valid: bool,
    solids: usize,
    broken: String,
    /// Tight boxes `[min x, min y, min z, max x, max y, max z]`.
    box_before: [f64; 6],
    box_after: [f64; 6],
}

impl Measured {
    fn extents(&self) -> [f64; 3] {
        let b = self.box_after;
        [b[3] - b[0], b[4] - b[1], b[5] - b[2]]
    }
}

fn centre(b: [f64; 6]) -> [f64; 3] {
    [(b[0] + b[3]) / 2.0, (b[1] + b[4]) / 2.0, (b[2] + b[5]) / 2.0]
}

fn run_freecad(cases: &[(String, String, String)]) -> BTreeMap<String, Result<Measured, String>> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cadgen-parameters-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    for (name, script, edit) in cases {
        std::fs::write(dir.join(format!("{name}.py")), script).expect("write script");
        std::fs::write(dir.join(format!("{name}.edit")), edit).expect("write edit");
    }
    let runner = dir.join("runner.py");
    std::fs::write(&runner, RUNNER).expect("write runner");
    let binary = std::env::var_os("FREECAD_CMD").map_or_else(|| PathBuf::from("freecadcmd"), PathBuf::from);
    let output = Command::new(&binary)
        .arg(&runner)
        .env("CADGEN_CASES_DIR", &dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run FreeCAD ({}): {e}. FreeCAD is part of the required stack: \
                 run `make stack-up`, or point FREECAD_CMD at freecadcmd.",
                binary.display()
            )
        });
    // CADGEN_KEEP=1 keeps the scripts and FCStd files to look at.
    if std::env::var_os("CADGEN_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept {}", dir.display());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut results = BTreeMap::new();
    for line in stdout.lines().filter_map(|l| l.find("CADGEN_").map(|i| &l[i..])) {
        if let Some(rest) = line.strip_prefix("CADGEN_RESULT ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let n = |i: usize| f[i].parse::<f64>().expect("number");
            results.insert(
                f[0].to_string(),
                Ok(Measured {
                    before: n(1),
                    after: n(2),
                    solids_before: f[3].parse().expect("count"),
                    solids_after: f[4].parse().expect("count"),
                    valid: f[5] == "1",
                    solids: f[6].parse().expect("count"),
                    broken: f[7].to_string(),
                    box_before: [n(8), n(9), n(10), n(11), n(12), n(13)],
                    box_after: [n(14), n(15), n(16), n(17), n(18), n(19)],
                }),
            );
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

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * b.abs().max(1.0)
}

#[test]
fn a_spreadsheet_edit_in_the_saved_fcstd_rebuilds_the_part_like_the_same_spec_edit() {
    let mut runs = Vec::new();
    let mut expected = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let g = cadgen::generate(case.prompt).unwrap_or_else(|e| panic!("{:?}: {e}", case.prompt));
        let row = g
            .script
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("(\"{}\", ", case.parameter)))
            .unwrap_or_else(|| panic!("{:?}: no spreadsheet row for {}", case.prompt, case.parameter));
        assert!(
            row.contains("\"drives the model\""),
            "{:?}: {} is not bound to the model: {row}",
            case.prompt,
            case.parameter
        );
        let mut spec = g.spec.clone();
        spec.set_parameter(case.parameter, case.value)
            .unwrap_or_else(|e| panic!("{:?}: {e}", case.prompt));
        let edited = cadgen::compile(&spec).unwrap_or_else(|e| panic!("{:?} edited: {e}", case.prompt));
        let unit = if case.parameter == "sides" { "" } else { " mm" };
        let name = format!("case_{i:02}");
        runs.push((
            name.clone(),
            g.script.clone(),
            format!("{}\t{}{unit}", case.parameter, case.value),
        ));
        expected.push((name, case, g, edited));
    }
    let results = run_freecad(&runs);

    let mut failures = Vec::new();
    for (name, case, g, edited) in &expected {
        let what = format!("{:?}, {} = {}", case.prompt, case.parameter, case.value);
        let m = match results.get(name) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                failures.push(format!("{what}: FreeCAD raised: {e}"));
                continue;
            }
            None => {
                failures.push(format!("{what}: no result from FreeCAD"));
                continue;
            }
        };
        let was = g.expected.volume_mm3.expect("volume");
        let want = edited.expected.volume_mm3.expect("volume");
        println!(
            "{:<12} {:<24} {:>12.3} -> {:>12.3} mm³ (spec edit: {:>12.3})",
            g.part, case.parameter, m.before, m.after, want
        );
        let tolerance = edited.expected.volume_tolerance;
        let box_ok = edited.expected.bbox_mm.is_none_or(|b| {
            b.iter()
                .zip(m.extents())
                .all(|(w, got)| (w - got).abs() <= edited.expected.bbox_tolerance_mm)
        });
        let ok = close(m.before, was, tolerance)
            && close(m.after, want, tolerance)
            && !close(m.after, m.before, 1e-9)
            && m.solids_before == 1
            && m.solids_after == 1
            && m.valid
            && m.solids == 1
            && m.broken == "-"
            && box_ok;
        if !ok {
            failures.push(format!(
                "{what}: volume {} -> {} (expected {was} -> {want}), extents {:?} (expected {:?}), \
                 top-level solids {} / {}, valid {}, solids {}, broken objects {}",
                m.before,
                m.after,
                m.extents(),
                edited.expected.bbox_mm,
                m.solids_before,
                m.solids_after,
                m.valid,
                m.solids,
                m.broken
            ));
        }
    }
    assert!(failures.is_empty(), "FreeCAD disagreed:\n{}", failures.join("\n"));

    // The edit spelled out: a 100 × 50 plate with four Ø6 holes, 10 → 15 mm thick.
    let thicker = &results["case_00"].as_ref().expect("measured").after;
    let by_hand = (100.0 * 50.0 - 4.0 * PI * 3.0 * 3.0) * 15.0;
    assert!(close(*thicker, by_hand, 1e-6), "{thicker} vs {by_hand}");
}

/// Counts and fixed outlines are recorded in the spreadsheet but say they
/// do not drive the model, and its note says what is fixed.
#[test]
fn the_spreadsheet_says_which_cells_drive_the_model() {
    let g = cadgen::generate("flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle").unwrap();
    let row = |name: &str| {
        g.script
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("(\"{name}\", ")))
            .unwrap_or_else(|| panic!("no row {name}"))
            .to_string()
    };
    assert!(row("bolt_hole_count").contains("\"recorded only\""));
    assert!(row("bolt_hole_circle_diameter").contains("\"drives the model\""));
    let gear = cadgen::generate("spur gear module 2 with 20 teeth 10 mm thick bore 8 mm").unwrap();
    assert!(gear
        .script
        .contains("(\"module\", 2.0, \"mm\", \"module\", \"recorded only\")"));
    assert!(gear
        .script
        .contains("(\"thickness\", 10.0, \"mm\", \"thickness\", \"drives the model\")"));
    assert!(gear.script.contains("Fixed in this model: the tooth outline"));
    let block = cadgen::generate("block 50 x 30 x 20 with 3 mm fillets on the vertical edges").unwrap();
    assert!(block.script.contains("Fixed in this model: the fillet radius"));
}

/// Placement follows the spreadsheet too: a centred part with an offset is
/// centred on the offset, and editing `offset_x` / `offset_y` / `offset_z`
/// moves it there — for computed shapes (a plate with holes, a flange),
/// primitives (a cylinder, a sphere) and a turned primitive (a hex nut).
#[test]
fn an_offset_edited_in_the_spreadsheet_moves_the_part() {
    let cases: &[(&str, bool, [f64; 3], usize, f64)] = &[
        (
            "plate 100 x 50 x 10 mm with 4 holes 6 mm at the corners",
            true,
            [10.0, 0.0, 0.0],
            0,
            25.0,
        ),
        (
            "flange 80 mm diameter 10 mm thick with 4 holes 8 mm on a 60 mm bolt circle",
            true,
            [0.0, -5.0, 0.0],
            1,
            7.5,
        ),
        ("cylinder diameter 20mm height 50mm", true, [0.0, 0.0, 3.0], 2, -4.0),
        ("sphere radius 15 mm", false, [2.0, 0.0, 0.0], 0, 12.0),
        ("M8 hex nut", true, [0.0, 6.0, 0.0], 1, -6.0),
    ];
    let mut runs = Vec::new();
    for (i, (prompt, centred, offset, axis, new)) in cases.iter().enumerate() {
        let mut spec = cadgen::generate(prompt)
            .unwrap_or_else(|e| panic!("{prompt:?}: {e}"))
            .spec;
        spec.placement.centered = *centred;
        spec.placement.offset = *offset;
        let g = cadgen::compile(&spec).unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
        let name = ["offset_x", "offset_y", "offset_z"][*axis];
        // A negative length needs `=` in a cell, or FreeCAD reads text.
        let sign = if *new < 0.0 { "=" } else { "" };
        runs.push((format!("move_{i:02}"), g.script, format!("{name}\t{sign}{new} mm")));
    }
    let results = run_freecad(&runs);
    let mut failures = Vec::new();
    for (i, (prompt, _, offset, axis, new)) in cases.iter().enumerate() {
        let m = match results.get(&format!("move_{i:02}")) {
            Some(Ok(m)) => m,
            other => {
                failures.push(format!("{prompt:?}: {:?}", other.map(|r| r.as_ref().err())));
                continue;
            }
        };
        let mut moved = *offset;
        moved[*axis] = *new;
        let (before, after) = (centre(m.box_before), centre(m.box_after));
        // The sphere is not centred: it is built around the origin already.
        let at = |c: [f64; 3], want: [f64; 3]| (0..3).all(|k| (c[k] - want[k]).abs() < 1e-3);
        let ok = at(before, *offset)
            && at(after, moved)
            && close(m.after, m.before, 1e-9)
            && m.solids_after == 1
            && m.valid
            && m.broken == "-";
        if !ok {
            failures.push(format!(
                "{prompt:?}: centre {before:?} -> {after:?}, expected {offset:?} -> {moved:?}; volume {} -> {}, \
                 solids {}, valid {}, broken {}",
                m.before, m.after, m.solids_after, m.valid, m.broken
            ));
        }
    }
    assert!(failures.is_empty(), "FreeCAD disagreed:\n{}", failures.join("\n"));
}

/// Every benchmark part, one bound parameter each (taking turns through
/// its bound cells): the edit made in the spreadsheet of the saved FCStd
/// gives the volume and extents the compiler expects of the edited spec.
/// Edits the compiler refuses (a hole no longer fits) are skipped.
#[test]
fn every_benchmark_part_follows_an_edit_of_a_bound_cell() {
    let suite = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/prompts.tsv")).expect("suite");
    let chains: Vec<&str> = suite
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[2] != "refuse").then_some(f[1])
        })
        .collect();
    let mut runs = Vec::new();
    let mut expected = Vec::new();
    let mut skipped = 0;
    for (i, chain) in chains.iter().enumerate() {
        let g = cadgen::converse(chain.split(" => ")).expect("generates and follows");
        let bound: Vec<(String, f64)> = g
            .spec
            .parameters()
            .into_iter()
            .filter(|p| {
                g.script.lines().any(|l| {
                    l.trim_start().starts_with(&format!("(\"{}\", ", p.name)) && l.contains("\"drives the model\"")
                })
            })
            .map(|p| {
                let new = match p.kind {
                    domain::spec::ParameterKind::Count => p.value + 1.0,
                    domain::spec::ParameterKind::Position => p.value + 0.5,
                    _ => p.value * 1.1,
                };
                (p.name, new)
            })
            .collect();
        if bound.is_empty() {
            panic!("{chain:?}: nothing in the model follows the spreadsheet");
        }
        let (name, new) = &bound[i % bound.len()];
        let mut spec = g.spec.clone();
        let edited = match spec.set_parameter(name, *new).map(|_| cadgen::compile(&spec)) {
            Ok(Ok(edited)) => edited,
            _ => {
                skipped += 1;
                continue;
            }
        };
        let unit = if g
            .spec
            .parameters()
            .iter()
            .any(|p| p.name == *name && p.kind == domain::spec::ParameterKind::Count)
        {
            ""
        } else {
            " mm"
        };
        let sign = if *new < 0.0 { "=" } else { "" };
        let case = format!("bench_{i:03}");
        runs.push((case.clone(), g.script.clone(), format!("{name}\t{sign}{new}{unit}")));
        expected.push((case, chain, name.clone(), *new, edited));
    }
    let results = run_freecad(&runs);
    let mut failures = Vec::new();
    for (case, chain, name, new, edited) in &expected {
        let what = format!("{chain:?}, {name} = {new}");
        match results.get(case) {
            Some(Ok(m)) => {
                let want = edited.expected.volume_mm3.expect("volume");
                let box_ok = edited.expected.bbox_mm.is_none_or(|b| {
                    b.iter()
                        .zip(m.extents())
                        .all(|(w, got)| (w - got).abs() <= edited.expected.bbox_tolerance_mm)
                });
                let ok = close(m.after, want, edited.expected.volume_tolerance)
                    && box_ok
                    && m.solids_after == 1
                    && m.valid
                    && m.solids == 1
                    && m.broken == "-";
                if !ok {
                    failures.push(format!(
                        "{what}: volume {} (expected {want}), extents {:?} (expected {:?}), solids {}, valid {}, broken {}",
                        m.after,
                        m.extents(),
                        edited.expected.bbox_mm,
                        m.solids_after,
                        m.valid,
                        m.broken
                    ));
                }
            }
            Some(Err(e)) => failures.push(format!("{what}: FreeCAD raised: {e}")),
            None => failures.push(format!("{what}: no result from FreeCAD")),
        }
    }
    println!("{} edits checked, {skipped} refused by the compiler", expected.len());
    assert!(expected.len() >= 150, "only {} edits were checked", expected.len());
    assert!(
        failures.is_empty(),
        "FreeCAD disagreed on {} edits:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
