//! Requirements for a script the compiler did not write: what a prompt
//! states about the part, as [`Expectations`] the built model is verified
//! against.
//!
//! A language model's raw FreeCAD script comes with no promises of its own,
//! so the offline reader reads the prompt and the model is held to what the
//! reader is certain of. Certain means the prompt itself says it: a value
//! the reader chose for something the prompt left open (a default hole
//! diameter, a flange's thickness, a table size behind "M6") is not a
//! requirement, and neither is anything in a prompt the reader refuses. A
//! script may build the part lying on any face, so the bounding box is
//! compared orientation-free.

use domain::Expectations;

use crate::compile::human;

/// What the built model must measure according to the prompt alone, or
/// `None` when the prompt states nothing the reader is sure of.
///
/// ```
/// let r = cadgen::requirements("a 40 x 20 x 10 mm plate with a 6 mm through hole").unwrap();
/// assert_eq!(r.bbox_mm, Some([40.0, 20.0, 10.0]));
/// assert_eq!(r.through_holes, Some(1));
/// assert!(r.orientation_free);
/// ```
pub fn requirements(prompt: &str) -> Option<Expectations> {
    let (g, defaults) = crate::read::read_prompt(prompt).ok()?;
    let facts = crate::read::facts(prompt).ok()?;
    // The reader skips words it has no meaning for; a prompt it read as a
    // plate may still ask for "a dragon on top". Only a prompt whose every
    // other word is filler is read fully enough to bind the model.
    if facts.unknown_words.iter().any(|w| !FILLER.contains(&w.as_str())) {
        return None;
    }
    let thread_size = facts.peek_thread().is_some();
    // A default for a hole count ("4 holes") leaves the count open; any
    // other default (a diameter, an inset, edges to round) changes the
    // volume; a default thickness changes the box too. Standard tables
    // behind an M size differ between standards, so they bind nothing but
    // the count.
    let count_open = defaults.iter().any(|d| d.ends_with(" hole") || d.ends_with(" holes"));
    let size_open = thread_size || defaults.iter().any(|d| d.starts_with("thickness"));
    // A gear's tooth form is the compiler's choice, not the prompt's.
    let volume_open = !defaults.is_empty() || thread_size || g.part.contains("gear");
    let expected = Expectations {
        volume_mm3: g.expected.volume_mm3.filter(|_| !volume_open),
        volume_tolerance: g.expected.volume_tolerance,
        bbox_mm: g.expected.bbox_mm.filter(|_| !size_open),
        through_holes: g.expected.through_holes.filter(|_| !count_open),
        solids: Some(1),
        orientation_free: true,
        ..Expectations::default()
    };
    let states_something =
        expected.volume_mm3.is_some() || expected.bbox_mm.is_some() || expected.through_holes.is_some();
    states_something.then_some(expected)
}

/// Where the expectations of a part built another way (a language model's
/// spec) contradict what the prompt states, one line each; empty when they
/// agree. Only what `required` states is compared.
pub fn contradictions(required: &Expectations, promised: &Expectations) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(want), Some(got)) = (required.volume_mm3, promised.volume_mm3) {
        if (got - want).abs() > required.volume_tolerance * want.abs() {
            out.push(format!(
                "the volume is {} mm³, the prompt's part has {} mm³",
                human(got.round()),
                human(want.round())
            ));
        }
    }
    if let (Some(want), Some(got)) = (required.bbox_mm, promised.bbox_mm) {
        let (mut want_sorted, mut got_sorted) = (want, got);
        if required.orientation_free {
            want_sorted.sort_by(f64::total_cmp);
            got_sorted.sort_by(f64::total_cmp);
        }
        let off = want_sorted
            .iter()
            .zip(got_sorted)
            .any(|(w, g)| (w - g).abs() > required.bbox_tolerance_mm);
        if off {
            let extents = |b: [f64; 3]| format!("{} × {} × {} mm", human(b[0]), human(b[1]), human(b[2]));
            out.push(format!(
                "the part measures {}, the prompt says {}",
                extents(got),
                extents(want)
            ));
        }
    }
    if let (Some(want), Some(got)) = (required.through_holes, promised.through_holes) {
        if want != got {
            out.push(format!(
                "the part has {}, the prompt asks for {}",
                crate::compile::counted(got, "through hole", "through holes"),
                crate::compile::counted(want, "through hole", "through holes")
            ));
        }
    }
    out
}

/// Words that say nothing about the shape.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "with",
    "and",
    "of",
    "in",
    "on",
    "at",
    "its",
    "it",
    "to",
    "for",
    "is",
    "that",
    "which",
    "has",
    "having",
    "make",
    "makes",
    "create",
    "design",
    "model",
    "build",
    "draw",
    "please",
    "me",
    "i",
    "want",
    "need",
    "simple",
    "plain",
    "solid",
    "part",
    "shape",
    "new",
    "one",
    "piece",
    "just",
    "some",
    "each",
    "all",
    "are",
    "be",
    "should",
    "will",
    "can",
    "you",
    "from",
    "into",
    "by",
    "as",
    "this",
    "so",
    "then",
    "there",
    "them",
    "they",
    "their",
    "size",
    "sized",
    "overall",
    "measuring",
    "measures",
    "dimensions",
    "total",
];

