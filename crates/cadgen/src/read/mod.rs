//! The offline prompt reader: prompt → [`PartSpec`], deterministic and
//! without a language model.
//!
//! [`generate`] reads a prompt ("plate 100x60x5 with four M5 clearance
//! holes in the corners", "a 40 x 20 x 10 mm block with a 6 mm hole
//! through its centre and its vertical edges rounded 2 mm", or step by
//! step: "sketch a rectangle 75 by 50 mm and extrude it 20 mm; cut a circle
//! of diameter 12 mm at the centre through the whole block"), picks the
//! base from its part noun, reads the features every base shares, and
//! compiles the spec. A prompt that names no known part, lacks a main
//! dimension, gives a negative or absurd one, or has numbers the part
//! cannot use, is refused with [`NotUnderstood`] — the reader never falls
//! back to a default shape and never drops what the user said.
//!
//! Reading rules:
//! - Units: `mm`, `cm`, `m`, `in`/`inch`/`"`, `ft`. A number without a unit
//!   takes the unit of its `a x b x c` chain, else the prompt's only unit,
//!   else millimetres (the reply says so). `1/4`, `1 1/4`, "half-inch",
//!   "six inches" are read as numbers.
//! - Keywords may stand before or after their number: "diameter 20",
//!   "20 mm dia", "5 mm thick", "Ø6". "M6" is a metric thread size.
//! - Counts: "4 holes", "six 8 mm holes", "4 x M6 holes", "20 teeth";
//!   "a hole" is one hole.
//! - Relations: "a cylinder 40 mm across whose height is half its
//!   diameter", "twice as long as wide", "a hole a quarter of the width".
//! - Every number must be used: a prompt with a dimension, count, M size or
//!   "at the corners" the part has no use for is refused, not trimmed; so
//!   is a feature the reader does not make ("a slot", "a keyway"), a
//!   rounded or chamfered edge without its size, holes without a count
//!   ("with holes 6 mm"), and numbers joined by a hyphen ("1/4-20", a
//!   thread or a range).
//! - Phrases (split at "with", "and", "at", commas…) keep groups of holes
//!   apart: "four 5 mm holes in the corners and a 20 mm hole in the centre"
//!   is two groups, each with its own size and place; "rounded corners
//!   5 mm" rounds the corners without moving corner holes.
//! - Number words are numbers ("ten by twenty by thirty mm", "twenty-five");
//!   "2x", "3 times" and "50%" before a comparative are factors ("50%
//!   longer"); "20 mm wider" in a follow-up adds 20 mm.
//! - Round parts take "wide" and "across" as their diameter ("across" is
//!   a torus's outside); a torus is any two of ring (major), outer, inner
//!   and tube (minor) size.
//! - Holes: counts, sizes (mm, M sizes, tapped M sizes as tap-drill holes),
//!   at the corners or "N mm from the edges", at the centre, in a row
//!   ("spaced 50 mm apart"), in an "a x b grid", on a bolt circle (also on
//!   plates), at `(x, y)` points, or across a block ("front to back",
//!   "through the ends").
//!
//! Defaults for secondary dimensions (the reply lists each one used after
//! "defaults:"):
//! - hole diameter: 5.5 mm (M5 clearance); an M size gives its ISO 273
//!   medium clearance hole instead; corner holes sit 1.5 hole diameters
//!   from the edges; counterbores follow ISO 4762 socket heads for an M
//!   size, else 1.8 × the hole and one hole diameter deep;
//! - flange: 10 mm thick, 4 holes, bolt circle midway between bore (or
//!   centre) and rim;
//! - L-bracket: 3 mm thick; "with holes" means 2 (one per leg);
//! - enclosure: 2 mm walls, floor as thick as the walls;
//! - fillets and chamfers without named edges: all edges;
//! - spur gear: face width 8 modules; 20° pressure angle, full-depth teeth;
//! - from an M size: hex nuts per DIN 934 (hole = nominal size, thread not
//!   modelled), washers per ISO 7089, standoffs with the tap-drill hole and
//!   the nut's across-flats size.

mod catalogue;
mod lexer;
mod metric;
mod parts;
pub(crate) mod prompt;
pub(crate) mod vocab;

