//! Rectangular parts: box / block / cube / plate, plate with holes, and the
//! open-top enclosure.

use crate::template::catalogue;
use crate::template::script::{counted, dims, human, Script};
use crate::template::vocab::{Counted, Family, Flag, Role};
use crate::template::{Generated, NotUnderstood};

use super::shapes::{circle_area, cut_holes_z, holes_fit};
use super::Ctx;

/// Wall thickness of an enclosure when the prompt gives none.
const DEFAULT_WALL_MM: f64 = 2.0;

/// Corner holes sit this many hole diameters from each edge by default
/// (a common minimum edge distance for bolted plates).
const CORNER_INSET_PER_DIAMETER: f64 = 1.5;

/// Length × width × height from "40 x 20 x 10", "100 x 50 mm 5 mm thick" or
/// separate "length/width/height" keywords.
fn box_dims(cx: &mut Ctx) -> Result<[f64; 3], NotUnderstood> {
    let z_roles = [Role::Height, Role::Thickness, Role::Depth];
    let (l, w, h) = if let Some(c) = cx.facts.take_chain(3) {
        (Some(c[0]), Some(c[1]), Some(c[2]))
    } else if let Some(c) = cx.facts.take_chain(2) {
        (Some(c[0]), Some(c[1]), cx.facts.take(&z_roles))
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

/// Box, block, plain plate — or a cube from a single side.
pub(crate) fn block(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let cube_side = match cx.noun.family {
        Family::Cube if !cx.facts.has_chain() => {
            let roles = [Role::Size, Role::Length, Role::Width, Role::Height];
            let side = cx.facts.take(&roles).or_else(|| cx.facts.take_bare());
            Some(cx.need(side, "side length")?)
        }
        _ => None,
    };
    let mut s = Script::new(catalogue::BOX.name);
    if let Some(side) = cube_side {
        s.length("SIDE", side, "edge length");
        s.body("shape = Part.makeBox(SIDE, SIDE, SIDE)");
        let summary = cx.summary(format!("Cube {} mm", human(side)));
        return Ok(s.finish(summary, side.powi(3)));
    }
    let [l, w, h] = box_dims(cx)?;
    let z_name = if cx.noun.family == Family::Plate {
        "THICKNESS"
    } else {
        "HEIGHT"
    };
    s.length("LENGTH", l, "along X")
        .length("WIDTH", w, "along Y")
        .length(z_name, h, "along Z");
    s.body(&format!("shape = Part.makeBox(LENGTH, WIDTH, {z_name})"));
    let summary = cx.summary(format!("{} {}", cx.noun.word, dims(&[l, w, h])));
    Ok(s.finish(summary, l * w * h))
}

/// How the holes of a plate are placed.
enum Layout {
    Row,
    Corners { inset: f64 },
    Points(Vec<(f64, f64)>),
}

/// A plate (the third dimension is its thickness, along Z) with holes
/// through it: in a row along the longer side, at the corners, or at given
/// (x, y) points measured from the plate's corner.
pub(crate) fn plate_with_holes(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    let [l, w, t] = box_dims(cx)?;
    let points = cx.facts.take_points();
    let given = cx.facts.take_count(Counted::Holes).flatten();
    let d = cx.hole_diameter()?;
    let (count, layout) = if !points.is_empty() {
        let n = points.len() as u32;
        cx.ensure(given.is_none_or(|g| g == n), || {
            format!(
                "The prompt counts {} holes but gives {n} positions.",
                given.unwrap_or(0)
            )
        })?;
        (n, Layout::Points(points))
    } else if cx.facts.take_flag(Flag::Corners) {
        cx.ensure(given.is_none_or(|g| g == 4), || {
            "Corner holes come in fours.".to_string()
        })?;
        let inset = cx.facts.take(&[Role::Inset]);
        let inset = cx.or_default(inset, CORNER_INSET_PER_DIAMETER * d, "hole inset")?;
        (4, Layout::Corners { inset })
    } else {
        let n = given.ok_or_else(|| cx.refuse("How many holes? For example \"with 4 holes 6 mm\"."))?;
        (n, Layout::Row)
    };
    cx.ensure((1..=100).contains(&count), || {
        format!("{count} holes is not a hole count I can lay out (1 to 100).")
    })?;

    let centres: Vec<(f64, f64)> = match &layout {
        Layout::Points(p) => p.clone(),
        Layout::Corners { inset: i } => vec![(*i, *i), (l - i, *i), (l - i, w - i), (*i, w - i)],
        Layout::Row => (0..count)
            .map(|k| {
                let f = (f64::from(k) + 0.5) / f64::from(count);
                if l >= w {
                    (f * l, w / 2.0)
                } else {
                    (l / 2.0, f * w)
                }
            })
            .collect(),
    };
    cx.ensure(holes_fit(&centres, d, l, w), || {
        format!(
            "{} of Ø{} mm do not fit on a {} × {} mm plate.",
            counted(count, "hole", "holes"),
            human(d),
            human(l),
            human(w)
        )
    })?;

    let mut s = Script::new(catalogue::PLATE_WITH_HOLES.name);
    s.length("LENGTH", l, "along X")
        .length("WIDTH", w, "along Y")
        .length("THICKNESS", t, "along Z")
        .length("HOLE_DIAMETER", d, "through holes")
        .count("HOLE_COUNT", count, "number of holes");
    s.body("shape = Part.makeBox(LENGTH, WIDTH, THICKNESS)");
    let placement = match &layout {
        Layout::Points(p) => {
            let list: Vec<String> = p.iter().map(|(x, y)| format!("({x:?}, {y:?})")).collect();
            s.expression(
                "HOLE_CENTRES",
                format!("[{}]", list.join(", ")),
                "(x, y) from the plate corner, mm",
            );
            let at: Vec<String> = p
                .iter()
                .map(|(x, y)| format!("({}, {})", human(*x), human(*y)))
                .collect();
            format!(" at {} mm", at.join(", "))
        }
        Layout::Corners { inset } => {
            s.length("HOLE_INSET", *inset, "hole centre to plate edge");
            s.body(
                "e = HOLE_INSET\n\
                 hole_centres = [(e, e), (LENGTH - e, e), (LENGTH - e, WIDTH - e), (e, WIDTH - e)]",
            );
            " at the corners".to_string()
        }
        Layout::Row => {
            let (along, across) = if l >= w {
                ("LENGTH", "WIDTH")
            } else {
                ("WIDTH", "LENGTH")
            };
            let centre = format!("(i + 0.5) * {along} / HOLE_COUNT");
            let (x, y) = if l >= w {
                (centre, format!("{across} / 2"))
            } else {
                (format!("{across} / 2"), centre)
            };
            s.body(&format!(
                "# Evenly spaced along the longer side, half a pitch from each end.\n\
                 hole_centres = [({x}, {y}) for i in range(HOLE_COUNT)]"
            ));
            if count > 1 {
                " in a row".to_string()
            } else {
                String::new()
            }
        }
    };
    let centres_name = if matches!(layout, Layout::Points(_)) {
        "HOLE_CENTRES"
    } else {
        "hole_centres"
    };
    cut_holes_z(&mut s, centres_name, "HOLE_DIAMETER", "THICKNESS");

    let holes = counted(
        count,
        &format!("Ø{} mm through hole", human(d)),
        &format!("Ø{} mm through holes", human(d)),
    );
    let summary = cx.summary(format!("{} {} with {holes}{placement}", cx.noun.word, dims(&[l, w, t])));
    let volume = l * w * t - f64::from(count) * circle_area(d) * t;
    Ok(s.finish(summary, volume))
}

/// An open-top box: outer length × width × height, walls and floor.
pub(crate) fn enclosure(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
    cx.facts.take_flag(Flag::Open);
    let [l, w, h] = box_dims(cx)?;
    let wall = cx.facts.take(&[Role::Wall, Role::Thickness]);
    let wall = cx.or_default(wall, DEFAULT_WALL_MM, "wall")?;
    let floor = cx.facts.take(&[Role::Floor]);
    let floor = cx.or_default(floor, wall, "floor")?;
    cx.ensure(2.0 * wall < l.min(w) && floor < h, || {
        format!(
            "Walls of {} mm and a {} mm floor leave no room inside {}.",
            human(wall),
            human(floor),
            dims(&[l, w, h])
        )
    })?;

    let mut s = Script::new(catalogue::ENCLOSURE.name);
    s.length("LENGTH", l, "outside, along X")
        .length("WIDTH", w, "outside, along Y")
        .length("HEIGHT", h, "outside, along Z")
        .length("WALL", wall, "side wall thickness")
        .length("FLOOR", floor, "floor thickness");
    s.body(
        "shape = Part.makeBox(LENGTH, WIDTH, HEIGHT)\n\
         # The cavity pokes 1 mm out of the top so the cut leaves it open.\n\
         cavity = Part.makeBox(LENGTH - 2 * WALL, WIDTH - 2 * WALL, HEIGHT - FLOOR + 1, Vector(WALL, WALL, FLOOR))\n\
         shape = shape.cut(cavity)",
    );
    let name = match cx.noun.word {
        word if word.starts_with("Open") => word.to_string(),
        word => format!("Open-top {}", word.to_lowercase()),
    };
    let summary = cx.summary(format!(
        "{name} {} with {} mm walls and a {} mm floor",
        dims(&[l, w, h]),
        human(wall),
        human(floor)
    ));
    let volume = l * w * h - (l - 2.0 * wall) * (w - 2.0 * wall) * (h - floor);
    Ok(s.finish(summary, volume))
}
