//! Offline, deterministic prompt → FreeCAD script generator.
//!
//! [`generate`] reads a one-sentence prompt ("a 40 x 20 x 10 mm plate with a
//! 6 mm through hole"), picks a part from the [`CATALOGUE`], fills its
//! parameters from the dimensions in the prompt and emits a parametric
//! FreeCAD script together with the analytically expected volume. A prompt
//! that does not name a known part, or lacks a main dimension, or has
//! numbers the part cannot use, is refused with [`NotUnderstood`] — the
//! generator never falls back to a default shape.
//!
//! Reading rules (all parts share them):
//! - Units: `mm`, `cm`, `m`, `in`/`inch`/`"`, `ft`. A number without a unit
//!   takes the unit of its `a x b x c` chain, else the prompt's only unit,
//!   else millimetres. `1/4` and `1 1/4` are read as fractions.
//! - Keywords may stand before or after their number: "diameter 20",
//!   "20 mm dia", "5 mm thick", "Ø6". "M6" is a metric thread size.
//! - Counts: "4 holes", "six 8 mm holes", "4 x M6 holes", "20 teeth";
//!   "a hole" is one hole.
//! - The most specific part noun wins ("gear" over "disc"); a box or plate
//!   with holes is a `plate_with_holes`, with walls (or "open") an
//!   `enclosure`; a cylinder with an inner diameter or wall is a `tube`,
//!   with a bolt circle a `flange`.
//! - Every number must be used: a prompt with a dimension, count, M size or
//!   "at the corners" the part has no use for is refused, not trimmed.
//!
//! Defaults for secondary dimensions (the summary lists each one used after
//! "defaults:"):
//! - hole diameter of plates, brackets and flanges: 5.5 mm (M5 clearance);
//!   an M size gives its ISO 273 medium clearance hole instead;
//! - corner holes: centres 1.5 hole diameters from the edges;
//! - flange: 10 mm thick, 4 holes, bolt circle midway between bore (or
//!   centre) and rim;
//! - L-bracket: 3 mm thick; "with holes" means 2 (one per leg);
//! - enclosure: 2 mm walls, floor as thick as the walls;
//! - spur gear: face width 8 modules; 20° pressure angle, full-depth teeth;
//! - from an M size: hex nuts per DIN 934 (hole = nominal size, thread not
//!   modelled), washers per ISO 7089, standoffs with the tap-drill hole and
//!   the nut's across-flats size.

mod catalogue;
mod lexer;
mod metric;
mod parts;
mod prompt;
mod script;
mod vocab;

use std::collections::BTreeMap;

pub use catalogue::{CatalogueEntry, CATALOGUE};

/// Prompts longer than this are refused: the generator reads one sentence.
pub const MAX_PROMPT_CHARS: usize = 2000;

/// Largest length accepted in a prompt (10 m): beyond it the prompt is
/// almost surely mis-read.
pub const MAX_LENGTH_MM: f64 = 10_000.0;

/// A generated part.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Catalogue name, e.g. `"plate_with_holes"`.
    pub part: &'static str,
    /// Parameters by lower-case name; lengths in millimetres, counts as
    /// plain numbers. Same values as the constants at the top of `script`.
    pub parameters: BTreeMap<String, f64>,
    /// The FreeCAD Python script (see the crate docs for its contract).
    pub script: String,
    /// Volume of the part computed from the parameters, in mm³.
    pub expected_volume_mm3: f64,
    /// One human sentence, e.g. "Plate 40 × 20 × 10 mm with one Ø6 mm
    /// through hole".
    pub summary: String,
}

/// The prompt could not be turned into a part. Its `Display` explains why
/// and lists the catalogue with one example prompt per part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}\n\n{help}", help = catalogue::help())]
pub struct NotUnderstood {
    /// Why the prompt was refused, in one or two sentences.
    pub reason: String,
    /// The catalogue part the prompt was recognised as, if any.
    pub part: Option<&'static str>,
}

impl NotUnderstood {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        NotUnderstood {
            reason: reason.into(),
            part: None,
        }
    }
}

/// Turns a prompt into a FreeCAD script for a catalogue part.
///
/// ```
/// let g = cadgen::template::generate("box 2 by 3 by 4 cm").unwrap();
/// assert_eq!(g.part, "box");
/// assert!((g.expected_volume_mm3 - 24_000.0).abs() < 1e-6);
/// ```
pub fn generate(prompt: &str) -> Result<Generated, NotUnderstood> {
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(NotUnderstood::new(format!(
            "The prompt is longer than {MAX_PROMPT_CHARS} characters; describe one part in one sentence."
        )));
    }
    let mut facts = prompt::Facts::read(prompt);
    if let Some(bad) = facts.out_of_range(MAX_LENGTH_MM) {
        return Err(NotUnderstood::new(format!(
            "{bad} is out of range: lengths must be at most {} m.",
            MAX_LENGTH_MM / 1000.0
        )));
    }
    if let Some(unit) = facts.unsupported_units.first() {
        return Err(NotUnderstood::new(format!(
            "I do not work in \"{unit}\"; give lengths in mm, cm, m, inches or feet."
        )));
    }
    let Some(noun) = parts::detect(&facts) else {
        return Err(NotUnderstood::new(
            "I could not find a part I know how to make in the prompt.",
        ));
    };
    let (generated, entry) = parts::build(noun, &mut facts)?;
    let leftovers = facts.leftovers();
    if !leftovers.is_empty() {
        return Err(NotUnderstood {
            reason: format!(
                "I read this as a {} but do not know what to do with: {}.",
                entry.name.replace('_', " "),
                leftovers.join(", ")
            ),
            part: Some(entry.name),
        });
    }
    Ok(generated)
}
