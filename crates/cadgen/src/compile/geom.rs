//! Plane geometry of sketch loops: exact areas (lines, arcs, circles),
//! polygon approximations for fit checks, and the chords of a line through
//! a region, which give the volume a straight hole removes.

use std::f64::consts::{PI, TAU};

use domain::spec::{Loop, Segment};

pub type P2 = [f64; 2];

/// Segments used to approximate a full circle in fit checks.
const CIRCLE_SEGMENTS: usize = 96;

/// One closed outline in sketch coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum Outline {
    Circle {
        c: P2,
        r: f64,
    },
    /// Lines and arcs; `start` is also the end.
    Path {
        start: P2,
        segments: Vec<Seg>,
    },
    /// A closed polygon given by its points (a gear), last not repeated.
    Polygon(Vec<P2>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Line(P2),
    Arc { through: P2, to: P2 },
}

impl Seg {
    pub fn end(&self) -> P2 {
        match self {
            Seg::Line(p) | Seg::Arc { to: p, .. } => *p,
        }
    }
}

/// The circle through three points: centre and radius, or `None` when
/// they are collinear.
pub fn circle_through(a: P2, b: P2, c: P2) -> Option<(P2, f64)> {
    let d = 2.0 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]));
    let scale = (b[0] - a[0]).abs() + (b[1] - a[1]).abs() + (c[0] - a[0]).abs() + (c[1] - a[1]).abs();
    if d.abs() < 1e-9 * scale * scale.max(1.0) {
        return None;
    }
    let sq = |p: P2| p[0] * p[0] + p[1] * p[1];
    let ux = (sq(a) * (b[1] - c[1]) + sq(b) * (c[1] - a[1]) + sq(c) * (a[1] - b[1])) / d;
    let uy = (sq(a) * (c[0] - b[0]) + sq(b) * (a[0] - c[0]) + sq(c) * (b[0] - a[0])) / d;
    Some(([ux, uy], (a[0] - ux).hypot(a[1] - uy)))
}

/// An arc from `a` through `m` to `b`: centre, radius, start angle and
/// signed sweep (positive counter-clockwise).
pub fn arc_params(a: P2, m: P2, b: P2) -> Option<(P2, f64, f64, f64)> {
    let (c, r) = circle_through(a, m, b)?;
    let ang = |p: P2| (p[1] - c[1]).atan2(p[0] - c[0]);
    let (ta, tm, tb) = (ang(a), ang(m), ang(b));
    let ccw = |from: f64, to: f64| (to - from).rem_euclid(TAU);
    // Counter-clockwise from a to b passes m, or the arc runs clockwise.
    let sweep = if ccw(ta, tm) <= ccw(ta, tb) {
        ccw(ta, tb)
    } else {
        -ccw(tb, ta)
    };
    Some((c, r, ta, sweep))
}

impl Outline {
    pub fn from_loop(l: &Loop) -> Outline {
        match l {
            Loop::Circle { center, diameter } => Outline::Circle {
                c: *center,
                r: diameter / 2.0,
            },
            Loop::Rectangle { corner, size } => {
                let [x, y] = *corner;
                let [w, h] = *size;
                Outline::Path {
                    start: [x, y],
                    segments: vec![
                        Seg::Line([x + w, y]),
                        Seg::Line([x + w, y + h]),
                        Seg::Line([x, y + h]),
                        Seg::Line([x, y]),
                    ],
                }
            }
            Loop::Path { start, segments } => Outline::Path {
                start: *start,
                segments: segments
                    .iter()
                    .map(|s| match s {
                        Segment::Line { to } => Seg::Line(*to),
                        Segment::Arc { through, to } => Seg::Arc {
                            through: *through,
                            to: *to,
                        },
                    })
                    .collect(),
            },
        }
    }

    /// A regular polygon with `sides`, one flat parallel to X at the bottom.
    pub fn regular(sides: u32, across_flats: f64) -> Outline {
        let n = f64::from(sides);
        let r = across_flats / 2.0 / (PI / n).cos();
        let points = (0..sides)
            .map(|k| {
                let a = -PI / 2.0 + PI / n + TAU * f64::from(k) / n;
                [r * a.cos(), r * a.sin()]
            })
            .collect();
        Outline::Polygon(points)
    }

    pub fn polyline(points: &[P2]) -> Outline {
        Outline::Path {
            start: points[0],
            segments: points[1..]
                .iter()
                .chain(std::iter::once(&points[0]))
                .map(|p| Seg::Line(*p))
                .collect(),
        }
    }

    /// Exact enclosed area (Green's theorem; arcs integrated exactly).
    pub fn area(&self) -> f64 {
        self.signed_area().abs()
    }

    fn signed_area(&self) -> f64 {
        match self {
            Outline::Circle { r, .. } => PI * r * r,
            Outline::Polygon(points) => shoelace(points),
            Outline::Path { start, segments } => {
                let mut twice = 0.0;
                let mut a = *start;
                for s in segments {
                    match *s {
                        Seg::Line(b) => twice += a[0] * b[1] - b[0] * a[1],
                        Seg::Arc { through, to } => match arc_params(a, through, to) {
                            Some((c, r, t0, sweep)) => {
                                let t1 = t0 + sweep;
                                twice +=
                                    r * r * sweep + r * c[0] * (t1.sin() - t0.sin()) - r * c[1] * (t1.cos() - t0.cos());
                            }
                            None => twice += a[0] * to[1] - to[0] * a[1],
                        },
                    }
                    a = s.end();
                }
                twice / 2.0
            }
        }
    }

