// Runs the real FreeCAD: good scripts, broken scripts and hostile ones,
// through the executor named by `EXECUTOR` in the test file that includes
// this one (`cold.rs`, `warm.rs`).
//
// Needs `freecadcmd` (FREECAD_CMD, else PATH); without it these tests fail
// on purpose. Every hostile test also checks that the same sandbox still
// builds a model afterwards.

use std::path::Path;
use std::time::Duration;

use domain::messages::FailureKind;
use domain::ModelFormat;
use sandbox::{Limits, Outcome, RunReport, Sandbox};

const PLATE: &str = r#"
import FreeCAD as App
import Part

plate = Part.makeBox(40, 20, 10)
hole = Part.makeCylinder(3, 10, App.Vector(20, 10, 0))
Part.show(plate.cut(hole))
"#;

/// 40·20·10 − π·3²·10
const PLATE_VOLUME: f64 = 8000.0 - std::f64::consts::PI * 90.0;

const MIB: u64 = 1024 * 1024;

fn sandbox(limits: Limits) -> Sandbox {
    Sandbox::from_env()
        .unwrap_or_else(|e| panic!("{e}\nThese tests need FreeCAD: run `make stack-up`."))
        .with_limits(limits)
        .with_executor(EXECUTOR)
}

/// Tight limits for hostile scripts, so they end quickly.
fn strict() -> Limits {
    Limits {
        wall_time: Duration::from_secs(10),
        cpu_time: Duration::from_secs(5),
        address_space: 1024 * MIB,
        file_size: 64 * MIB,
        processes: 64,
        output: 16 * MIB,
    }
}

async fn run(sandbox: &Sandbox, script: &str) -> RunReport {
    sandbox.run(script).await.expect("the sandbox itself works")
}

/// The failure's (kind, error, traceback tail); panics with the log if built.
fn failure(report: &RunReport) -> (FailureKind, &str, &str) {
    match &report.outcome {
        Outcome::Failed {
            kind,
            error,
            traceback_tail,
            ..
        } => (*kind, error, traceback_tail),
        Outcome::Built { .. } => panic!("expected a failure, got a model; log:\n{}", report.log),
    }
}

fn expect_failure(report: &RunReport, expected: FailureKind) -> (&str, &str) {
    let (kind, error, tail) = failure(report);
    assert_eq!(
        kind,
        expected,
        "error: {error}\ntail:\n{tail}\nexit {:?} signal {:?}\nlog end:\n{}",
        report.exit_code,
        report.signal,
        &report.log[report.log.len().saturating_sub(3000)..]
    );
    assert!(!error.is_empty());
    // No host paths leak into what the user sees.
    let job_dir = report.job_dir().to_string_lossy();
    assert!(
        !error.contains(job_dir.as_ref()) && !tail.contains(job_dir.as_ref()),
        "{error}\n{tail}"
    );
    (error, tail)
}

/// A hostile script must not hurt the next run.
async fn still_builds(sandbox: &Sandbox) {
    let report = run(sandbox, PLATE).await;
    match &report.outcome {
        Outcome::Built { metrics, .. } => assert!((metrics.volume - PLATE_VOLUME).abs() < 1.0),
        Outcome::Failed { error, .. } => panic!("the next run failed: {error}\n{}", report.log),
    }
}

#[tokio::test]
async fn builds_a_plate_with_a_hole() {
    let report = run(&sandbox(Limits::default()), PLATE).await;
    let Outcome::Built { metrics, files } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    assert!(
        (metrics.volume - PLATE_VOLUME).abs() / PLATE_VOLUME < 0.001,
        "volume {} vs {PLATE_VOLUME}",
        metrics.volume
    );
    assert_eq!(metrics.solids, 1);
    assert!(metrics.valid);
    let expected_box = [0.0, 0.0, 0.0, 40.0, 20.0, 10.0];
    for (got, want) in metrics.bounding_box.iter().zip(expected_box) {
        assert!((got - want).abs() < 1e-6, "{:?}", metrics.bounding_box);
    }
    let area = 2.0 * (40.0 * 20.0 + 40.0 * 10.0 + 20.0 * 10.0) - 2.0 * std::f64::consts::PI * 9.0
        + 2.0 * std::f64::consts::PI * 3.0 * 10.0;
    assert!(
        (metrics.surface_area - area).abs() / area < 0.001,
        "area {}",
        metrics.surface_area
    );

    assert_eq!(files.keys().copied().collect::<Vec<_>>(), ModelFormat::ALL.to_vec());
    for (format, path) in files {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(name, format!("MyHeadlessModel.{}", format.extension()));
        assert!(path.starts_with(report.job_dir()));
        assert!(std::fs::metadata(path).unwrap().len() > 0, "{format} is empty");
    }
    let stl = stl_volume(&std::fs::read(&files[&ModelFormat::Stl]).unwrap());
    assert!((stl - PLATE_VOLUME).abs() / PLATE_VOLUME < 0.01, "STL volume {stl}");
    let step = std::fs::read_to_string(&files[&ModelFormat::Step]).unwrap();
    assert!(step.starts_with("ISO-10303-21"));
    let fcstd = std::fs::read(&files[&ModelFormat::FcStd]).unwrap();
    assert!(fcstd.starts_with(b"PK"), "an FCStd is a zip archive");
    assert!(std::fs::read_to_string(&files[&ModelFormat::Obj])
        .unwrap()
        .contains("\nf "));

    assert!(report.log.contains("cadscribe: built 1 solid"), "{}", report.log);
    assert_eq!(report.exit_code, Some(0));
    assert!(report.duration < Duration::from_secs(60));

    // The directory goes with the report.
    let dir = report.job_dir().to_owned();
    drop(report);
    assert!(!dir.exists());
}

