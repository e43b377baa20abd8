//! Solids of revolution: cylinder / rod / disc, tube / pipe, washer,
//! sphere and cone / frustum.

use crate::template::catalogue;
use crate::template::metric;
use crate::template::script::{human, Script};
use crate::template::vocab::{Flag, Role};
use crate::template::{Generated, NotUnderstood};

use super::shapes::{circle_area, ring};
use super::Ctx;

/// Name of the axial dimension in the way people say it for this noun.
fn axis_name(word: &str) -> (&'static str, &'static str) {
    match word {
        "Rod" | "Shaft" | "Dowel" | "Pin" | "Tube" | "Pipe" | "Sleeve" | "Bushing" => ("LENGTH", "length"),
        "Disc" | "Washer" | "Ring" => ("THICKNESS", "thickness"),
        _ => ("HEIGHT", "height"),
    }
}

/// Cylinder, rod, disc: diameter (or radius) and height / length.
/// "cylinder 20 x 50" reads diameter × height; a single unlabelled size is
/// the diameter, a second one the height.
pub(crate) fn cylinder(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    let mut d = f.take_diameter(
        &[Role::Diameter, Role::OuterDiameter],
        &[Role::Radius, Role::OuterRadius],
    );
    let mut h = f.take(&[Role::Height, Role::Length, Role::Thickness, Role::Depth]);
    if d.is_none() && h.is_none() {
        if let Some(c) = f.take_chain(2) {
            (d, h) = (Some(c[0]), Some(c[1]));
        }
    }
    let d = d.or_else(|| f.take_bare());
    let h = h.or_else(|| f.take_bare());
    let (axis, axis_word) = axis_name(cx.noun.word);
    let (d, h) = (cx.need(d, "diameter")?, cx.need(h, axis_word)?);

    let mut s = Script::new(catalogue::CYLINDER.name);
    s.length("DIAMETER", d, "").length(axis, h, "along Z");
    s.body(&format!("shape = Part.makeCylinder(DIAMETER / 2, {axis})"));
    let summary = cx.summary(format!("{} Ø{} × {} mm", cx.noun.word, human(d), human(h)));
    Ok(s.finish(summary, circle_area(d) * h))
}

/// Tube / pipe: outer diameter with inner diameter or wall, and length.
pub(crate) fn tube(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    f.take_flag(Flag::Open);
    let outer = f.take_diameter(
        &[Role::OuterDiameter, Role::Diameter],
        &[Role::OuterRadius, Role::Radius],
    );
    let inner = f.take_diameter(&[Role::InnerDiameter, Role::Bore, Role::Hole], &[Role::InnerRadius]);
    let wall = if inner.is_none() { f.take(&[Role::Wall]) } else { None };
    let len = f
        .take(&[Role::Length, Role::Height, Role::Depth])
        .or_else(|| f.take_bare());
    cx.take_single_hole()?;
    let (axis, axis_word) = axis_name(cx.noun.word);
    let outer = cx.need(outer, "outer diameter")?;
    let len = cx.need(len, axis_word)?;

    let mut s = Script::new(catalogue::TUBE.name);
    s.length("OUTER_DIAMETER", outer, "");
    let inner = match wall {
        Some(wall) => {
            let wall = cx.need(Some(wall), "wall")?;
            s.length("WALL", wall, "wall thickness");
            s.body("inner_diameter = OUTER_DIAMETER - 2 * WALL");
            outer - 2.0 * wall
        }
        None => {
            let inner = cx.need(inner, "inner diameter or wall thickness")?;
            s.length("INNER_DIAMETER", inner, "");
            inner
        }
    };
    cx.ensure(inner > 0.0 && inner < outer, || {
        format!(
            "The inner diameter must lie between 0 and the outer Ø{} mm.",
            human(outer)
        )
    })?;
    s.length(axis, len, "along Z");
    let inner_name = if wall.is_some() {
        "inner_diameter"
    } else {
        "INNER_DIAMETER"
    };
    ring(&mut s, "OUTER_DIAMETER", inner_name, axis);
    let summary = cx.summary(format!(
        "{} Ø{} / Ø{} mm × {} mm long",
        cx.noun.word,
        human(outer),
        human(inner),
        human(len)
    ));
    Ok(s.finish(summary, (circle_area(outer) - circle_area(inner)) * len))
}

