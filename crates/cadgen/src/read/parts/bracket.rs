//! L-bracket: an L profile with a base leg along X and an upright leg along
//! Z sharing one corner, extruded along Y, with holes centred in the free
//! part of each leg.

use domain::spec::{Axis, Base, Feature, PartSpec, Positions, ProfileShape};

use super::Ctx;
use crate::read::vocab::{Counted, Flag, Role};
use crate::NotUnderstood;

/// Leg thickness when the prompt gives none.
const DEFAULT_THICKNESS_MM: f64 = 3.0;

/// Holes when the prompt says "with holes" but not how many: one per leg.
const DEFAULT_HOLE_COUNT: u32 = 2;

/// Reads "L-bracket 50 x 40 x 30" as length (base leg) × height (upright
/// leg) × width, or "50 mm legs, 30 mm wide". Holes alternate between the
/// legs, base leg first ("two holes in each leg" is four), and are spread
/// evenly across the width.
pub(crate) fn l_bracket(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    let (l, h, w) = match f.take_chain(3) {
        Some(c) => (Some(c[0]), Some(c[1]), Some(c[2])),
        // "80 by 60 mm legs, 25 mm wide".
        None if f.has_chain() => match f.take_chain(2) {
            Some(c) => (Some(c[0]), Some(c[1]), f.take(&[Role::Width, Role::Depth])),
            None => (None, None, None),
        },
        None => {
            let legs = f.take(&[Role::Size]);
            (
                f.take(&[Role::Length]).or(legs),
                f.take(&[Role::Height]).or(legs),
                f.take(&[Role::Width, Role::Depth]),
            )
        }
    };
    // "L bracket 40x40x20 2mm": a number left after the sizes is the
    // thickness, unless it could be the size of holes that have none.
    let sized = !f.has_count(Counted::Holes) || f.has_role(&[Role::Hole]) || f.peek_thread().is_some();
    let t = f
        .take(&[Role::Thickness, Role::Wall])
        .or_else(|| sized.then(|| f.take_bare()).flatten());
    let (l, h, w) = (cx.need(l, "length")?, cx.need(h, "height")?, cx.need(w, "width")?);
    let t = cx.or_default(t, DEFAULT_THICKNESS_MM, "thickness")?;
    let mut spec = PartSpec::new(
        "l_bracket",
        Base::Profile {
            profile: ProfileShape::L {
                width: l,
                height: h,
                thickness: t,
            },
            length: w,
        },
    );
    let count = match cx.facts.take_count(Counted::Holes) {
        None => 0,
        // "two holes in each leg".
        Some(Some(n)) if cx.facts.take_flag(Flag::EachLeg) => 2 * n,
        Some(Some(n)) => n,
        Some(None) => {
            cx.defaults.push(format!("{DEFAULT_HOLE_COUNT} holes"));
            DEFAULT_HOLE_COUNT
        }
    };
    if count > 0 {
        let d = cx.hole_diameter(false)?;
        let (base, upright) = (count.div_ceil(2), count / 2);
        let row = |n: u32, across: f64| Positions::Linear {
            start: [w / f64::from(n) / 2.0, across],
            step: [w / f64::from(n), 0.0],
            count: n,
        };
        // Base-leg holes go down along Z at (x, y); upright ones along X at (y, z).
        let base_x = t + (l - t) / 2.0;
        let at = match row(base, 0.0) {
            Positions::Linear { start, step, count } => Positions::Linear {
                start: [base_x, start[0]],
                step: [0.0, step[0]],
                count,
            },
            other => other,
        };
        spec.features.push(Feature::Hole {
            name: "hole".into(),
            diameter: d,
            depth: None,
            counterbore: None,
            axis: Axis::Z,
            at,
        });
        if upright > 0 {
            spec.features.push(Feature::Hole {
                name: "upright_hole".into(),
                diameter: d,
                depth: None,
                counterbore: None,
                axis: Axis::X,
                at: row(upright, t + (h - t) / 2.0),
            });
        }
    }
    Ok(spec)
}