/// One sentence naming the requirements a model is checked against:
/// "Checked against the prompt: volume 7 717 mm³ ± 0.5 %, 40 × 20 × 10 mm
/// bounding box (any orientation), one through hole."
pub fn describe_requirements(expected: &Expectations) -> String {
    let mut parts = Vec::new();
    if let Some(v) = expected.volume_mm3 {
        parts.push(format!(
            "volume {} mm³ ± {} %",
            human(v.round()),
            human(expected.volume_tolerance * 100.0)
        ));
    }
    if let Some([x, y, z]) = expected.bbox_mm {
        let orientation = if expected.orientation_free {
            " (any orientation)"
        } else {
            ""
        };
        parts.push(format!(
            "{} × {} × {} mm bounding box{orientation}",
            human(x),
            human(y),
            human(z)
        ));
    }
    if let Some(n) = expected.through_holes {
        parts.push(crate::compile::counted(n, "through hole", "through holes"));
    }
    parts.push(crate::compile::counted(expected.solids.unwrap_or(1), "solid", "solids"));
    format!("Checked against the prompt: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_stated_prompt_binds_volume_box_and_holes() {
        let r = requirements("a 40 x 20 x 10 mm plate with a 6 mm through hole").unwrap();
        let volume = r.volume_mm3.unwrap();
        assert!(
            (volume - (8000.0 - std::f64::consts::PI * 9.0 * 10.0)).abs() < 1e-6,
            "{volume}"
        );
        assert_eq!(r.bbox_mm, Some([40.0, 20.0, 10.0]));
        assert_eq!(r.through_holes, Some(1));
        assert_eq!(r.solids, Some(1));
        assert!(r.orientation_free);
        assert_eq!(
            describe_requirements(&r),
            "Checked against the prompt: volume 7717 mm³ ± 0.5 %, 40 × 20 × 10 mm bounding box (any orientation), \
             one through hole, one solid."
        );
    }

    #[test]
    fn a_default_hole_diameter_drops_the_volume_but_not_the_box_or_count() {
        let r = requirements("plate 100x60x5 with four holes in the corners").unwrap();
        assert_eq!(r.volume_mm3, None, "the hole diameter was the reader's choice");
        assert_eq!(r.bbox_mm, Some([100.0, 60.0, 5.0]));
        assert_eq!(r.through_holes, Some(4));
    }

    #[test]
    fn a_default_thickness_drops_the_box() {
        let r = requirements("a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle").unwrap();
        assert_eq!(r.volume_mm3, None);
        assert_eq!(r.bbox_mm, None, "the thickness was the reader's choice");
        assert_eq!(r.through_holes, Some(6));
    }

    #[test]
    fn a_default_hole_count_drops_the_count() {
        let r = requirements("a flange 80 mm across and 10 mm thick with holes").unwrap();
        assert_eq!(r.through_holes, None, "{r:?}");
        assert_eq!(r.bbox_mm, Some([80.0, 80.0, 10.0]));
    }

    #[test]
    fn thread_sizes_bind_only_the_count() {
        let r = requirements("hex nut M6").unwrap();
        assert_eq!((r.volume_mm3, r.bbox_mm), (None, None), "{r:?}");
    }

    #[test]
    fn a_refused_prompt_states_nothing() {
        assert_eq!(requirements("a dragon breathing fire"), None);
        assert_eq!(requirements("a 40 x 20 x 10 mm plate with a dragon on top"), None);
    }

    #[test]
    fn catalogue_prompts_are_read_fully() {
        for prompt in [
            "box 2 by 3 by 4 cm",
            "tube outer diameter 30 mm inner diameter 24 mm length 80 mm",
            "sphere radius 15 mm",
            "washer 20 mm outer 8.4 mm inner 2 mm thick",
            "enclosure 100 x 60 x 40 mm wall 2 mm",
            "a 40 x 20 x 10 mm block with a 6 mm hole through its centre",
        ] {
            let r = requirements(prompt);
            assert!(r.is_some_and(|r| r.volume_mm3.is_some()), "{prompt}");
        }
    }

    #[test]
    fn a_part_built_otherwise_is_compared_with_the_prompt() {
        let required = requirements("a 40 x 20 x 10 mm plate with a 6 mm through hole").unwrap();
        let turned = crate::generate("a 20 x 40 x 10 mm plate with a 6 mm through hole").unwrap();
        assert!(contradictions(&required, &turned.expected).is_empty());
        let thick = crate::generate("a 40 x 20 x 12 mm plate with two 6 mm through holes").unwrap();
        let found = contradictions(&required, &thick.expected);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[1].contains("40 × 20 × 12 mm"), "{found:?}");
        assert!(found[2].contains("two through holes"), "{found:?}");
    }

    #[test]
    fn plain_solids_are_bound_exactly() {
        let r = requirements("cylinder diameter 20mm height 50mm").unwrap();
        let v = r.volume_mm3.unwrap();
        assert!((v - std::f64::consts::PI * 100.0 * 50.0).abs() < 1e-6);
        assert_eq!(r.bbox_mm, Some([20.0, 20.0, 50.0]));
    }
}
