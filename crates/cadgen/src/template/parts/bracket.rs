//! L-bracket: a base leg along X and an upright leg along Z sharing one
//! corner, with holes centred in the free part of each leg.

use crate::template::catalogue;
use crate::template::script::{counted, dims, human, Script};
use crate::template::vocab::Role;
use crate::template::{Generated, NotUnderstood};

use super::shapes::{circle_area, cut_holes_z, holes_fit};
use super::Ctx;

/// Leg thickness when the prompt gives none.
const DEFAULT_THICKNESS_MM: f64 = 3.0;

/// Holes when the prompt says "with holes" but not how many: one per leg.
const DEFAULT_HOLE_COUNT: u32 = 2;

/// Reads "L-bracket 50 x 40 x 30" as length (base leg) × height (upright
/// leg) × width. Holes alternate between the legs, base leg first, and are
/// spread evenly across the width.
pub(crate) fn l_bracket(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    let (l, h, w) = match f.take_chain(3) {
        Some(c) => (Some(c[0]), Some(c[1]), Some(c[2])),
        None => (
            f.take(&[Role::Length]),
            f.take(&[Role::Height]),
            f.take(&[Role::Width, Role::Depth]),
        ),
    };
    let t = f.take(&[Role::Thickness, Role::Wall]);
    let (l, h, w) = (cx.need(l, "length")?, cx.need(h, "height")?, cx.need(w, "width")?);
    let t = cx.or_default(t, DEFAULT_THICKNESS_MM, "thickness")?;
    cx.ensure(t < l && t < h, || {
        format!("A {} mm thickness leaves no leg on {}.", human(t), dims(&[l, h, w]))
    })?;
    let count = cx.hole_count(DEFAULT_HOLE_COUNT, 20)?.unwrap_or(0);
    let d = if count > 0 { cx.hole_diameter()? } else { 0.0 };
    let (base_holes, upright_holes) = (count.div_ceil(2), count / 2);

    // Each leg's free area (beyond the other leg) as a width × span rectangle.
    let row = |n: u32, span: f64| -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| ((f64::from(i) + 0.5) * w / f64::from(n), span / 2.0))
            .collect()
    };
    let fits = holes_fit(&row(base_holes, l - t), d, w, l - t) && holes_fit(&row(upright_holes, h - t), d, w, h - t);
    cx.ensure(fits, || {
        format!(
            "{} of Ø{} mm do not fit on the legs of {}.",
            counted(count, "hole", "holes"),
            human(d),
            dims(&[l, h, w])
        )
    })?;

    let mut s = Script::new(catalogue::L_BRACKET.name);
    s.length("LENGTH", l, "base leg, along X")
        .length("HEIGHT", h, "upright leg, along Z")
        .length("WIDTH", w, "along Y")
        .length("THICKNESS", t, "both legs");
    s.body(
        "base = Part.makeBox(LENGTH, WIDTH, THICKNESS)\n\
         upright = Part.makeBox(THICKNESS, WIDTH, HEIGHT)\n\
         shape = base.fuse(upright).removeSplitter()",
    );
    if count > 0 {
        s.length("HOLE_DIAMETER", d, "")
            .count("BASE_HOLES", base_holes, "holes in the base leg")
            .count("UPRIGHT_HOLES", upright_holes, "holes in the upright leg");
        s.body(
            "# Holes sit in the middle of each leg's free part, spread across the width.\n\
             base_x = THICKNESS + (LENGTH - THICKNESS) / 2\n\
             hole_centres = [(base_x, (i + 0.5) * WIDTH / BASE_HOLES) for i in range(BASE_HOLES)]",
        );
        cut_holes_z(&mut s, "hole_centres", "HOLE_DIAMETER", "THICKNESS");
        s.body(
            "upright_z = THICKNESS + (HEIGHT - THICKNESS) / 2\n\
             for i in range(UPRIGHT_HOLES):\n    \
                 y = (i + 0.5) * WIDTH / UPRIGHT_HOLES\n    \
                 drill = Part.makeCylinder(HOLE_DIAMETER / 2, THICKNESS + 2, Vector(-1, y, upright_z), Vector(1, 0, 0))\n    \
                 shape = shape.cut(drill)",
        );
    }

    let holes = if count > 0 {
        format!(
            ", with {}",
            counted(
                count,
                &format!("Ø{} mm hole", human(d)),
                &format!("Ø{} mm holes", human(d))
            )
        )
    } else {
        String::new()
    };
    let summary = cx.summary(format!(
        "L-bracket {} (length × height × width), {} mm thick{holes}",
        dims(&[l, h, w]),
        human(t)
    ));
    let volume = w * t * (l + h - t) - f64::from(count) * circle_area(d) * t;
    Ok(s.finish(summary, volume))
}
