//! The catalogue prompts the reader must understand, with the parameters
//! and volume each must produce, and the prompts it must refuse. (Written
//! for the earlier template generator; parameter names now are the spec's.)

use std::f64::consts::PI;

use cadgen::{check_script, generate, Generated, CATALOGUE};

fn gen(prompt: &str) -> Generated {
    generate(prompt).unwrap_or_else(|e| panic!("{prompt:?} was not understood: {e}"))
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

/// Asserts the part, every listed parameter and the expected volume.
fn expect(prompt: &str, part: &str, params: &[(&str, f64)], volume: f64) -> Generated {
    let g = gen(prompt);
    assert_eq!(g.part, part, "{prompt:?}");
    for (name, value) in params {
        let actual = g
            .parameters
            .get(*name)
            .unwrap_or_else(|| panic!("{prompt:?}: no {name} in {:?}", g.parameters));
        assert!(
            close(*actual, *value),
            "{prompt:?}: {name} = {actual}, expected {value}"
        );
    }
    let v = g.expected.volume_mm3.expect("a volume");
    assert!(close(v, volume), "{prompt:?}: volume {v} expected {volume}");
    g
}

fn disc(d: f64) -> f64 {
    PI * d * d / 4.0
}

#[test]
fn plate_with_one_hole() {
    let g = expect(
        "a 40 x 20 x 10 mm plate with a 6 mm through hole",
        "plate",
        &[
            ("length", 40.0),
            ("width", 20.0),
            ("height", 10.0),
            ("hole_diameter", 6.0),
            ("hole_x", 20.0),
        ],
        8000.0 - PI * 9.0 * 10.0,
    );
    assert!((g.expected.volume_mm3.unwrap() - 7717.3).abs() < 0.05);
    assert_eq!(
        g.reply,
        "Plate 40 × 20 × 10 mm with one Ø6 mm through hole at (20, 10)."
    );
}

#[test]
fn box_in_centimetres() {
    let g = expect(
        "box 2 by 3 by 4 cm",
        "box",
        &[("length", 20.0), ("width", 30.0), ("height", 40.0)],
        24000.0,
    );
    assert_eq!(g.reply, "Box 20 × 30 × 40 mm.");
}

#[test]
fn cubes_blocks_and_plain_plates() {
    expect("cube 25 mm", "box", &[("length", 25.0), ("height", 25.0)], 15625.0);
    expect("a 1 inch cube", "box", &[("width", 25.4)], 25.4f64.powi(3));
    expect("Block 10x20x30", "box", &[("height", 30.0)], 6000.0);
    expect("plate 100 x 50 mm 5 mm thick", "plate", &[("height", 5.0)], 25000.0);
    expect(
        "box 40 mm long 30 mm wide 20 mm high",
        "box",
        &[("length", 40.0), ("width", 30.0)],
        24000.0,
    );
}

#[test]
fn cylinders_and_rods() {
    expect(
        "cylinder diameter 20mm height 50mm",
        "cylinder",
        &[("diameter", 20.0), ("height", 50.0)],
        disc(20.0) * 50.0,
    );
    let g = expect(
        "a rod 10 mm dia 100 mm long",
        "cylinder",
        &[("diameter", 10.0), ("height", 100.0)],
        disc(10.0) * 100.0,
    );
    assert_eq!(g.reply, "Rod Ø10 × 100 mm.");
    expect(
        "CYLINDER RADIUS 5 CM HEIGHT 2 CM",
        "cylinder",
        &[("diameter", 100.0), ("height", 20.0)],
        disc(100.0) * 20.0,
    );
    expect(
        "disc 50 mm diameter 5 mm thick",
        "cylinder",
        &[("height", 5.0)],
        disc(50.0) * 5.0,
    );
    expect(
        "rod 1/4\" diameter 2 in long",
        "cylinder",
        &[("diameter", 6.35), ("height", 50.8)],
        disc(6.35) * 50.8,
    );
    expect(
        "shaft Ø12 x 80",
        "cylinder",
        &[("diameter", 12.0), ("height", 80.0)],
        disc(12.0) * 80.0,
    );
}

#[test]
fn tubes_and_pipes() {
    expect(
        "tube outer diameter 30 mm inner diameter 24 mm length 80 mm",
        "tube",
        &[("outer_diameter", 30.0), ("inner_diameter", 24.0), ("height", 80.0)],
        (disc(30.0) - disc(24.0)) * 80.0,
    );
    expect(
        "pipe 1 in OD wall 2 mm 100 mm long",
        "tube",
        &[("outer_diameter", 25.4), ("inner_diameter", 21.4), ("height", 100.0)],
        (disc(25.4) - disc(21.4)) * 100.0,
    );
    expect(
        "hollow cylinder 40 mm od 30 mm id 10 mm long",
        "tube",
        &[("inner_diameter", 30.0)],
        (disc(40.0) - disc(30.0)) * 10.0,
    );
}

#[test]
fn spheres() {
    expect(
        "sphere radius 15 mm",
        "sphere",
        &[("diameter", 30.0)],
        4.0 / 3.0 * PI * 15f64.powi(3),
    );
    expect("a 2 cm ball", "sphere", &[("diameter", 20.0)], 4.0 / 3.0 * PI * 1000.0);
}

#[test]
fn cones_and_frustums() {
    let frustum = PI * 30.0 / 12.0 * (1600.0 + 400.0 + 100.0);
    expect(
        "cone bottom diameter 40 top diameter 10 height 30 mm",
        "cone",
        &[("bottom_diameter", 40.0), ("top_diameter", 10.0), ("height", 30.0)],
        frustum,
    );
    expect(
        "cone base radius 15 mm 40 mm tall",
        "cone",
        &[("top_diameter", 0.0)],
        PI * 40.0 / 12.0 * 900.0,
    );
    assert!(
        generate("frustum bottom diameter 40 height 30").is_err(),
        "a frustum needs a top"
    );
}

#[test]
fn washers() {
    let g = expect(
        "washer 20 mm outer 8.4 mm inner 2 mm thick",
        "washer",
        &[("outer_diameter", 20.0), ("inner_diameter", 8.4), ("height", 2.0)],
        (disc(20.0) - disc(8.4)) * 2.0,
    );
    assert_eq!(g.reply, "Washer Ø20 / Ø8.4 mm × 2 mm.");
    expect(
        "M8 washer",
        "washer",
        &[("outer_diameter", 16.0), ("inner_diameter", 8.4), ("height", 1.6)],
        (disc(16.0) - disc(8.4)) * 1.6,
    );
}

#[test]
fn flanges() {
    let g = expect(
        "a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle",
        "flange",
        &[
            ("diameter", 80.0),
            ("height", 10.0),
            ("bolt_hole_count", 6.0),
            ("bolt_hole_diameter", 8.0),
            ("bolt_hole_circle_diameter", 60.0),
        ],
        (disc(80.0) - 6.0 * disc(8.0)) * 10.0,
    );
    assert!(g.reply.contains("defaults: thickness 10 mm"), "{}", g.reply);
    expect(
        "flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle and a 40 mm bore",
        "flange",
        &[("bolt_hole_diameter", 11.0), ("bore_diameter", 40.0), ("height", 12.0)],
        (disc(120.0) - disc(40.0) - 8.0 * disc(11.0)) * 12.0,
    );
}

#[test]
fn l_brackets() {
    expect(
        "L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm",
        "l_bracket",
        &[
            ("width", 50.0),
            ("height", 40.0),
            ("length", 30.0),
            ("thickness", 5.0),
            ("hole_diameter", 5.0),
            ("upright_hole_diameter", 5.0),
        ],
        30.0 * 5.0 * (50.0 + 40.0 - 5.0) - 2.0 * disc(5.0) * 5.0,
    );
    expect(
        "angle bracket 40 x 40 x 20 mm 3 mm thick",
        "l_bracket",
        &[("thickness", 3.0)],
        20.0 * 3.0 * 77.0,
    );
}

#[test]
fn spur_gears() {
    let g = expect(
        "spur gear module 2 with 20 teeth 10 mm thick bore 8 mm",
        "spur_gear",
        &[
            ("module", 2.0),
            ("teeth", 20.0),
            ("thickness", 10.0),
            ("bore_diameter", 8.0),
        ],
        gen("spur gear module 2 with 20 teeth 10 mm thick bore 8 mm")
            .expected
            .volume_mm3
            .unwrap(),
    );
    // The involute profile lies between the root (Ø35) and tip (Ø44) discs.
    let (lo, hi) = ((disc(35.0) - disc(8.0)) * 10.0, (disc(44.0) - disc(8.0)) * 10.0);
    assert!(g.expected.volume_mm3.unwrap() > lo && g.expected.volume_mm3.unwrap() < hi);
    assert!(
        g.script.contains("bezier(left_poles, c)")
            && g.script.contains(".Shape = gear_wire")
            && g.script.matches("Part::Extrusion").count() == 1,
        "teeth are a real involute profile, extruded once"
    );
    let g = gen("gear with 30 teeth pitch diameter 45 mm 6 mm thick");
    assert!(close(g.parameters["module"], 1.5));
    assert!(
        generate("spur gear module 2 10 mm thick").is_err(),
        "teeth are required"
    );
}

#[test]
fn hex_nuts() {
    let hexagon = 3f64.sqrt() / 2.0 * 169.0;
    let nut = (hexagon - disc(8.0)) * 6.5;
    expect(
        "M8 hex nut",
        "hex_nut",
        &[("across_flats", 13.0), ("height", 6.5), ("hole_diameter", 8.0)],
        nut,
    );
    expect(
        "hex nut 13 mm across flats 6.5 mm thick 8 mm hole",
        "hex_nut",
        &[("across_flats", 13.0), ("height", 6.5), ("hole_diameter", 8.0)],
        nut,
    );
    assert!(generate("M7 nut").is_err(), "M7 is not a standard size");
}

#[test]
fn standoffs() {
    expect(
        "standoff 20 mm tall 6 mm diameter M3",
        "standoff",
        &[("height", 20.0), ("diameter", 6.0), ("hole_diameter", 2.5)],
        (disc(6.0) - disc(2.5)) * 20.0,
    );
    let hexagon = 3f64.sqrt() / 2.0 * 49.0;
    expect(
        "hex standoff M4 15 mm long",
        "standoff",
        &[("across_flats", 7.0), ("hole_diameter", 3.3)],
        (hexagon - disc(3.3)) * 15.0,
    );
}

#[test]
fn enclosures() {
    expect(
        "enclosure 100 x 60 x 40 mm wall 2 mm",
        "enclosure",
        &[
            ("length", 100.0),
            ("width", 60.0),
            ("height", 40.0),
            ("shell_wall", 2.0),
        ],
        100.0 * 60.0 * 40.0 - 96.0 * 56.0 * 38.0,
    );
    expect(
        "open box 50 x 50 x 20 mm with 3 mm walls",
        "enclosure",
        &[("shell_wall", 3.0)],
        50000.0 - 44.0 * 44.0 * 17.0,
    );
}

#[test]
fn plates_with_hole_patterns() {
    let g = expect(
        "plate 100 x 50 x 5 mm with 4 holes 6 mm at the corners",
        "plate",
        &[("hole_rows", 2.0), ("hole_diameter", 6.0), ("hole_pitch_x", 82.0)],
        25000.0 - 4.0 * disc(6.0) * 5.0,
    );
    assert!(g.reply.contains("2 × 2 grid"), "{}", g.reply);
    expect(
        "plate 120 x 40 x 6 mm with 5 holes 8 mm",
        "plate",
        &[("hole_count", 5.0)],
        28800.0 - 5.0 * disc(8.0) * 6.0,
    );
    let g = expect(
        "plate 60 x 40 x 3 mm with holes 4 mm at (10, 10), (50, 10) and (30, 30)",
        "plate",
        &[("hole_diameter", 4.0)],
        7200.0 - 3.0 * disc(4.0) * 3.0,
    );
    assert!(g.script.contains("Vector(50.0, 10.0, 0.0)"), "{}", g.script);
    expect(
        "plate 80 x 40 x 4 with 4 x M5 holes",
        "plate",
        &[("hole_count", 4.0), ("hole_diameter", 5.5)],
        12800.0 - 4.0 * disc(5.5) * 4.0,
    );
    let g = gen("plate 80 x 40 x 4 mm with 3 holes");
    assert!(g.reply.contains("defaults: hole diameter 5.5 mm"), "{}", g.reply);
}

#[test]
fn refuses_what_it_does_not_understand() {
    for prompt in [
        "a dragon",
        "make it nice",
        "",
        "cylinder 20 mm",
        "a plate",
        "box 10 x 20",
    ] {
        let err = generate(prompt).expect_err(prompt);
        let text = err.to_string();
        for entry in CATALOGUE {
            assert!(
                text.contains(entry.example),
                "{prompt:?}: the message lists {}",
                entry.name
            );
        }
    }
    let err = generate("sphere radius 15 mm 20 mm wide").expect_err("leftover width");
    assert_eq!(err.part.as_deref(), Some("sphere"));
    assert!(err.reason.contains("20 mm (width)"), "{}", err.reason);
    assert!(
        generate("plate 40 x 20 x 10 mm with 20 holes 6 mm").is_err(),
        "holes do not fit"
    );
    assert!(generate("tube outer diameter 20 inner diameter 30 length 10").is_err());
    assert!(generate("cube 20 km").is_err(), "unsupported unit");
    assert!(generate("box 20 x 30 x 40 m x 9999999999").is_err(), "out of range");
}

#[test]
fn scripts_have_the_contract_shape_and_pass_the_checker() {
    let prompts = CATALOGUE.iter().map(|e| e.example).chain([
        "a 40 x 20 x 10 mm plate with a 6 mm through hole",
        "cube 25 mm",
        "plate 60 x 40 x 3 mm with holes 4 mm at (10, 10), (50, 10) and (30, 30)",
        "pipe 1 in OD wall 2 mm 100 mm long",
        "flange 120 mm diameter 12 mm thick with 8 M10 holes on a 95 mm bolt circle and a 40 mm bore",
        "hex standoff M4 15 mm long",
        "cone base radius 15 mm 40 mm tall",
        "M8 washer",
    ]);
    for prompt in prompts {
        let g = gen(prompt);
        if let Err(violations) = check_script(&g.script) {
            panic!("{prompt:?}: generated script fails the checker: {violations:?}");
        }
        assert!(g.script.starts_with(&format!("# CADScribe part: {}\n", g.part)));
        assert!(g
            .script
            .contains("doc = App.ActiveDocument or App.newDocument(\"Model\")"));
        assert!(g.script.contains("doc.recompute()"));
        // One result object, and a model whose features follow the spreadsheet.
        assert_eq!(g.script.matches(".Label = \"").count(), 1);
        assert!(
            g.script.contains(".setExpression(\"") && g.script.contains("Parameters."),
            "{prompt:?}: no feature is bound to the spreadsheet"
        );
        assert!(g.script.contains("\"Spreadsheet::Sheet\", \"Parameters\""));
        for name in g.parameters.keys() {
            assert!(
                g.script.contains(&format!("(\"{name}\", ")),
                "{prompt:?}: parameter {name}"
            );
        }
    }
}

#[test]
fn generation_is_deterministic() {
    for entry in CATALOGUE {
        assert_eq!(gen(entry.example), gen(entry.example));
    }
}
