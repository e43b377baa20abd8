//! The reader, the follow-ups and the compiler on the cases the part spec
//! was made for: what is made is what was asked, or the refusal says why.

use cadgen::{compile, follow_up, generate, PartSpec};
use domain::spec::{Axis, Base, Feature, Positions};

fn volume(prompt: &str) -> f64 {
    let g = generate(prompt).unwrap_or_else(|e| panic!("{prompt:?}: {}", e.reason));
    g.expected.volume_mm3.expect("a volume")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn reads_parts_feature_by_feature() {
    let pi = std::f64::consts::PI;
    let v = volume("a 40 x 20 x 10 mm block with a 6 mm hole through its centre and its vertical edges rounded 2 mm");
    assert!(close(v, 8000.0 - pi * 90.0 - 4.0 * (1.0 - pi / 4.0) * 40.0));
    let v = volume(
        "Begin by sketching a rectangle 75 by 50 mm and extrude it 20 mm. On the top face, cut a circle of \
         diameter 12 mm at the centre through the whole block.",
    );
    assert!(close(v, 75.0 * 50.0 * 20.0 - pi * 36.0 * 20.0));
    assert!(close(
        volume("half-inch diameter rod, 6 inches long"),
        pi / 4.0 * 12.7 * 12.7 * 152.4
    ));
    assert!(close(
        volume("L bracket with 50 mm legs, 30 mm wide, 5 mm thick"),
        30.0 * 5.0 * 95.0
    ));
    assert!(close(
        volume("a cylinder 40 mm in diameter whose height is half its diameter"),
        pi * 400.0 * 20.0
    ));
}

#[test]
fn says_how_bare_numbers_were_read() {
    let g = generate("cube 20").unwrap();
    assert!(g.reply.contains("read as millimetres"), "{}", g.reply);
    assert_eq!(g.expected.bbox_mm, Some([20.0, 20.0, 20.0]));
    assert_eq!(g.expected.solids, Some(1));
}

#[test]
fn refuses_bad_values_and_things_it_cannot_make() {
    let e = generate("a cube with side -5 mm").unwrap_err();
    assert_eq!(e.reason, "The side must be positive, not -5 mm.");
    for prompt in ["a teapot", "a human face", "a NACA 2412 wing"] {
        assert!(generate(prompt).is_err(), "{prompt}");
    }
    let e = generate("plate 40 x 20 x 10 with a 30 mm hole").unwrap_err();
    assert!(e.reason.contains("does not fit"), "{}", e.reason);
}

#[test]
fn follow_ups_change_the_previous_version_and_say_how() {
    let g = generate("a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle").unwrap();
    let g2 = follow_up(&g.spec, "make it 15 mm thick").unwrap();
    assert_eq!(g2.parameters["height"], 15.0);
    assert!(g2.reply.contains("height 10 → 15 mm"), "{}", g2.reply);
    assert_eq!(g2.spec.history.len(), 1);
    let g3 = follow_up(&g2.spec, "undo").unwrap();
    assert_eq!(g3.spec, g.spec);
    let e = follow_up(&g.spec, "make it purple").unwrap_err();
    assert!(e.reason.contains("previous version stays current"), "{}", e.reason);
    assert!(follow_up(&g.spec, "undo").is_err(), "nothing to undo");
}

#[test]
fn compiles_specs_from_anywhere_and_checks_fit() {
    let mut spec = PartSpec::new(
        "plate",
        Base::Box {
            length: 40.0,
            width: 20.0,
            height: 5.0,
        },
    );
    spec.features.push(Feature::Hole {
        name: String::new(),
        diameter: 25.0,
        depth: None,
        counterbore: None,
        axis: Axis::Z,
        at: Positions::Points {
            points: vec![[20.0, 10.0]],
        },
    });
    let e = compile(&spec).unwrap_err();
    assert!(e.reason.contains("does not fit"), "{}", e.reason);
    spec.set_parameter("hole_diameter", 5.0).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    let back: PartSpec = serde_json::from_str(&json).unwrap();
    let g = compile(&back).unwrap();
    assert_eq!(g.expected.through_holes, Some(1));
    assert!(g.script.contains("\"Spreadsheet::Sheet\", \"Parameters\""));
    assert_eq!(cadgen::check_script(&g.script), Ok(()));
}

#[test]
fn reads_stock_sections_and_counts_per_leg_the_way_the_trade_writes_them() {
    let pi = std::f64::consts::PI;
    // A number before "plate" is the stock the part is made from…
    let g = generate(
        "shelf bracket: an L of 6 mm plate, 60 mm long, 40 mm tall, 30 mm wide, with two 5 mm holes in each leg",
    )
    .unwrap_or_else(|e| panic!("{}", e.reason));
    assert_eq!(g.parameters["thickness"], 6.0);
    assert_eq!(g.expected.through_holes, Some(4), "two in each leg: {}", g.reply);
    assert!(close(
        g.expected.volume_mm3.unwrap(),
        30.0 * 6.0 * (60.0 + 40.0 - 6.0) - 4.0 * pi * 6.25 * 6.0
    ));
    // …or of a plate whose outline is given as two numbers…
    assert!(close(volume("a 3 mm aluminium plate 100 x 50 mm"), 100.0 * 50.0 * 3.0));
    // …and a plate on its own is sized as before.
    assert!(close(volume("a 40 x 20 x 10 mm plate"), 8000.0));
    assert!(close(volume("a 100 mm square plate 3 mm thick"), 30000.0));

    // Sections: width × height × thickness when the length is given apart.
    let l = 25.0 * 3.0 + 22.0 * 3.0;
    assert!(close(
        volume("an aluminium angle 25 x 25 x 3 mm, 300 mm long"),
        l * 300.0
    ));
    assert!(close(
        volume("a T profile 40 x 40 x 4, 150 long"),
        (40.0 * 4.0 + 36.0 * 4.0) * 150.0
    ));
    // Width × height × length when the thickness is given apart, as before.
    assert!(close(
        volume("u channel 40 x 30 x 200 mm 3 mm thick"),
        (40.0 * 3.0 + 2.0 * 27.0 * 3.0) * 200.0
    ));

    // Rectangular and square tubes, hollow end to end.
    let g = generate("a rectangular tube 40 x 20 mm, 2 mm wall, 500 mm long").unwrap();
    assert!(close(g.expected.volume_mm3.unwrap(), (800.0 - 36.0 * 16.0) * 500.0));
    assert_eq!(g.expected.bbox_mm, Some([40.0, 20.0, 500.0]));
    assert_eq!(g.expected.through_holes, Some(1));
    assert!(close(
        volume("40 x 20 x 2 box section 300 long"),
        (800.0 - 36.0 * 16.0) * 300.0
    ));
    assert!(close(
        volume("square tube 25 mm, 1.5 mm wall, 300 mm long"),
        (625.0 - 484.0) * 300.0
    ));
    let e = generate("rectangular tube 40 x 20 x 100 mm with 10 mm wall").unwrap_err();
    assert!(e.reason.contains("leaves no inside"), "{}", e.reason);

    // "in each leg" on a part without legs is not dropped.
    let e = generate("a plate 100 x 50 x 5 mm with 2 holes 5 mm in each leg").unwrap_err();
    assert!(e.reason.contains("each leg"), "{}", e.reason);
}

#[test]
fn follow_ups_move_corner_holes_and_ask_how_much_for_a_bare_comparative() {
    let g = generate("plate 100 x 60 x 5 mm with 4 holes 6 mm at the corners").unwrap();
    let moved = follow_up(&g.spec, "make the holes 10 mm from the edges").unwrap();
    let grid = moved.spec.features.iter().find_map(|f| match f {
        Feature::Hole {
            at: Positions::Grid { start, step, .. },
            ..
        } => Some((*start, *step)),
        _ => None,
    });
    assert_eq!(grid, Some(([10.0, 10.0], [80.0, 40.0])));
    assert!(
        follow_up(&g.spec, "holes 40 mm from the edges").is_err(),
        "they would not fit"
    );
    for (message, asked) in [
        ("make it thicker", "How much thicker?"),
        ("make the holes bigger", "how much bigger?"),
    ] {
        let e = follow_up(&g.spec, message).unwrap_err();
        assert!(e.reason.contains(asked), "{message}: {}", e.reason);
    }
}