    /// First moment ∬ u dA, for Pappus' theorem (arcs sampled finely).
    pub fn moment_u(&self) -> f64 {
        match self {
            Outline::Circle { c, r } => PI * r * r * c[0],
            _ => {
                let p = self.points(2048);
                let n = p.len();
                let s: f64 = (0..n)
                    .map(|i| {
                        let (a, b) = (p[i], p[(i + 1) % n]);
                        (a[0] + b[0]) * (a[0] * b[1] - b[0] * a[1])
                    })
                    .sum();
                (s / 6.0).abs()
            }
        }
    }

    /// Points along the outline (not closed); arcs and circles sampled with
    /// about `per_circle` segments per full turn.
    pub fn points(&self, per_circle: usize) -> Vec<P2> {
        match self {
            Outline::Circle { c, r } => (0..per_circle)
                .map(|i| {
                    let a = TAU * i as f64 / per_circle as f64;
                    [c[0] + r * a.cos(), c[1] + r * a.sin()]
                })
                .collect(),
            Outline::Polygon(points) => points.clone(),
            Outline::Path { start, segments } => {
                let mut out = vec![*start];
                let mut a = *start;
                for s in segments {
                    if let Seg::Arc { through, to } = *s {
                        if let Some((c, r, t0, sweep)) = arc_params(a, through, to) {
                            let n = ((sweep.abs() / TAU) * per_circle as f64).ceil().max(2.0) as usize;
                            for i in 1..n {
                                let t = t0 + sweep * i as f64 / n as f64;
                                out.push([c[0] + r * t.cos(), c[1] + r * t.sin()]);
                            }
                        }
                    }
                    out.push(s.end());
                    a = s.end();
                }
                // The last point repeats the start.
                out.pop();
                out
            }
        }
    }

    /// Polygon for fit checks.
    pub fn polygon(&self) -> Vec<P2> {
        self.points(CIRCLE_SEGMENTS)
    }

    /// `[min_u, min_v, max_u, max_v]`, exact for circles, arcs sampled.
    pub fn bounds(&self) -> [f64; 4] {
        match self {
            Outline::Circle { c, r } => [c[0] - r, c[1] - r, c[0] + r, c[1] + r],
            _ => bounds_of(&self.points(4096)),
        }
    }

    /// The sharp corners of a path of lines (for vertical-edge fillets):
    /// each corner point with its interior angle in radians, or `None` when
    /// the outline has arcs or is a circle.
    pub fn corners(&self) -> Option<Vec<(P2, f64)>> {
        let points = match self {
            Outline::Circle { .. } => return None,
            Outline::Polygon(p) => p.clone(),
            Outline::Path { segments, .. } => {
                if segments.iter().any(|s| matches!(s, Seg::Arc { .. })) {
                    return None;
                }
                self.points(4)
            }
        };
        let ccw = shoelace(&points) > 0.0;
        let n = points.len();
        Some(
            (0..n)
                .map(|i| {
                    let (prev, p, next) = (points[(i + n - 1) % n], points[i], points[(i + 1) % n]);
                    let d1 = [p[0] - prev[0], p[1] - prev[1]];
                    let d2 = [next[0] - p[0], next[1] - p[1]];
                    let turn = (d1[0] * d2[1] - d1[1] * d2[0]).atan2(d1[0] * d2[0] + d1[1] * d2[1]);
                    let turn = if ccw { turn } else { -turn };
                    (p, PI - turn)
                })
                .collect(),
        )
    }
}

pub fn shoelace(points: &[P2]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

pub fn bounds_of(points: &[P2]) -> [f64; 4] {
    points.iter().fold(
        [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY],
        |b, p| [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])],
    )
}

/// Even-odd point-in-polygon.
pub fn inside(poly: &[P2], p: P2) -> bool {
    let n = poly.len();
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn segment_distance(p: P2, a: P2, b: P2) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

/// Distance from `p` to the boundary of `poly`.
pub fn boundary_distance(poly: &[P2], p: P2) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| segment_distance(p, poly[i], poly[(i + 1) % n]))
        .fold(f64::INFINITY, f64::min)
}

/// A region: an outline with holes (even-odd).
#[derive(Debug, Clone)]
pub struct Region {
    pub outer: Outline,
    pub holes: Vec<Outline>,
}

impl Region {
    pub fn area(&self) -> f64 {
        self.outer.area() - self.holes.iter().map(Outline::area).sum::<f64>()
    }

