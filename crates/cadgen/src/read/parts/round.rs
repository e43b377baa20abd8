//! Round bases: cylinder / rod / disc, tube / pipe, washer, sphere, cone /
//! frustum and torus.

use domain::spec::{Base, PartSpec};

use super::{Ctx, Face};
use crate::compile::human;
use crate::read::metric;
use crate::read::vocab::{Flag, Role};
use crate::NotUnderstood;

/// Name of the axial dimension in the way people say it for this noun.
fn axis_word(word: &str) -> &'static str {
    match word {
        "Rod" | "Shaft" | "Dowel" | "Pin" | "Tube" | "Pipe" | "Sleeve" | "Bushing" => "length",
        "Disc" | "Washer" | "Ring" | "Plate" => "thickness",
        _ => "height",
    }
}

/// Cylinder, rod, disc: diameter (or radius) and height / length.
/// "cylinder 20 x 50" reads diameter × height; a single unlabelled size is
/// the diameter, a second one the height.
pub(crate) fn cylinder(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    cx.facts.take_flag(Flag::Round);
    let f = &mut *cx.facts;
    // "5 mm wide" is the diameter of a round part.
    let mut d = f
        .take_diameter(
            &[Role::Diameter, Role::OuterDiameter],
            &[Role::Radius, Role::OuterRadius],
        )
        .or_else(|| f.take(&[Role::Width]));
    let mut h = f.take(&[Role::Height, Role::Length, Role::Thickness, Role::Depth]);
    if d.is_none() && h.is_none() {
        if let Some(c) = f.take_chain(2) {
            (d, h) = (Some(c[0]), Some(c[1]));
        }
    }
    let d = d.or_else(|| f.take_bare());
    let h = h.or_else(|| f.take_bare());
    let (d, h) = (cx.need(d, "diameter")?, cx.need(h, axis_word(cx.noun.word))?);
    let mut spec = PartSpec::new(cx.part, Base::Cylinder { diameter: d, height: h });
    // "a disc with a 5 mm centre hole": a bore on the axis.
    spec.features.extend(cx.centre_bore([0.0, 0.0], false)?);
    spec.features.extend(cx.all_holes(Face::Round { d }, "hole")?);
    Ok(spec)
}

/// Tube / pipe: outer diameter with inner diameter or wall, and length.
pub(crate) fn tube(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    f.take_flag(Flag::Open);
    let outer = f
        .take_diameter(
            &[Role::OuterDiameter, Role::Diameter],
            &[Role::OuterRadius, Role::Radius],
        )
        .or_else(|| f.take(&[Role::Width]));
    let inner = f.take_diameter(&[Role::InnerDiameter, Role::Bore, Role::Hole], &[Role::InnerRadius]);
    let wall = if inner.is_none() || outer.is_none() {
        f.take(&[Role::Wall])
    } else {
        None
    };
    let len = f
        .take(&[Role::Length, Role::Height, Role::Depth])
        .or_else(|| f.take_bare());
    single_hole(cx)?;
    let (outer, inner) = match (outer, inner, wall) {
        // "2 in ID, 1/8 in wall": the outside follows.
        (None, Some(i), Some(w)) => {
            let (i, w) = (cx.need(Some(i), "inner diameter")?, cx.need(Some(w), "wall")?);
            (i + 2.0 * w, i)
        }
        (outer, inner, wall) => {
            let outer = cx.need(outer, "outer diameter")?;
            let inner = match wall {
                Some(wall) => outer - 2.0 * cx.need(Some(wall), "wall")?,
                None => cx.need(inner, "inner diameter or wall thickness")?,
            };
            (outer, inner)
        }
    };
    let len = cx.need(len, axis_word(cx.noun.word))?;
    cx.ensure(inner > 0.0 && inner < outer, || {
        format!(
            "The inner diameter must lie between 0 and the outer Ø{} mm.",
            human(outer)
        )
    })?;
    Ok(PartSpec::new(
        cx.part,
        Base::Tube {
            outer_diameter: outer,
            inner_diameter: inner,
            height: len,
        },
    ))
}

/// Parts with one centre hole accept "a hole" / "an 8 mm hole"; any other
/// count is refused rather than ignored.
pub(crate) fn single_hole(cx: &mut Ctx) -> Result<(), NotUnderstood> {
    use crate::read::vocab::Counted;
    match cx.facts.take_count(Counted::Holes) {
        None | Some(None | Some(1)) => Ok(()),
        Some(Some(n)) => Err(cx.refuse(format!("A {} has one centre hole, not {n}.", cx.part.replace('_', " ")))),
    }
}

/// Spheres and cones take no holes: the compiler cuts holes only into
/// extruded parts. Said so, rather than listing the hole as not understood.
fn no_holes(cx: &mut Ctx) -> Result<(), NotUnderstood> {
    use crate::read::vocab::Counted;
    let holes = cx.facts.take_count(Counted::Holes).is_some() || !cx.facts.take_points().is_empty();
    cx.ensure(!holes, || {
        format!(
            "I cannot drill holes in a {}: holes work on blocks, plates, cylinders, tubes and prisms.",
            cx.noun.word.to_lowercase()
        )
    })
}

