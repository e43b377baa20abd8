//! Geometry snippets and area formulas shared by several parts, so that the
//! script text and the expected volume of, say, a ring are written once.
//!
//! Cutting tools stick out 1 mm past both faces they cut through: coplanar
//! boolean faces are where OpenCASCADE is least reliable.

use std::f64::consts::PI;

use crate::template::script::Script;

pub(crate) fn circle_area(diameter: f64) -> f64 {
    PI * diameter * diameter / 4.0
}

/// Area of a regular hexagon given its across-flats size.
pub(crate) fn hexagon_area(across_flats: f64) -> f64 {
    3f64.sqrt() / 2.0 * across_flats * across_flats
}

/// `shape` = a cylinder of diameter `outer` and height `height` along Z
/// with a concentric through hole of diameter `inner`.
pub(crate) fn ring(script: &mut Script, outer: &str, inner: &str, height: &str) {
    script.body(&format!(
        "shape = Part.makeCylinder({outer} / 2, {height})\n\
         shape = shape.cut(Part.makeCylinder({inner} / 2, {height} + 2, Vector(0, 0, -1)))"
    ));
}

/// `shape` = a regular hexagonal prism (two flats parallel to X) of height
/// `height` along Z, with a centred through hole.
pub(crate) fn hexagon_with_hole(script: &mut Script, across_flats: &str, height: &str, hole: &str) {
    script.body(&format!(
        "# Corners of a regular hexagon lie on a circle of radius AF / sqrt(3).\n\
         corner = {across_flats} / math.sqrt(3)\n\
         outline = [Vector(corner * math.cos(math.radians(60 * i)), corner * math.sin(math.radians(60 * i)), 0) for i in range(6)]\n\
         outline.append(outline[0])\n\
         shape = Part.Face(Part.makePolygon(outline)).extrude(Vector(0, 0, {height}))\n\
         shape = shape.cut(Part.makeCylinder({hole} / 2, {height} + 2, Vector(0, 0, -1)))"
    ));
}

/// Cuts holes of diameter `diameter` through `depth` along Z at the (x, y)
/// centres held by the Python list named `centres`.
pub(crate) fn cut_holes_z(script: &mut Script, centres: &str, diameter: &str, depth: &str) {
    script.body(&format!(
        "for x, y in {centres}:\n    \
             shape = shape.cut(Part.makeCylinder({diameter} / 2, {depth} + 2, Vector(x, y, -1)))"
    ));
}

/// True when every circle of `diameter` at `centres` lies inside the
/// rectangle [0, width] × [0, height] and no two touch, keeping
/// [`MIN_WEB_MM`](super::MIN_WEB_MM) of material everywhere.
pub(crate) fn holes_fit(centres: &[(f64, f64)], diameter: f64, width: f64, height: f64) -> bool {
    let r = diameter / 2.0 + super::MIN_WEB_MM;
    let inside = centres
        .iter()
        .all(|&(x, y)| x - r >= 0.0 && x + r <= width && y - r >= 0.0 && y + r <= height);
    let apart = centres.iter().enumerate().all(|(i, a)| {
        centres[i + 1..]
            .iter()
            .all(|b| (a.0 - b.0).hypot(a.1 - b.1) >= diameter + super::MIN_WEB_MM)
    });
    inside && apart
}