/// Flat washer: outer, inner diameter and thickness, or an ISO 7089 size
/// ("M8 washer") whose values any given dimension overrides.
pub(crate) fn washer(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let standard = match cx.facts.take_thread() {
        Some(size) => Some(metric::lookup(size).ok_or_else(|| cx.unknown_thread(size))?),
        None => None,
    };
    let f = &mut *cx.facts;
    let outer = f.take_diameter(
        &[Role::OuterDiameter, Role::Diameter],
        &[Role::OuterRadius, Role::Radius],
    );
    let inner = f.take_diameter(&[Role::InnerDiameter, Role::Hole, Role::Bore], &[Role::InnerRadius]);
    let thickness = f.take(&[Role::Thickness, Role::Height]);
    cx.take_single_hole()?;
    let outer = cx.need(outer.or(standard.map(|m| m.washer_outer)), "outer diameter")?;
    let inner = cx.need(inner.or(standard.map(|m| m.washer_inner)), "inner diameter")?;
    let thickness = cx.need(thickness.or(standard.map(|m| m.washer_thickness)), "thickness")?;
    cx.ensure(inner < outer, || {
        format!(
            "The hole Ø{} mm must be smaller than the washer Ø{} mm.",
            human(inner),
            human(outer)
        )
    })?;

    let mut s = Script::new(catalogue::WASHER.name);
    s.length("OUTER_DIAMETER", outer, "")
        .length("INNER_DIAMETER", inner, "")
        .length("THICKNESS", thickness, "along Z");
    ring(&mut s, "OUTER_DIAMETER", "INNER_DIAMETER", "THICKNESS");
    let size = standard.map_or(String::new(), |m| format!(" for M{}", human(m.size)));
    let summary = cx.summary(format!(
        "{}{size} Ø{} / Ø{} mm, {} mm thick",
        cx.noun.word,
        human(outer),
        human(inner),
        human(thickness)
    ));
    Ok(s.finish(summary, (circle_area(outer) - circle_area(inner)) * thickness))
}

/// Sphere / ball: radius or diameter (a lone size is the diameter).
pub(crate) fn sphere(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    let d = f
        .take_diameter(
            &[Role::Diameter, Role::OuterDiameter],
            &[Role::Radius, Role::OuterRadius],
        )
        .or_else(|| f.take_bare());
    let d = cx.need(d, "diameter or radius")?;
    let r = d / 2.0;
    let mut s = Script::new(catalogue::SPHERE.name);
    s.length("RADIUS", r, "");
    s.body("shape = Part.makeSphere(RADIUS)");
    let summary = cx.summary(format!("{} Ø{} mm", cx.noun.word, human(d)));
    Ok(s.finish(summary, 4.0 / 3.0 * std::f64::consts::PI * r.powi(3)))
}

/// Cone / frustum: bottom and top diameter (top 0 for a pointed cone) and
/// height.
pub(crate) fn cone(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let f = &mut *cx.facts;
    let bottom = f.take_diameter(
        &[Role::BottomDiameter, Role::Diameter, Role::OuterDiameter],
        &[Role::BottomRadius, Role::Radius],
    );
    let top = f.take_diameter(&[Role::TopDiameter], &[Role::TopRadius]);
    let h = f.take(&[Role::Height, Role::Length]);
    let bottom = cx.need(bottom, "bottom diameter")?;
    let h = cx.need(h, "height")?;
    let top = match top {
        Some(t) if t >= 0.0 => t,
        Some(_) => return Err(cx.refuse("The top diameter cannot be negative.")),
        None if cx.noun.word == "Frustum" => return Err(cx.refuse("A frustum needs its top diameter.")),
        None => 0.0,
    };
    cx.ensure((top - bottom).abs() > 1e-6, || {
        "With equal top and bottom diameters that is a cylinder; ask for a cylinder.".into()
    })?;

    let mut s = Script::new(catalogue::CONE.name);
    s.length("BOTTOM_DIAMETER", bottom, "at Z = 0")
        .length("TOP_DIAMETER", top, "at Z = HEIGHT, 0 for a point")
        .length("HEIGHT", h, "along Z");
    s.body("shape = Part.makeCone(BOTTOM_DIAMETER / 2, TOP_DIAMETER / 2, HEIGHT)");
    let shape = if top > 0.0 {
        format!("{} Ø{} → Ø{} mm", cx.noun.word, human(bottom), human(top))
    } else {
        format!("{} Ø{} mm", cx.noun.word, human(bottom))
    };
    let summary = cx.summary(format!("{shape}, {} mm high", human(h)));
    let volume = std::f64::consts::PI * h / 12.0 * (bottom * bottom + bottom * top + top * top);
    Ok(s.finish(summary, volume))
}
