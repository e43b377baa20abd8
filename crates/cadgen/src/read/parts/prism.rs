//! Straight-sided bases: box / block / cube / plate (with holes), the
//! open-top enclosure, regular polygon prisms and the standard profiles.

use domain::spec::{Base, Feature, Loop, PartSpec, ProfileShape};

use super::{Ctx, Face};
use crate::compile::human;
use crate::read::vocab::{Family, Flag, Role};
use crate::NotUnderstood;

/// Wall thickness of an enclosure when the prompt gives none.
const DEFAULT_WALL_MM: f64 = 2.0;

/// Length × width × height from "40 x 20 x 10", "100 x 50 mm 5 mm thick" or
/// separate "length/width/height" keywords.
fn box_dims(cx: &mut Ctx) -> Result<[f64; 3], NotUnderstood> {
    let z_roles = [Role::Height, Role::Thickness, Role::Depth];
    let square = cx.noun.word.starts_with("Square");
    // "a bar 1 inch square": the section; with a chain the square is a
    // hole pattern's ("four M3 holes on a 31 mm square").
    let square_side = if cx.facts.has_chain() || square {
        None
    } else {
        cx.facts.take(&[Role::Square])
    };
    let (l, w, h) = if let Some(s) = square_side {
        // "a bar 1 inch square 12 inches long": the section is square.
        match cx.facts.take(&[Role::Length]) {
            Some(l) => (Some(l), Some(s), Some(s)),
            None => (
                Some(s),
                Some(s),
                cx.facts.take(&z_roles).or_else(|| cx.facts.take_bare()),
            ),
        }
    } else if let Some(c) = cx.facts.take_chain(3) {
        (Some(c[0]), Some(c[1]), Some(c[2]))
    } else if let Some(c) = cx.facts.take_chain(2) {
        match cx.facts.take(&z_roles) {
            Some(h) => (Some(c[0]), Some(c[1]), Some(h)),
            // "a flat bar 30 x 5 mm, 200 mm long": the section, then the length.
            None => match cx.facts.take(&[Role::Length]) {
                Some(l) => (Some(l), Some(c[0]), Some(c[1])),
                None => (Some(c[0]), Some(c[1]), None),
            },
        }
    } else if square {
        // "a 100 mm square plate 3 mm thick": one side for both.
        let side = cx
            .facts
            .take(&[Role::Size, Role::Length, Role::Width])
            .or_else(|| cx.facts.take_bare());
        let h = cx.facts.take(&z_roles).or_else(|| cx.facts.take_bare());
        (side, side, h)
    } else {
        let l = cx.facts.take(&[Role::Length]);
        let w = cx.facts.take(&[Role::Width]);
        (l, w, cx.facts.take(&z_roles))
    };
    let z_name = if cx.noun.family == Family::Plate {
        "thickness"
    } else {
        "height"
    };
    Ok([cx.need(l, "length")?, cx.need(w, "width")?, cx.need(h, z_name)?])
}

/// Box, block, plate — or a cube from a single side — with any holes.
pub(crate) fn block(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let [l, w, h] = match cx.noun.family {
        Family::Cube if !cx.facts.has_chain() => {
            let roles = [Role::Size, Role::Length, Role::Width, Role::Height];
            let side = cx.facts.take(&roles).or_else(|| cx.facts.take_bare());
            let side = cx.need(side, "side length")?;
            [side; 3]
        }
        _ => box_dims(cx)?,
    };
    let mut spec = PartSpec::new(
        cx.part,
        Base::Box {
            length: l,
            width: w,
            height: h,
        },
    );
    // "a spacer plate 50 x 50 with a 25 mm centre hole", "a 10 mm centre
    // bore 8 mm deep".
    spec.features.extend(cx.centre_bore([l / 2.0, w / 2.0], true)?);
    // Any number of groups: "… and a 10 mm hole at the centre".
    spec.features
        .extend(cx.all_holes(Face::Rect { l, w, h: Some(h) }, "hole")?);
    Ok(spec)
}

/// An open-top box: outer length × width × height, walls and floor.
pub(crate) fn enclosure(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    cx.facts.take_flag(Flag::Open);
    let [l, w, h] = box_dims(cx)?;
    let wall = cx.facts.take(&[Role::Wall, Role::Thickness]);
    let wall = cx.or_default(wall, DEFAULT_WALL_MM, "wall")?;
    let floor = cx.facts.take(&[Role::Floor]);
    let floor = floor.map(|f| cx.need(Some(f), "floor")).transpose()?;
    let mut spec = PartSpec::new(
        "enclosure",
        Base::Box {
            length: l,
            width: w,
            height: h,
        },
    );
    spec.features.push(Feature::Shell { wall, floor });
    spec.features
        .extend(cx.all_holes(Face::Rect { l, w, h: None }, "hole")?);
    Ok(spec)
}