/// The picture's (width, height, pixels drawn, distinct shades among the
/// opaque pixels).
fn picture_stats(png: &[u8]) -> (u32, u32, usize, usize) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("a PNG");
    let mut rgba = vec![0; reader.output_buffer_size().expect("a bounded picture")];
    let frame = reader.next_frame(&mut rgba).expect("a decodable PNG");
    assert_eq!(frame.color_type, png::ColorType::Rgba);
    let pixels = &rgba[..frame.buffer_size()];
    let drawn = pixels.chunks_exact(4).filter(|p| p[3] > 0).count();
    let shades: std::collections::HashSet<[u8; 3]> = pixels
        .chunks_exact(4)
        .filter(|p| p[3] == 255)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (frame.width, frame.height, drawn, shades.len())
}

#[tokio::test]
async fn every_version_has_a_picture_of_its_model() {
    let report = run(&sandbox(Limits::default()), PLATE).await;
    let Outcome::Built { files, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    let (width, height, drawn, shades) = picture_stats(&std::fs::read(&files[&ModelFormat::Png]).unwrap());
    assert_eq!((width, height), (512, 512));
    // The part fills the picture: well over a fifth of it, never all of it.
    let total = (width * height) as usize;
    assert!(drawn > total / 5 && drawn < total, "{drawn} of {total} pixels drawn");
    // Three faces in three shades at least, and the hole's wall, edges and
    // smoothed borders in more.
    assert!(shades >= 3, "{shades} shades");
}

/// A script in Japanese with emoji: comments, strings and labels in its own
/// document, for a project whose name is mostly not ASCII.
const UNICODE_SCRIPT: &str = r#"
# 取付板 — 穴あきプレート ✨🚀
import FreeCAD as App
import Part

doc = App.newDocument("取付板")
plate = doc.addObject("Part::Box", "プレート")
plate.Label = "プレート 🔩"
plate.Length, plate.Width, plate.Height = 40, 20, 10
hole = doc.addObject("Part::Cylinder", "穴")
hole.Label = "穴 ⭕"
hole.Radius, hole.Height = 3, 10
hole.Placement.Base = App.Vector(20, 10, 0)
cut = doc.addObject("Part::Cut", "結果")
cut.Label = "結果 ✅ «fertig»"
cut.Base, cut.Tool = plate, hole
doc.recompute()
print("できた ✨")
"#;

/// The volume of the solid a STEP file holds, as FreeCAD reads it (a plain
/// `freecadcmd`, outside the sandbox).
fn step_volume(step: &Path) -> f64 {
    let script = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    let source = format!(
        "import Part\nprint('STEP_VOLUME=%r' % Part.read({:?}).Volume)\n",
        step.to_str().unwrap()
    );
    std::fs::write(script.path(), source).unwrap();
    let out = std::process::Command::new(sandbox(Limits::default()).freecad_cmd())
        .arg(script.path())
        .output()
        .expect("freecadcmd runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .split(['\n', '\r', '\t'])
        .find_map(|l| l.trim().strip_prefix("STEP_VOLUME="));
    line.unwrap_or_else(|| {
        panic!(
            "FreeCAD did not read the STEP:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
    .parse()
    .unwrap()
}

#[tokio::test]
async fn a_japanese_and_emoji_project_exports_every_format_with_a_clean_step() {
    let slug = domain::ProjectSlug::parse("plate-40x20").unwrap();
    for (project_name, expected) in [
        ("取付板 ✨ plate 40×20 🚀", "plate 40x20"),
        ("取付板 🔩", "plate-40x20"),
    ] {
        let name = domain::files::ModelName::derive(project_name, &slug);
        assert_eq!(name.as_str(), expected);
        let report = sandbox(Limits::default())
            .run_named(UNICODE_SCRIPT, &name)
            .await
            .expect("the sandbox itself works");
        let Outcome::Built { metrics, files } = &report.outcome else {
            panic!("not built: {:?}\n{}", report.outcome, report.log);
        };
        assert!((metrics.volume - PLATE_VOLUME).abs() / PLATE_VOLUME < 0.001);
        assert_eq!(files.keys().copied().collect::<Vec<_>>(), ModelFormat::ALL.to_vec());

        // STEP: ASCII throughout (ISO 10303-21), AP214, millimetres, and one
        // product named after the project.
        let step = std::fs::read(&files[&ModelFormat::Step]).unwrap();
        assert!(step.is_ascii(), "the STEP has non-ASCII bytes");
        let step = String::from_utf8(step).unwrap();
        let header = &step[..step.find("ENDSEC;").unwrap()];
        assert!(header.starts_with("ISO-10303-21;"), "{header}");
        assert!(header.contains("AUTOMOTIVE_DESIGN"), "AP214: {header}");
        assert!(header.contains("'CADScribe'"), "{header}");
        assert!(step.contains("SI_UNIT(.MILLI.,.METRE.)"), "millimetres");
        assert!(!step.contains(".INCH.") && !step.contains("SI_UNIT($,.METRE.)"));
        let products: Vec<&str> = step.lines().filter(|l| l.contains("= PRODUCT(")).collect();
        assert_eq!(products.len(), 1, "{products:?}");
        assert!(
            products[0].contains(&format!("PRODUCT('{expected}','{expected}',")),
            "{products:?}"
        );
        // No path of the worker's machine in the file.
        assert!(!step.contains(&report.job_dir().to_string_lossy().to_string()));
        // Read back by FreeCAD itself, the STEP holds the same solid.
        let read_back = step_volume(&files[&ModelFormat::Step]);
        assert!(
            (read_back - metrics.volume).abs() / metrics.volume < 0.005,
            "the STEP read back holds {read_back} mm³, the model {} mm³",
            metrics.volume
        );

        // The glTF node carries the name; the FCStd is the script's own
        // document, labels and all.
        let glb = std::fs::read(&files[&ModelFormat::Glb]).unwrap();
        let needle = format!("\"name\":\"{expected}\"");
        assert!(glb.windows(needle.len()).any(|w| w == needle.as_bytes()));
        assert!(std::fs::read(&files[&ModelFormat::FcStd]).unwrap().starts_with(b"PK"));
        let (width, height, drawn, _) = picture_stats(&std::fs::read(&files[&ModelFormat::Png]).unwrap());
        assert_eq!((width, height), (512, 512));
        assert!(drawn > 512 * 512 / 5);
        assert!(report.log.contains("できた ✨"), "{}", report.log);
    }
}

#[tokio::test]
async fn collects_top_level_features_of_a_parametric_document() {
    let script = r#"
import FreeCAD as App
doc = App.ActiveDocument
box = doc.addObject("Part::Box", "Box")
box.Length, box.Width, box.Height = 10, 10, 10
tool = doc.addObject("Part::Box", "Tool")
tool.Length, tool.Width, tool.Height = 5, 5, 5
cut = doc.addObject("Part::Cut", "Cut")
cut.Base, cut.Tool = box, tool
sketchy = doc.addObject("Part::Line", "ConstructionLine")
"#;
    let report = run(&sandbox(Limits::default()), script).await;
    let Outcome::Built { metrics, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    // Only the cut counts: its inputs are consumed, the line has no solid.
    assert!((metrics.volume - 875.0).abs() < 1e-6, "{}", metrics.volume);
}

#[tokio::test]
async fn result_variable_is_the_model() {
    let script = "import Part\nPart.show(Part.makeBox(50, 50, 50))\nresult = Part.makeBox(1, 2, 3)\n";
    let report = run(&sandbox(Limits::default()), script).await;
    let Outcome::Built { metrics, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    assert!((metrics.volume - 6.0).abs() < 1e-9);
}

/// A 10 × 20 × 30 mm box at x = 5: centre (10, 10, 15), and about it
/// Ixx = V(b² + c²)/12, Iyy = V(a² + c²)/12, Izz = V(a² + b²)/12 with no
/// products of inertia.
fn assert_off_centre_box(metrics: &domain::messages::ModelMetrics) {
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-6 * want.abs().max(1.0);
    let (a, b, c) = (10.0, 20.0, 30.0);
    let v = a * b * c;
    let center = metrics.center_of_mass.expect("a centre of mass");
    for (got, want) in center.iter().zip([10.0, 10.0, 15.0]) {
        assert!(close(*got, want), "centre of mass {center:?}");
    }
    let inertia = metrics.inertia.expect("a matrix of inertia");
    let diagonal = [
        v * (b * b + c * c) / 12.0,
        v * (a * a + c * c) / 12.0,
        v * (a * a + b * b) / 12.0,
    ];
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { diagonal[i] } else { 0.0 };
            // Off the diagonal "relative" means relative to the moments.
            let scale = if i == j { want } else { diagonal[0] };
            assert!(
                (inertia[i][j] - want).abs() <= 1e-6 * scale,
                "inertia[{i}][{j}] = {} (want {want}): {inertia:?}",
                inertia[i][j]
            );
        }
    }
}

#[tokio::test]
async fn an_off_centre_box_reports_its_centre_of_mass_and_inertia() {
    let script = "import Part\nfrom FreeCAD import Vector\nresult = Part.makeBox(10, 20, 30, Vector(5, 0, 0))\n";
    let report = run(&sandbox(Limits::default()), script).await;
    let Outcome::Built { metrics, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    assert_off_centre_box(metrics);
}

#[tokio::test]
async fn mass_properties_of_several_solids_are_those_of_the_whole() {
    // The same box in two unequal pieces, as separate solids of one model:
    // the pieces' centres and moments must combine to the whole box's.
    let script = r#"
import Part
from FreeCAD import Vector
result = [Part.makeBox(7, 20, 30, Vector(5, 0, 0)), Part.makeBox(3, 20, 30, Vector(12, 0, 0))]
"#;
    let report = run(&sandbox(Limits::default()), script).await;
    let Outcome::Built { metrics, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    assert_eq!(metrics.solids, 2);
    assert_off_centre_box(metrics);
}

#[tokio::test]
async fn syntax_error_is_a_script_error() {
    let report = run(&sandbox(strict()), "import Part\nbox = Part.makeBox(1, 2\n").await;
    let (error, tail) = expect_failure(&report, FailureKind::ScriptError);
    assert!(error.starts_with("SyntaxError"), "{error}");
    assert!(tail.contains("script.py"), "{tail}");
}

#[tokio::test]
async fn exception_is_a_script_error_with_its_traceback() {
    let script =
        "import Part\n\ndef shaft(r):\n    raise ValueError('radius must be positive, got %s' % r)\n\nshaft(-2)\n";
    let report = run(&sandbox(strict()), script).await;
    let (error, tail) = expect_failure(&report, FailureKind::ScriptError);
    assert_eq!(error, "ValueError: radius must be positive, got -2");
    assert!(tail.contains("radius must be positive, got -2"), "{tail}");
    assert!(tail.contains("File \"script.py\", line 4, in shaft"), "{tail}");
    assert!(!tail.contains("harness.py"), "harness frames are hidden: {tail}");
}

#[tokio::test]
async fn a_script_without_a_solid_is_a_script_error() {
    let script = "import Part\nPart.show(Part.makeCircle(5))\nx = 1\n";
    let report = run(&sandbox(strict()), script).await;
    let (error, _) = expect_failure(&report, FailureKind::ScriptError);
    assert!(error.contains("no solid"), "{error}");
}

#[tokio::test]
async fn infinite_loop_hits_the_cpu_limit() {
    // A generous wall clock: on a busy machine 5 s of CPU take longer.
    let sandbox = sandbox(Limits {
        wall_time: Duration::from_secs(60),
        ..strict()
    });
    let report = run(&sandbox, "while True:\n    pass\n").await;
    let (error, _) = expect_failure(&report, FailureKind::Timeout);
    assert!(error.contains("CPU"), "{error}");
    assert_eq!(report.signal, Some(libc::SIGXCPU));
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn sleeping_script_hits_the_wall_clock_limit() {
    let limits = Limits {
        wall_time: Duration::from_secs(3),
        ..strict()
    };
    let sandbox = sandbox(limits);
    let report = run(&sandbox, "import time\ntime.sleep(600)\n").await;
    let (error, _) = expect_failure(&report, FailureKind::Timeout);
    assert!(error.contains("wall-clock"), "{error}");
    assert_eq!(report.signal, Some(libc::SIGKILL));
    assert!(report.duration < Duration::from_secs(8));
    still_builds(&sandbox).await;
}

/// When FreeCAD cannot start a thread (memory or process limit) its mesh
/// export waits forever; the run is stopped as soon as FreeCAD says so.
/// (Reproduced here by printing FreeCAD's message: a real stall needs an
/// address-space limit tuned to one FreeCAD build.)
#[tokio::test]
async fn a_stalled_freecad_is_stopped_early() {
    let limits = Limits {
        wall_time: Duration::from_secs(60),
        ..strict()
    };
    let sandbox = sandbox(limits);
    let script = "import sys, time\nsys.stderr.write('QThread::start: Thread creation error (Resource temporarily unavailable)\\n')\nsys.stderr.flush()\ntime.sleep(600)\n";
    let report = run(&sandbox, script).await;
    let (error, _) = expect_failure(&report, FailureKind::MemoryLimit);
    assert!(error.contains("could not start a thread"), "{error}");
    assert!(report.duration < Duration::from_secs(20), "{:?}", report.duration);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn huge_allocation_hits_the_memory_limit() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "x = bytearray(10**11)\n").await;
    expect_failure(&report, FailureKind::MemoryLimit);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn growing_list_hits_the_memory_limit() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "l = []\nwhile True:\n    l.append(' ' * 10**7)\n").await;
    expect_failure(&report, FailureKind::MemoryLimit);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn fork_bomb_is_a_sandbox_violation() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "import os\nwhile True:\n    os.fork()\n").await;
    expect_failure(&report, FailureKind::SandboxViolation);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn subprocess_is_a_sandbox_violation() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "import subprocess\nsubprocess.run(['id'])\n").await;
    expect_failure(&report, FailureKind::SandboxViolation);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn socket_is_a_sandbox_violation() {
    let sandbox = sandbox(strict());
    let script = "import socket\ns = socket.create_connection(('127.0.0.1', 5672), timeout=2)\n";
    let report = run(&sandbox, script).await;
    let (error, _) = expect_failure(&report, FailureKind::SandboxViolation);
    assert!(error.contains("network"), "{error}");
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn ctypes_is_a_sandbox_violation() {
    let sandbox = sandbox(strict());
    let script = "import ctypes\nctypes.CDLL(None).system(b'id')\n";
    let report = run(&sandbox, script).await;
    expect_failure(&report, FailureKind::SandboxViolation);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn reading_etc_passwd_is_a_sandbox_violation() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "print(open('/etc/passwd').read())\n").await;
    let (error, _) = expect_failure(&report, FailureKind::SandboxViolation);
    assert!(error.contains("/etc/passwd"), "{error}");
    assert!(!report.log.contains("root:x:0:0"), "the file's content leaked");
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn writing_outside_the_job_dir_is_a_sandbox_violation() {
    let target = Path::new("/tmp/escape.txt");
    let _ = std::fs::remove_file(target);
    let sandbox = sandbox(strict());
    let report = run(&sandbox, "open('/tmp/escape.txt', 'w').write('out')\n").await;
    expect_failure(&report, FailureKind::SandboxViolation);
    assert!(!target.exists(), "the script wrote outside its directory");
    still_builds(&sandbox).await;
}

/// FreeCAD's C++ exporters never raise audit events; Landlock stops them.
#[tokio::test]
async fn freecad_native_writes_outside_the_job_dir_are_blocked() {
    let target = std::env::temp_dir().join(format!("cadscribe-escape-{}.step", std::process::id()));
    let _ = std::fs::remove_file(&target);
    let sandbox = sandbox(strict());
    let script = format!(
        "import Part\nshape = Part.makeBox(1, 1, 1)\nshape.exportStep({:?})\nresult = shape\n",
        target.to_str().unwrap()
    );
    let report = run(&sandbox, &script).await;
    if report.containment.landlock_abi.is_some() {
        assert!(
            !target.exists(),
            "FreeCAD wrote outside the job dir; log:\n{}",
            report.log
        );
    } else {
        eprintln!("no Landlock on this kernel: native FreeCAD writes are not contained");
        let _ = std::fs::remove_file(&target);
    }
    still_builds(&sandbox).await;
}

/// A script that gets past the audit hook (here by calling the private
/// fork_exec behind subprocess, which raises no audit event) still cannot
/// start another program: Landlock only lets FreeCAD itself be executed.
#[tokio::test]
async fn bypassing_the_audit_hook_still_cannot_start_a_shell() {
    let sandbox = sandbox(strict());
    let script = r#"
import os, _posixsubprocess
err_r, err_w = os.pipe()
pid = _posixsubprocess.fork_exec(
    [b"/bin/sh", b"-c", b"echo pwned > pwned.txt"], [b"/bin/sh"], True, (err_w,), None, None,
    -1, -1, -1, -1, -1, -1, err_r, err_w, False, False, -1, None, None, None, -1, None, False)
os.close(err_w)
error = b""
while chunk := os.read(err_r, 200):
    error += chunk
print("exec error from the child:", error)
os.waitpid(pid, 0)
import Part
result = Part.makeBox(1, 1, 1)
"#;
    let report = run(&sandbox, script).await;
    let escaped = report.job_dir().join("pwned.txt").exists();
    if report.containment.landlock_abi.is_some() {
        assert!(!escaped, "a shell ran inside the sandbox; log:\n{}", report.log);
        assert!(
            report.log.contains("OSError:d:"),
            "exec was not refused with EACCES (0xd): {}",
            report.log
        );
    } else {
        eprintln!(
            "no Landlock on this kernel: an escaped script can start programs (as {:?})",
            report.containment.user
        );
    }
    still_builds(&sandbox).await;
}

/// Children started behind the audit hook's back die with the run, even one
/// that tries to leave the process group.
#[tokio::test]
async fn descendants_die_with_the_run() {
    let sandbox = sandbox(strict());
    let script = r#"
import os, time, _posixsubprocess

def spawn(leave_group):
    def child():
        if leave_group:
            os.setsid()
        time.sleep(300)
    err_r, err_w = os.pipe()
    pid = _posixsubprocess.fork_exec(
        [b"/nonexistent"], [b"/nonexistent"], True, (), None, None,
        -1, -1, -1, -1, -1, -1, err_r, err_w, False, False, -1, None, None, None, -1, child, False)
    print("child pid", pid, flush=True)

spawn(False)
spawn(True)
import Part
result = Part.makeBox(1, 1, 1)
"#;
    let report = run(&sandbox, script).await;
    assert!(report.is_built(), "{:?}\n{}", report.outcome, report.log);
    let pids: Vec<i32> = report
        .log
        .lines()
        .filter_map(|l| l.strip_prefix("child pid ")?.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{}", report.log);
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while pids.iter().any(|&pid| alive(pid)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived the run");
    }
    if report.containment.seccomp {
        // Nothing held the output open, so the run did not wait for it.
        assert!(report.duration < Duration::from_secs(8), "{:?}", report.duration);
    }
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn a_caught_denial_does_not_spoil_a_good_model() {
    let script =
        format!("try:\n    open('/etc/passwd')\nexcept PermissionError as e:\n    print('caught:', e)\n{PLATE}");
    let report = run(&sandbox(strict()), &script).await;
    assert!(report.is_built(), "{:?}", report.outcome);
    assert!(
        report.log.contains("sandbox: denied reading '/etc/passwd'"),
        "{}",
        report.log
    );
}

#[tokio::test]
async fn file_size_bomb_hits_the_file_size_limit() {
    let sandbox = sandbox(strict());
    let script =
        "chunk = b'\\0' * 2**20\nwith open('big.bin', 'wb') as f:\n    for _ in range(1024):\n        f.write(chunk)\n";
    let report = run(&sandbox, script).await;
    expect_failure(&report, FailureKind::FileSizeLimit);
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn printing_10_mb_keeps_the_log_bounded() {
    let sandbox = sandbox(Limits {
        wall_time: Duration::from_secs(60),
        ..strict()
    });
    let script = format!("line = 'x' * 99\nfor _ in range(10**5):\n    print(line)\nprint('done printing')\n{PLATE}");
    let report = run(&sandbox, &script).await;
    assert!(report.is_built(), "{:?}", report.outcome);
    assert!(report.log.len() < 2 * 1024 * 1024, "log of {} bytes", report.log.len());
    assert!(report.log.contains("bytes of output omitted"));
    assert!(report.log.contains("done printing"));
}

/// Printing without end is stopped at the output limit, not at the clock.
#[tokio::test]
async fn printing_past_the_output_limit_is_stopped() {
    let sandbox = sandbox(Limits {
        wall_time: Duration::from_secs(60),
        cpu_time: Duration::from_secs(60),
        output: 4 * MIB,
        ..strict()
    });
    let report = run(&sandbox, "line = 'x' * 99\nwhile True:\n    print(line)\n").await;
    let (error, _) = expect_failure(&report, FailureKind::OutputLimit);
    assert!(error.contains("output limit of 4 MiB"), "{error}");
    assert!(report.log.len() < 2 * 1024 * 1024, "log of {} bytes", report.log.len());
    assert!(report.duration < Duration::from_secs(30), "{:?}", report.duration);
    still_builds(&sandbox).await;
    still_builds(&sandbox).await;
}

#[tokio::test]
async fn the_run_reports_its_containment() {
    let sandbox = sandbox(strict());
    let report = run(&sandbox, PLATE).await;
    assert!(report.is_built());
    let layers = report.containment;
    eprintln!("containment: {}", layers.describe());
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(layers.user, Some(sandbox::DEFAULT_RUN_AS));
    }
    assert_eq!(layers, sandbox.containment());
}

/// Signed volume of the tetrahedra between the origin and each facet.
fn stl_volume(data: &[u8]) -> f64 {
    let facets: Vec<[[f64; 3]; 3]> =
        if data.len() >= 84 && data.len() == 84 + 50 * u32::from_le_bytes(data[80..84].try_into().unwrap()) as usize {
            data[84..]
                .chunks_exact(50)
                .map(|f| {
                    let v = |i: usize| {
                        let o = 12 + 12 * i;
                        let c = |k: usize| f32::from_le_bytes(f[o + 4 * k..o + 4 * k + 4].try_into().unwrap()) as f64;
                        [c(0), c(1), c(2)]
                    };
                    [v(0), v(1), v(2)]
                })
                .collect()
        } else {
            let text = String::from_utf8_lossy(data);
            let vertices: Vec<[f64; 3]> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("vertex "))
                .map(|l| {
                    let c: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
                    [c[0], c[1], c[2]]
                })
                .collect();
            vertices.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect()
        };
    assert!(!facets.is_empty(), "no facets in the STL");
    facets
        .iter()
        .map(|[a, b, c]| {
            (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                + a[2] * (b[0] * c[1] - b[1] * c[0]))
                / 6.0
        })
        .sum::<f64>()
        .abs()
}

/// What language models write out of habit runs behind the same walls: GUI
/// calls do nothing, styling through `ViewObject` and the script's own
/// exports are skipped, numpy works; each is noted in the log.
#[tokio::test]
async fn gui_calls_self_exports_and_numpy_build_with_notes() {
    let sandbox = sandbox(Limits {
        wall_time: Duration::from_secs(60),
        ..strict()
    });
    let script = r#"
import numpy as np
import FreeCAD as App
import FreeCADGui as Gui
import ImportGui
import Mesh
import Part

doc = App.newDocument("Block")
corners = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 20.0], [0.0, 20.0], [0.0, 0.0]])
wire = Part.makePolygon([App.Vector(float(x), float(y), 0) for x, y in corners])
obj = doc.addObject("Part::Feature", "Block")
obj.Shape = Part.Face(wire).extrude(App.Vector(0, 0, 10))
obj.ViewObject.ShapeColor = (0.2, 0.5, 0.8)
doc.recompute()
Gui.ActiveDocument.ActiveView.viewIsometric()
Gui.SendMsgToActiveView("ViewFit")
__objs__ = [obj]
ImportGui.export(__objs__, "/home/user/block.step")
Mesh.export(__objs__, "block.stl")
obj.Shape.exportStep("/etc/block.step")
doc.saveAs("block.FCStd")
"#;
    let report = run(&sandbox, script).await;
    match &report.outcome {
        Outcome::Built { metrics, .. } => assert!((metrics.volume - 8000.0).abs() < 1e-6, "{metrics:?}"),
        Outcome::Failed { error, .. } => panic!("{error}\n{}", report.log),
    }
    for note in [
        "skipped the view styling (ViewObject) on line(s) 14",
        "FreeCADGui.ActiveDocument.ActiveView.viewIsometric() does nothing",
        "skipped ImportGui.export to '/home/user/block.step'",
        "skipped Mesh.export to 'block.stl'",
        "skipped obj.Shape.exportStep to '/etc/block.step'",
        "skipped doc.saveAs to 'block.FCStd'",
    ] {
        assert!(report.log.contains(note), "missing note {note:?} in\n{}", report.log);
    }
}

/// Failures say what kind they are, where, and what to try.
#[tokio::test]
async fn failures_are_diagnosed_by_class_and_line() {
    use domain::FailureClass;
    let sandbox = sandbox(strict());
    let cases: &[(&str, FailureClass, Option<u32>, &str)] = &[
        (
            "import Part\n\nbox = Part.makeBox(10, 10, 10)\nround = box.makeFillet(20, box.Edges)\nresult = round\n",
            FailureClass::Exception,
            Some(4),
            "round = box.makeFillet(20, box.Edges)",
        ),
        ("import Part\nx = (1,\n", FailureClass::Syntax, Some(2), "x = (1,"),
        (
            "import Part\nwire = Part.makePolygon([])\n",
            FailureClass::Exception,
            Some(2),
            "wire",
        ),
        ("import FreeCAD\nx = 1\n", FailureClass::NoSolid, None, ""),
        (
            "data = open('/etc/passwd').read()\n",
            FailureClass::Refused,
            Some(1),
            "open('/etc/passwd')",
        ),
    ];
    for (script, class, line, code) in cases {
        let report = run(&sandbox, script).await;
        let Outcome::Failed { diagnosis, .. } = &report.outcome else {
            panic!("{script:?} built");
        };
        assert_eq!(diagnosis.class, *class, "{script:?}: {diagnosis:?}");
        assert_eq!(diagnosis.line, *line, "{script:?}: {diagnosis:?}");
        assert!(
            diagnosis.code.as_deref().unwrap_or_default().contains(code),
            "{diagnosis:?}"
        );
        assert!(!diagnosis.suggestion.is_empty());
    }
}

/// A thread the script leaves running neither holds the run open nor
/// reaches the next one.
#[tokio::test]
async fn a_thread_left_running_ends_with_the_run() {
    let sandbox = sandbox(strict());
    let script = format!(
        "import threading, time\n\
         def linger():\n    time.sleep(0.5)\n    while True:\n        print('still here', flush=True)\n        time.sleep(0.05)\n\
         threading.Thread(target=linger).start()\n{PLATE}"
    );
    let report = run(&sandbox, &script).await;
    assert!(report.is_built(), "{:?}\n{}", report.outcome, report.log);
    assert!(report.duration < Duration::from_secs(8), "{:?}", report.duration);
    let next = run(&sandbox, PLATE).await;
    assert!(next.is_built(), "{:?}", next.outcome);
    assert!(!next.log.contains("still here"), "{}", next.log);
}

/// Two jobs at once: one cannot read the other's files, neither through
/// Python nor through FreeCAD's own C++ readers, even knowing the path.
#[tokio::test]
async fn concurrent_jobs_never_see_each_others_files() {
    let sandbox = sandbox(strict());
    let token = format!("secret{}", std::process::id());
    // A one-facet binary STL: FreeCAD's mesh reader loads it when allowed to.
    let stl =
        |header: &str| format!("__import__('struct').pack('<80sI12fH', b'{header}', 1, 0,0,1, 0,0,0, 1,0,0, 0,1,0, 0)");
    let owner = format!(
        "import time\nwith open('{token}.stl', 'wb') as f:\n    f.write({})\ntime.sleep(4)\n{PLATE}",
        stl(&format!("content-{token}"))
    );
    let spy = async {
        // Find the owner's job directory the way only the host can.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let secret = loop {
            let found = std::fs::read_dir(sandbox.work_root())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join(format!("{token}.stl")))
                .find(|p| p.exists());
            if let Some(path) = found {
                break path;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the first job never wrote its file"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let path = secret.display();
        // Its own copy proves the reader works where it may read.
        let script = format!(
            "import Mesh\nwith open('own.stl', 'wb') as f:\n    f.write({own})\n\
             print('own facets', Mesh.Mesh('own.stl').CountFacets)\n\
             for how, read in [('python', lambda: open('{path}', 'rb').read()),\n\
             ('freecad', lambda: Mesh.Mesh('{path}').CountFacets)]:\n\
             \x20   try:\n        print(how, 'read', repr(read()))\n\
             \x20   except BaseException as e:\n        print(how, 'refused', type(e).__name__)\n{PLATE}",
            own = stl("own"),
        );
        run(&sandbox, &script).await
    };
    let (owner, spy) = tokio::join!(run(&sandbox, &owner), spy);
    assert!(owner.is_built(), "{:?}\n{}", owner.outcome, owner.log);
    assert!(spy.is_built(), "{:?}\n{}", spy.outcome, spy.log);
    assert!(spy.log.contains("own facets 1"), "{}", spy.log);
    assert!(spy.log.contains("python refused"), "{}", spy.log);
    assert!(!spy.log.contains(&format!("content-{token}")), "{}", spy.log);
    assert!(spy.log.contains("freecad refused"), "{}", spy.log);
}

/// A script whose STEP export (through `Import.export`, which the harness
/// calls) is replaced by `body`, with `main_pid` the harness's process id.
/// Its part has enough faces for the harness to share the work with a
/// helper: the plate with sixty through holes of [`HOLED_PLATE_VOLUME`].
fn with_step_export(body: &str) -> String {
    step_export_of(
        body,
        "Part.makeBox(40, 20, 10).cut(Part.makeCompound([\n\
         \x20   Part.makeCylinder(0.8, 10, App.Vector(2 + 4 * i, 2.5 + 3 * j, 0))\n\
         \x20   for i in range(10) for j in range(6)]))",
    )
}

/// 40 x 20 x 10 mm less sixty holes of 0.8 mm radius; its centre stays at
/// the box's.
const HOLED_PLATE_VOLUME: f64 = 8000.0 - 60.0 * std::f64::consts::PI * 0.64 * 10.0;

fn step_export_of(body: &str, part: &str) -> String {
    format!(
        r#"
import os
import Import
import Part

main_pid = os.getpid()
real_export = Import.export


def export(objects, path):
{body}


Import.export = export
Part.show({part})
"#
    )
}

const WHO_WRITES_THE_STEP: &str = "    print('STEP written by %s' % ('a helper' if os.getpid() != main_pid else 'the harness'))\n    return real_export(objects, path)";

#[tokio::test]
async fn a_helper_process_writes_the_step_while_the_harness_writes_the_meshes() {
    let script = with_step_export(WHO_WRITES_THE_STEP);
    let report = run(&sandbox(Limits::default()), &script).await;
    let Outcome::Built { metrics, files } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    // The helper's output reaches the run log, once.
    assert_eq!(report.log.matches("STEP written by a helper").count(), 1, "{}", report.log);
    assert!((metrics.volume - HOLED_PLATE_VOLUME).abs() < 1e-6 * HOLED_PLATE_VOLUME);
    // Its share of the answer (the mass properties) comes back.
    let center = metrics.center_of_mass.expect("a centre of mass");
    assert!((center[0] - 20.0).abs() < 1e-6 && (center[2] - 5.0).abs() < 1e-6, "{center:?}");
    for format in ModelFormat::ALL {
        let path = files.get(&format).unwrap_or_else(|| panic!("no {format:?}"));
        assert!(std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false), "{format:?}");
    }
}

#[tokio::test]
async fn a_part_of_few_faces_is_checked_and_exported_without_a_helper() {
    // The plate of seven faces: a fork would cost more than it saves.
    let script = step_export_of(
        WHO_WRITES_THE_STEP,
        "Part.makeBox(40, 20, 10).cut(Part.makeCylinder(3, 10, App.Vector(20, 10, 0)))",
    );
    let report = run(&sandbox(Limits::default()), &script).await;
    let Outcome::Built { metrics, .. } = &report.outcome else {
        panic!("not built: {:?}\n{}", report.outcome, report.log);
    };
    assert_eq!(report.log.matches("STEP written by the harness").count(), 1, "{}", report.log);
    assert!(!report.log.contains("a helper"), "{}", report.log);
    assert!((metrics.volume - PLATE_VOLUME).abs() < 1e-6 * PLATE_VOLUME);
    assert!(metrics.valid);
}

#[tokio::test]
async fn a_failure_in_the_helper_is_reported_like_the_harnesses_own() {
    let script = with_step_export("    raise MemoryError('no room for the STEP')");
    let report = run(&sandbox(Limits::default()), &script).await;
    let (error, _) = expect_failure(&report, FailureKind::MemoryLimit);
    assert!(error.starts_with("MemoryError: no room for the STEP"), "{error}");
}

#[tokio::test]
async fn a_helper_that_dies_fails_the_run_with_its_exit_status() {
    let script = with_step_export("    os._exit(7)");
    let report = run(&sandbox(Limits::default()), &script).await;
    let (error, _) = expect_failure(&report, FailureKind::Crashed);
    assert!(error.contains("the export helper died (exit status 7)"), "{error}");
}
