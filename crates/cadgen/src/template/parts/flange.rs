//! Round flange: a disc with bolt holes evenly spaced on a bolt circle and
//! an optional centre bore.

use crate::template::catalogue;
use crate::template::script::{counted, human, Script};
use crate::template::vocab::Role;
use crate::template::{Generated, NotUnderstood};

use super::shapes::{circle_area, cut_holes_z, ring};
use super::{Ctx, MIN_WEB_MM};

/// Flange thickness when the prompt gives none.
const DEFAULT_THICKNESS_MM: f64 = 10.0;

/// Bolt holes when the prompt mentions none or gives no count.
const DEFAULT_HOLE_COUNT: u32 = 4;

pub(crate) fn flange(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    let outer = f
        .take_diameter(
            &[Role::OuterDiameter, Role::Diameter],
            &[Role::OuterRadius, Role::Radius],
        )
        .or_else(|| f.take_bare());
    let thickness = f.take(&[Role::Thickness, Role::Height, Role::Length]);
    let bore = f.take_diameter(&[Role::Bore, Role::InnerDiameter], &[Role::InnerRadius]);
    let circle = f.take(&[Role::BoltCircle]);
    let outer = cx.need(outer, "outer diameter")?;
    let thickness = cx.or_default(thickness, DEFAULT_THICKNESS_MM, "thickness")?;
    let bore = bore.map(|b| cx.need(Some(b), "bore")).transpose()?;
    let count = match cx.hole_count(DEFAULT_HOLE_COUNT, 64)? {
        Some(n) => n,
        None => {
            cx.defaults.push(format!("{DEFAULT_HOLE_COUNT} holes"));
            DEFAULT_HOLE_COUNT
        }
    };
    let d = cx.hole_diameter()?;
    let bore_d = bore.unwrap_or(0.0);
    let circle = cx.or_default(circle, (outer + bore_d) / 2.0, "bolt circle")?;

    let (r, hole_r) = (circle / 2.0, d / 2.0);
    cx.ensure(r + hole_r + MIN_WEB_MM <= outer / 2.0, || {
        format!(
            "Ø{} mm holes on a Ø{} mm bolt circle run off a Ø{} mm flange.",
            human(d),
            human(circle),
            human(outer)
        )
    })?;
    cx.ensure(bore_d / 2.0 + MIN_WEB_MM <= r - hole_r, || {
        format!(
            "Ø{} mm holes on a Ø{} mm bolt circle cut into the Ø{} mm bore.",
            human(d),
            human(circle),
            human(bore_d)
        )
    })?;
    let chord = circle * (std::f64::consts::PI / f64::from(count)).sin();
    cx.ensure(count < 2 || chord >= d + MIN_WEB_MM, || {
        format!(
            "{} of Ø{} mm overlap on a Ø{} mm bolt circle.",
            counted(count, "hole", "holes"),
            human(d),
            human(circle)
        )
    })?;

    let mut s = Script::new(catalogue::FLANGE.name);
    s.length("OUTER_DIAMETER", outer, "")
        .length("THICKNESS", thickness, "along Z");
    match bore {
        Some(b) => {
            s.length("BORE_DIAMETER", b, "centre bore");
            ring(&mut s, "OUTER_DIAMETER", "BORE_DIAMETER", "THICKNESS");
        }
        None => {
            s.body("shape = Part.makeCylinder(OUTER_DIAMETER / 2, THICKNESS)");
        }
    }
    s.length("BOLT_CIRCLE", circle, "diameter through the hole centres")
        .length("HOLE_DIAMETER", d, "bolt holes")
        .count("HOLE_COUNT", count, "bolt holes, evenly spaced");
    s.body(
        "# The first hole sits on +X, the others follow at equal angles.\n\
         angles = [2 * math.pi * i / HOLE_COUNT for i in range(HOLE_COUNT)]\n\
         hole_centres = [(BOLT_CIRCLE / 2 * math.cos(a), BOLT_CIRCLE / 2 * math.sin(a)) for a in angles]",
    );
    cut_holes_z(&mut s, "hole_centres", "HOLE_DIAMETER", "THICKNESS");

    let bore_text = bore.map_or(String::new(), |b| format!(" and a Ø{} mm bore", human(b)));
    let holes = counted(
        count,
        &format!("Ø{} mm hole", human(d)),
        &format!("Ø{} mm holes", human(d)),
    );
    let summary = cx.summary(format!(
        "Flange Ø{} × {} mm with {holes} on a Ø{} mm bolt circle{bore_text}",
        human(outer),
        human(thickness),
        human(circle)
    ));
    let area = circle_area(outer) - circle_area(bore_d) - f64::from(count) * circle_area(d);
    Ok(s.finish(summary, area * thickness))
}