/// Flat washer: outer, inner diameter and thickness, or an ISO 7089 size
/// ("M8 washer") whose values any given dimension overrides.
pub(crate) fn washer(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let standard = match cx.facts.take_thread() {
        Some(size) => Some(metric::lookup(size).ok_or_else(|| cx.unknown_thread(size))?),
        None => None,
    };
    let f = &mut *cx.facts;
    let outer = f
        .take_diameter(
            &[Role::OuterDiameter, Role::Diameter],
            &[Role::OuterRadius, Role::Radius],
        )
        .or_else(|| f.take(&[Role::Width]));
    let inner = f.take_diameter(&[Role::InnerDiameter, Role::Hole, Role::Bore], &[Role::InnerRadius]);
    let thickness = f.take(&[Role::Thickness, Role::Height]);
    single_hole(cx)?;
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
    Ok(PartSpec::new(
        "washer",
        Base::Tube {
            outer_diameter: outer,
            inner_diameter: inner,
            height: thickness,
        },
    ))
}

/// Sphere / ball: radius or diameter (a lone size is the diameter).
pub(crate) fn sphere(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    let d = f
        .take_diameter(
            &[Role::Diameter, Role::OuterDiameter],
            &[Role::Radius, Role::OuterRadius],
        )
        .or_else(|| f.take(&[Role::Width]))
        .or_else(|| f.take_bare());
    let d = cx.need(d, "diameter or radius")?;
    no_holes(cx)?;
    Ok(PartSpec::new(cx.part, Base::Sphere { diameter: d }))
}

/// Cone / frustum: bottom and top diameter (top 0 for a pointed cone) and
/// height.
pub(crate) fn cone(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    let bottom = f
        .take_diameter(
            &[Role::BottomDiameter, Role::Diameter, Role::OuterDiameter],
            &[Role::BottomRadius, Role::Radius],
        )
        .or_else(|| f.take(&[Role::Width]));
    let top = f.take_diameter(&[Role::TopDiameter], &[Role::TopRadius]);
    let h = f.take(&[Role::Height, Role::Length]);
    let bottom = cx.need(bottom, "bottom diameter")?;
    let h = cx.need(h, "height")?;
    no_holes(cx)?;
    let top = match top {
        Some(t) if t >= 0.0 => t,
        Some(_) => return Err(cx.refuse("The top diameter cannot be negative.")),
        None if cx.noun.word == "Frustum" => return Err(cx.refuse("A frustum needs its top diameter.")),
        None => 0.0,
    };
    cx.ensure((top - bottom).abs() > 1e-6, || {
        "With equal top and bottom diameters that is a cylinder; ask for a cylinder.".into()
    })?;
    Ok(PartSpec::new(
        cx.part,
        Base::Cone {
            bottom_diameter: bottom,
            top_diameter: top,
            height: h,
        },
    ))
}

/// Torus: two of the ring diameter (through the tube's centre, "major
/// diameter"), the outer diameter ("50 mm across"), the inner diameter and
/// the tube diameter ("minor radius", "8 mm thick tube"). A plain
/// "diameter" could be the ring or the outside, so it is refused by name.
pub(crate) fn torus(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    let ring = f.take_diameter(&[Role::RingDiameter], &[Role::RingRadius]);
    let outer = f
        .take_diameter(&[Role::OuterDiameter], &[Role::OuterRadius])
        .or_else(|| f.take(&[Role::Width]));
    let inner = f.take_diameter(&[Role::InnerDiameter, Role::Hole, Role::Bore], &[Role::InnerRadius]);
    let tube = f.take_diameter(&[Role::TubeDiameter, Role::Thickness], &[Role::TubeRadius]);
    let plain = f
        .take(&[Role::Diameter])
        .or_else(|| f.take(&[Role::Radius]).map(|r| 2.0 * r));
    single_hole(cx)?;
    if let Some(d) = plain {
        return Err(cx.refuse(format!(
            "For a torus I cannot tell whether the diameter {d} mm is the ring diameter (through the \
             tube's centre) or the outer diameter; say \"ring diameter {d} mm\" or \"{d} mm across\".",
            d = human(d)
        )));
    }
    for (value, what) in [
        (ring, "ring diameter"),
        (outer, "outer diameter"),
        (inner, "inner diameter"),
        (tube, "tube diameter"),
    ] {
        if let Some(v) = value {
            cx.need(Some(v), what)?;
        }
    }
    // Ring R, tube t, outside O = R + t, inside I = R − t.
    let (ring, tube) = match (ring, tube, outer, inner) {
        (Some(r), Some(t), ..) => (r, t),
        (Some(r), None, Some(o), _) => (r, o - r),
        (Some(r), None, None, Some(i)) => (r, r - i),
        (None, Some(t), Some(o), _) => (o - t, t),
        (None, Some(t), None, Some(i)) => (i + t, t),
        (None, None, Some(o), Some(i)) => ((o + i) / 2.0, (o - i) / 2.0),
        _ => {
            let missing = if ring.is_none() && outer.is_none() && inner.is_none() {
                "ring or outer diameter"
            } else {
                "tube diameter"
            };
            return Err(cx.need(None, missing).unwrap_err());
        }
    };
    // Whatever else was given must agree with the two used.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
    let checks = [
        (outer, ring + tube, "outer diameter"),
        (inner, ring - tube, "inner diameter"),
    ];
    for (given, implied, what) in checks {
        if let Some(g) = given {
            cx.ensure(close(g, implied), || {
                format!(
                    "The {what} {} mm does not agree with a ring diameter of {} mm and a {} mm tube ({} mm).",
                    human(g),
                    human(ring),
                    human(tube),
                    human(implied)
                )
            })?;
        }
    }
    cx.ensure(tube > 0.0 && ring > tube, || {
        format!(
            "A torus's tube (Ø{} mm) must be thinner than its ring diameter (Ø{} mm).",
            human(tube),
            human(ring)
        )
    })?;
    Ok(PartSpec::new(
        cx.part,
        Base::Torus {
            ring_diameter: ring,
            tube_diameter: tube,
        },
    ))
}