/// "rectangular tube 40 x 20 mm, 2 mm wall, 500 mm long", "40 x 20 x 2
/// box section 500 long", "square tube 25 mm, 1.5 mm wall, 300 mm long": an
/// outside width × height section standing along Z, hollow end to end.
pub(crate) fn rect_tube(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let square = cx.noun.word.starts_with("Square");
    let f = &mut *cx.facts;
    f.take_flag(Flag::Open);
    f.take_flag(Flag::Through);
    let lengths = [Role::Length, Role::Depth];
    let walls = [Role::Wall, Role::Thickness];
    let mut wall = None;
    let (w, h, len) = match f.take_chain(3) {
        // The section as the trade writes it: width × height × wall.
        Some(c) if f.has_role(&lengths) && !f.has_role(&walls) => {
            wall = Some(c[2]);
            (Some(c[0]), Some(c[1]), f.take(&lengths))
        }
        Some(c) => (Some(c[0]), Some(c[1]), Some(c[2])),
        None => match f.take_chain(2) {
            Some(c) => (Some(c[0]), Some(c[1]), f.take(&lengths)),
            None if square => {
                let side = f.take(&[Role::Square, Role::Size, Role::Width]);
                let len = f.take(&lengths);
                let side = side.or_else(|| f.take_bare());
                (side, side, len)
            }
            None => {
                let (w, h) = (f.take(&[Role::Width]), f.take(&[Role::Height]));
                (w, h, f.take(&lengths))
            }
        },
    };
    let wall = wall.or_else(|| cx.facts.take(&walls));
    let len = len.or_else(|| cx.facts.take_bare());
    let (w, h, len) = (cx.need(w, "width")?, cx.need(h, "height")?, cx.need(len, "length")?);
    let wall = cx.or_default(wall, DEFAULT_WALL_MM, "wall")?;
    cx.ensure(2.0 * wall < w.min(h), || {
        format!(
            "A {} mm wall leaves no inside in a {} × {} mm tube.",
            human(wall),
            human(w),
            human(h)
        )
    })?;
    let mut spec = PartSpec::new(
        cx.part,
        Base::Box {
            length: w,
            width: h,
            height: len,
        },
    );
    spec.features.push(Feature::Pocket {
        name: "bore".into(),
        loops: vec![Loop::Rectangle {
            corner: [wall, wall],
            size: [w - 2.0 * wall, h - 2.0 * wall],
        }],
        depth: None,
    });
    Ok(spec)
}

/// "hexagonal prism 20 mm across flats 40 mm long".
pub(crate) fn regular_prism(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    cx.facts.take_flag(Flag::Hex);
    let sides = match cx.noun.word {
        w if w.starts_with("Hex") => 6,
        w if w.starts_with("Pent") => 5,
        w if w.starts_with("Oct") => 8,
        _ => 4,
    };
    let f = &mut *cx.facts;
    let af = f.take(&[Role::AcrossFlats, Role::Width, Role::Size]);
    let h = f.take(&[Role::Height, Role::Length, Role::Thickness]);
    let (af, h) = (cx.need(af, "across-flats size")?, cx.need(h, "length")?);
    let mut spec = PartSpec::new(
        cx.part,
        Base::Prism {
            sides,
            across_flats: af,
            height: h,
        },
    );
    spec.features.extend(cx.all_holes(Face::Round { d: af }, "hole")?);
    Ok(spec)
}

/// Triangle, trapezoid, L, T and U profiles, extruded along Y.
pub(crate) fn profile(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let walled = matches!(cx.noun.family, Family::LProfile | Family::TProfile | Family::Channel);
    let f = &mut *cx.facts;
    let lengths = [Role::Length, Role::Depth];
    let walls = [Role::Thickness, Role::Wall];
    // A section is written as the trade writes it, "25 x 25 x 3 angle,
    // 300 long" (width × height × thickness), when the length is given on
    // its own; else "40 x 30 x 200" is width × height × length.
    let section = walled && f.has_role(&lengths) && !f.has_role(&walls);
    let mut wall = None;
    let (w, h, len) = match f.take_chain(3) {
        Some(c) if section => {
            wall = Some(c[2]);
            (Some(c[0]), Some(c[1]), f.take(&lengths))
        }
        Some(c) => (Some(c[0]), Some(c[1]), Some(c[2])),
        None => match f.take_chain(2) {
            Some(c) => (Some(c[0]), Some(c[1]), f.take(&lengths)),
            // "a triangular prism with a 40 mm base, 30 mm height".
            None => (
                f.take(&[Role::Width, Role::BottomDiameter]),
                f.take(&[Role::Height]),
                f.take(&lengths),
            ),
        },
    };
    let (w, h, len) = (cx.need(w, "width")?, cx.need(h, "height")?, cx.need(len, "length")?);
    let profile = match cx.noun.family {
        Family::Triangle => ProfileShape::Triangle { width: w, height: h },
        Family::Trapezoid => {
            let top = cx.facts.take(&[Role::TopDiameter]);
            let top = cx.need(top, "top width")?;
            ProfileShape::Trapezoid {
                bottom: w,
                top,
                height: h,
            }
        }
        family => {
            let t = wall.or_else(|| cx.facts.take(&[Role::Thickness, Role::Wall]));
            let t = cx.or_default(t, 3.0, "thickness")?;
            match family {
                Family::LProfile => ProfileShape::L {
                    width: w,
                    height: h,
                    thickness: t,
                },
                Family::TProfile => ProfileShape::T {
                    width: w,
                    height: h,
                    thickness: t,
                },
                _ => ProfileShape::U {
                    width: w,
                    height: h,
                    thickness: t,
                },
            }
        }
    };
    Ok(PartSpec::new(cx.part, Base::Profile { profile, length: len }))
}
