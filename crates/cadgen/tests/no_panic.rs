//! Property tests: neither the prompt reader nor the script checker may
//! panic, whatever they are given; and whatever the generator does accept
//! must be a sane part whose script passes the checker.

use proptest::prelude::*;

/// Words and symbols prompts are made of, including awkward ones.
const PROMPT_PIECES: &[&str] = &[
    "plate",
    "box",
    "cube",
    "cylinder",
    "rod",
    "disc",
    "tube",
    "pipe",
    "sphere",
    "ball",
    "cone",
    "frustum",
    "washer",
    "flange",
    "L-bracket",
    "bracket",
    "spur gear",
    "gear",
    "hex nut",
    "nut",
    "standoff",
    "enclosure",
    "open box",
    "with",
    "and",
    "a",
    "six",
    "four",
    "holes",
    "hole",
    "teeth",
    "at the corners",
    "on a",
    "bolt circle",
    "bore",
    "module",
    "diameter",
    "dia",
    "radius",
    "outer",
    "inner",
    "OD",
    "ID",
    "wall",
    "thick",
    "long",
    "wide",
    "tall",
    "high",
    "across flats",
    "across",
    "top",
    "bottom",
    "height",
    "length",
    "mm",
    "cm",
    "m",
    "in",
    "inch",
    "\"",
    "ft",
    "km",
    "x",
    "by",
    "×",
    "*",
    "Ø",
    "(",
    ")",
    ",",
    "=",
    "M3",
    "M8",
    "M7",
    "0",
    "1",
    "2",
    "3",
    "4",
    "6",
    "8",
    "10",
    "12",
    "20",
    "40",
    "100",
    "0.5",
    "6.5",
    "1/4",
    "1 1/2",
    "3/0",
    "99999999999999999999",
    ".5",
    "-5",
    "through",
    "hex",
    "round",
    "inset",
    "d=",
    "floor",
];

/// Fragments that make near-Python, hostile and harmless alike.
const PYTHON_PIECES: &[&str] = &[
    "import ",
    "from ",
    " as ",
    "os",
    "FreeCAD",
    "Part",
    "App",
    "math",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ".",
    "=",
    " ",
    "\n",
    "    ",
    "\t",
    "lambda",
    "def f",
    "class C",
    "return",
    "if ",
    "else",
    "for x in ",
    "open",
    "eval",
    "exec",
    "__class__",
    "__import__",
    "getattr",
    "'s'",
    "\"Volume\"",
    "f'{x}'",
    "1",
    "-",
    "+",
    "*",
    "**",
    "not ",
    "x",
    "shape",
    ".cut",
    ".exportStep",
    "#",
    "\\",
    "'''",
    "@",
    "match",
    "case",
    "yield",
    "async ",
    "await ",
    "\0",
    "é",
    "\r\n",
];

fn joined(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    let piece = proptest::sample::select(pieces);
    let glue = proptest::sample::select(&[" ", "", "  "][..]);
    proptest::collection::vec((piece, glue), 0..max)
        .prop_map(|parts| parts.into_iter().flat_map(|(p, g)| [p, g]).collect())
}

proptest! {
    #[test]
    fn generate_never_panics_on_any_string(prompt in any::<String>()) {
        let _ = cadgen::generate(&prompt);
    }

    #[test]
    fn check_never_panics_on_any_string(source in any::<String>()) {
        let _ = cadgen::check_script(&source);
    }

    #[test]
    fn accepted_prompts_make_sane_checked_parts(prompt in joined(PROMPT_PIECES, 16)) {
        if let Ok(g) = cadgen::generate(&prompt) {
            prop_assert!(g.expected.volume_mm3.is_some_and(|v| v.is_finite() && v > 0.0), "{:?}", g);
            prop_assert!(g.parameters.values().all(|v| v.is_finite()));
            prop_assert_eq!(cadgen::check_script(&g.script), Ok(()));
        }
    }

    #[test]
    fn check_never_panics_on_python_like_text(source in joined(PYTHON_PIECES, 60)) {
        if let Err(violations) = cadgen::check_script(&source) {
            prop_assert!(!violations.is_empty());
            prop_assert!(violations.iter().all(|v| v.line >= 1));
        }
    }
}