pub use catalogue::{CatalogueEntry, CATALOGUE};

use crate::compile::compile;
use crate::{Generated, NotUnderstood};
use vocab::Unit;

/// Prompts longer than this are refused: the reader reads one description.
pub const MAX_PROMPT_CHARS: usize = 2000;

/// Largest length accepted in a prompt (10 m): beyond it the prompt is
/// almost surely mis-read.
pub const MAX_LENGTH_MM: f64 = domain::spec::MAX_LENGTH_MM;

pub(crate) use metric::lookup as metric_size;
pub(crate) use parts::new_holes;

pub(crate) fn help() -> String {
    catalogue::help()
}

/// Reads a prompt into facts and refuses what no part can use: too long,
/// out of range, unsupported units, negative sizes, unresolved relations.
pub(crate) fn facts(prompt: &str) -> Result<prompt::Facts, NotUnderstood> {
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(NotUnderstood::new(format!(
            "The prompt is longer than {MAX_PROMPT_CHARS} characters; describe one part."
        )));
    }
    let facts = prompt::Facts::read(prompt);
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
    if let Some(reason) = facts.negative() {
        return Err(NotUnderstood::new(reason));
    }
    if let Some(what) = facts.unresolved.first() {
        return Err(NotUnderstood::new(format!(
            "I read {what}, but the prompt does not give that dimension."
        )));
    }
    Ok(facts)
}

/// Turns a prompt into a part.
///
/// ```
/// let g = cadgen::generate("box 2 by 3 by 4 cm").unwrap();
/// assert_eq!(g.part, "box");
/// assert_eq!(g.expected.volume_mm3, Some(24_000.0));
/// ```
///
/// A prompt that names a part but lacks a dimension it needs is refused
/// with a [`NotUnderstood::question`] to ask, whose answer completes this
/// prompt.
pub fn generate(prompt: &str) -> Result<Generated, NotUnderstood> {
    read_prompt(prompt).map(|(g, _)| g).map_err(|mut e| {
        if let Some(q) = &mut e.question {
            q.prompt = prompt.to_owned();
        }
        e
    })
}

/// [`generate`], with the defaults it chose for what the prompt left open
/// (as listed in the reply).
pub(crate) fn read_prompt(prompt: &str) -> Result<(Generated, Vec<String>), NotUnderstood> {
    let mut facts = facts(prompt)?;
    let Some(noun) = parts::detect(&facts) else {
        return Err(NotUnderstood::new(
            "I could not find a part I know how to make in the prompt.",
        ));
    };
    let (spec, defaults) = parts::build(noun, &mut facts)?;
    let leftovers = facts.leftovers();
    if !leftovers.is_empty() {
        return Err(NotUnderstood {
            reason: format!(
                "I read this as a {} but do not know what to do with: {}.",
                spec.part.replace('_', " "),
                leftovers.join(", ")
            ),
            part: Some(spec.part.clone()),
            question: None,
        });
    }
    if let Some((f, _)) = facts.factors.first() {
        return Err(NotUnderstood {
            reason: format!(
                "I read this as a {} but not which dimensions the factor {} relates.",
                spec.part.replace('_', " "),
                crate::compile::human(*f)
            ),
            part: Some(spec.part.clone()),
            question: None,
        });
    }
    let mut g = compile(&spec)?;
    g.reply = reply(&g.reply, &defaults, facts.bare_numbers);
    Ok((g, defaults))
}

/// The compiled description with the defaults used and how bare numbers
/// were read.
pub(crate) fn reply(description: &str, defaults: &[String], bare: Option<Unit>) -> String {
    let mut text = description.to_string();
    if !defaults.is_empty() {
        text.push_str(&format!(" (defaults: {})", defaults.join(", ")));
    }
    text.push('.');
    if let Some(unit) = bare {
        let name = match unit {
            Unit::Mm => "millimetres",
            Unit::Cm => "centimetres",
            Unit::M => "metres",
            Unit::In => "inches",
            Unit::Ft => "feet",
        };
        text.push_str(&format!(" Numbers without a unit were read as {name}."));
    }
    text
}