    /// Whether the disk of radius `r` around `c` lies in the material with
    /// `margin` to spare.
    pub fn holds_disk(&self, c: P2, r: f64, margin: f64) -> bool {
        let outer = self.outer.polygon();
        if !inside(&outer, c) || boundary_distance(&outer, c) < r + margin - exact_slack(&self.outer) {
            return false;
        }
        self.holes.iter().all(|h| {
            let poly = h.polygon();
            !inside(&poly, c) && boundary_distance(&poly, c) >= r + margin
        })
    }

    /// Whether the outline `o` lies in the material with `margin` to spare.
    pub fn holds_outline(&self, o: &Outline, margin: f64) -> bool {
        if let Outline::Circle { c, r } = o {
            return self.holds_disk(*c, *r, margin);
        }
        let pts = o.polygon();
        let outer = self.outer.polygon();
        let ok_outer = pts
            .iter()
            .all(|p| inside(&outer, *p) && boundary_distance(&outer, *p) >= margin - exact_slack(&self.outer))
            && outer.iter().all(|q| !inside(&pts, *q));
        ok_outer
            && self.holes.iter().all(|h| {
                let hp = h.polygon();
                pts.iter()
                    .all(|p| !inside(&hp, *p) && boundary_distance(&hp, *p) >= margin)
                    && hp.iter().all(|q| !inside(&pts, *q))
            })
    }

    /// The chord intervals of the line `v = v0` (along u) through the
    /// material, from the polygon approximation.
    pub fn chords_along_u(&self, v0: f64) -> Vec<(f64, f64)> {
        let mut xs = Vec::new();
        for o in std::iter::once(&self.outer).chain(&self.holes) {
            let poly = o.polygon();
            let n = poly.len();
            for i in 0..n {
                let (a, b) = (poly[i], poly[(i + 1) % n]);
                if (a[1] > v0) != (b[1] > v0) {
                    xs.push(a[0] + (v0 - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        xs.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
    }
}

/// The polygon of a circle is inscribed: its boundary is nearer the centre
/// than the true circle by up to this much, which fit checks forgive.
fn exact_slack(o: &Outline) -> f64 {
    match o {
        Outline::Circle { r, .. } => r * (1.0 - (PI / CIRCLE_SEGMENTS as f64).cos()),
        _ => 0.0,
    }
}

/// Whether two outlines stay `gap` apart (neither overlaps nor contains
/// the other).
pub fn apart(a: &Outline, b: &Outline, gap: f64) -> bool {
    if let (Outline::Circle { c: c1, r: r1 }, Outline::Circle { c: c2, r: r2 }) = (a, b) {
        return (c1[0] - c2[0]).hypot(c1[1] - c2[1]) >= r1 + r2 + gap;
    }
    let (pa, pb) = (a.polygon(), b.polygon());
    let far = |from: &[P2], to: &[P2]| from.iter().all(|p| !inside(to, *p) && boundary_distance(to, *p) >= gap);
    far(&pa, &pb) && far(&pb, &pa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_exact() {
        let square = Outline::polyline(&[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]);
        assert!((square.area() - 4.0).abs() < 1e-12);
        // A stadium: two half circles of radius 1 and a 2 × 2 square.
        let stadium = Outline::Path {
            start: [0.0, 0.0],
            segments: vec![
                Seg::Line([2.0, 0.0]),
                Seg::Arc {
                    through: [3.0, 1.0],
                    to: [2.0, 2.0],
                },
                Seg::Line([0.0, 2.0]),
                Seg::Arc {
                    through: [-1.0, 1.0],
                    to: [0.0, 0.0],
                },
            ],
        };
        assert!((stadium.area() - (4.0 + PI)).abs() < 1e-9, "{}", stadium.area());
        let hex = Outline::regular(6, 10.0);
        assert!((hex.area() - 3f64.sqrt() / 2.0 * 100.0).abs() < 1e-9);
        let b = hex.bounds();
        assert!((b[3] - b[1] - 10.0).abs() < 1e-9);
    }

    #[test]
    fn corners_know_their_angles() {
        let l = Outline::polyline(&[
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 2.0],
            [2.0, 2.0],
            [2.0, 10.0],
            [0.0, 10.0],
        ]);
        let angles: Vec<f64> = l.corners().unwrap().iter().map(|c| c.1.to_degrees().round()).collect();
        assert_eq!(angles, vec![90.0, 90.0, 90.0, 270.0, 90.0, 90.0]);
    }

    #[test]
    fn regions_hold_disks_and_give_chords() {
        let plate = Region {
            outer: Outline::polyline(&[[0.0, 0.0], [40.0, 0.0], [40.0, 20.0], [0.0, 20.0]]),
            holes: vec![],
        };
        assert!(plate.holds_disk([20.0, 10.0], 3.0, 0.5));
        assert!(!plate.holds_disk([2.0, 10.0], 3.0, 0.5));
        assert_eq!(plate.chords_along_u(5.0), vec![(0.0, 40.0)]);
        let ring = Region {
            outer: Outline::Circle { c: [0.0, 0.0], r: 10.0 },
            holes: vec![Outline::Circle { c: [0.0, 0.0], r: 5.0 }],
        };
        assert!(ring.holds_disk([7.5, 0.0], 1.0, 0.5));
        assert!(!ring.holds_disk([0.0, 0.0], 1.0, 0.5));
    }
}
