//! The rasterizer: an orthographic isometric view, a depth buffer, flat
//! Lambert shading from a key and a fill light, and edges found in the
//! image (where the surface turns by more than [`CREASE_DEGREES`], and
//! where one surface passes in front of another or of the background).
//!
//! Everything is drawn at twice the asked size and averaged down, which
//! smooths the edges of faces and lines alike.

use crate::stl::Triangle;
use crate::{Image, Options};

/// Where two neighbouring samples' surfaces differ in direction by more
/// than this, a crease line is drawn. A mesh's facets on a curved face
/// differ by a few degrees, so only the model's real edges pass.
pub const CREASE_DEGREES: f32 = 30.0;

/// Samples per pixel along each axis.
const SUPERSAMPLE: usize = 2;
/// Empty border around the part, as a share of the shorter side.
const MARGIN: f32 = 0.06;
/// The part's colour, a light steel.
const BASE: [f32; 3] = [0.74, 0.78, 0.84];
/// Light that reaches every face, and the two directional lights (towards
/// the light, weight).
const AMBIENT: f32 = 0.30;
const KEY: ([f32; 3], f32) = ([0.3, -0.5, 1.0], 0.60);
const FILL: ([f32; 3], f32) = ([1.0, 0.2, 0.3], 0.30);
const CREASE_COLOUR: [f32; 3] = [0.22, 0.24, 0.28];
const OUTLINE_COLOUR: [f32; 3] = [0.08, 0.09, 0.11];

type V3 = [f32; 3];

fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: V3) -> Option<V3> {
    let len = dot(a, a).sqrt();
    (len > 0.0 && len.is_finite()).then(|| [a[0] / len, a[1] / len, a[2] / len])
}

/// The isometric camera of CAD programs: looking from the front-right-top
/// corner (+x, −y, +z) towards the origin, z up on screen.
struct Camera {
    right: V3,
    up: V3,
    /// Towards the viewer: a larger depth is nearer.
    toward: V3,
}

impl Camera {
    fn isometric() -> Self {
        let s2 = 2f32.sqrt();
        let s3 = 3f32.sqrt();
        let s6 = 6f32.sqrt();
        Self {
            right: [1.0 / s2, 1.0 / s2, 0.0],
            up: [-1.0 / s6, 1.0 / s6, 2.0 / s6],
            toward: [1.0 / s3, -1.0 / s3, 1.0 / s3],
        }
    }

    /// (right, up, depth) of a point.
    fn view(&self, p: V3) -> V3 {
        [dot(p, self.right), dot(p, self.up), dot(p, self.toward)]
    }
}

/// What a drawn triangle left for the edge pass: its facing direction, and
/// how its depth changes per sample across the screen.
struct Facet {
    normal: V3,
    gradient: [f32; 2],
    shade: f32,
}

const NOTHING: u32 = u32::MAX;

pub fn render(triangles: &[Triangle], options: Options) -> Image {
    draw(triangles, options, true)
}

/// [`render`]; `bounded: false` runs the edge and resolve passes over the
/// whole picture, which must draw the same (tests).
fn draw(triangles: &[Triangle], options: Options, bounded: bool) -> Image {
    let camera = Camera::isometric();
    let (w, h) = (
        options.width as usize * SUPERSAMPLE,
        options.height as usize * SUPERSAMPLE,
    );

    // Centre the model before projecting, so the f32 arithmetic keeps its
    // precision for parts far from the origin.
    let mut low = [f64::INFINITY; 3];
    let mut high = [f64::NEG_INFINITY; 3];
    for p in triangles.iter().flatten() {
        for k in 0..3 {
            low[k] = low[k].min(p[k] as f64);
            high[k] = high[k].max(p[k] as f64);
        }
    }
    let centre: [f64; 3] = std::array::from_fn(|k| (low[k] + high[k]) / 2.0);
    let local = |p: &V3| -> V3 { std::array::from_fn(|k| (p[k] as f64 - centre[k]) as f32) };

    // The view's extent, then the scale that fills the picture.
    let (mut u_low, mut u_high, mut v_low, mut v_high) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in triangles.iter().flatten() {
        let [u, v, _] = camera.view(local(p));
        u_low = u_low.min(u);
        u_high = u_high.max(u);
        v_low = v_low.min(v);
        v_high = v_high.max(v);
    }
    let margin = MARGIN * w.min(h) as f32;
    let span = |lo: f32, hi: f32| (hi - lo).max(f32::MIN_POSITIVE);
    let scale = ((w as f32 - 2.0 * margin) / span(u_low, u_high)).min((h as f32 - 2.0 * margin) / span(v_low, v_high));
    let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
    let (u_mid, v_mid) = ((u_low + u_high) / 2.0, (v_low + v_high) / 2.0);
    let to_screen = |p: V3| -> V3 {
        let [u, v, d] = camera.view(p);
        [
            w as f32 / 2.0 + (u - u_mid) * scale,
            h as f32 / 2.0 - (v - v_mid) * scale,
            d,
        ]
    };

    let key = normalize(KEY.0).expect("a light direction");
    let fill = normalize(FILL.0).expect("a light direction");
    let mut depth = vec![f32::NEG_INFINITY; w * h];
    let mut owner = vec![NOTHING; w * h];
    let mut facets: Vec<Facet> = Vec::new();
    // The samples any drawn triangle's box covers: the passes below need
    // look no further (a part rarely fills both sides of the picture).
    let mut drawn_area = Area::EMPTY;

    for t in triangles {
        let world = [local(&t[0]), local(&t[1]), local(&t[2])];
        let Some(mut normal) = normalize(cross(sub(world[1], world[0]), sub(world[2], world[0]))) else {
            continue;
        };
        // Seen from either side: a mesh's winding cannot be trusted, and a
        // closed part's far side is hidden by the depth buffer anyway.
        if dot(normal, camera.toward) < 0.0 {
            normal = normal.map(|x| -x);
        }
        let [a, b, c] = world.map(to_screen);
        let det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
        if det.abs() < 1e-12 || !det.is_finite() {
            continue;
        }
        let gradient = [
            ((b[2] - a[2]) * (c[1] - a[1]) - (c[2] - a[2]) * (b[1] - a[1])) / det,
            ((c[2] - a[2]) * (b[0] - a[0]) - (b[2] - a[2]) * (c[0] - a[0])) / det,
        ];
        let x0 = a[0].min(b[0]).min(c[0]).floor().max(0.0) as usize;
        let x1 = (a[0].max(b[0]).max(c[0]).ceil().max(0.0) as usize).min(w);
        let y0 = a[1].min(b[1]).min(c[1]).floor().max(0.0) as usize;
        let y1 = (a[1].max(b[1]).max(c[1]).ceil().max(0.0) as usize).min(h);
        if x0 >= x1 || y0 >= y1 {
            continue;
        }
        let id = facets.len() as u32;
        let mut drawn = false;
        // Edge functions, normalised by the signed area so a sample inside
        // has all three between 0 and 1 whatever the winding.
        let edge = |p: V3, q: V3, x: f32, y: f32| ((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])) / det;
        let sides = [(b, c), (c, a), (a, b)];
        for y in y0..y1 {
            let sy = y as f32 + 0.5;
            let Some((from, to)) = row_span(&sides, det, sy, x0, x1) else {
                continue;
            };
            for x in from..to {
                let sx = x as f32 + 0.5;
                let wa = edge(b, c, sx, sy);
                let wb = edge(c, a, sx, sy);
                let wc = edge(a, b, sx, sy);
                if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                    continue;
                }
                let d = wa * a[2] + wb * b[2] + wc * c[2];
                let i = y * w + x;
                if d > depth[i] {
                    depth[i] = d;
                    owner[i] = id;
                    drawn = true;
                }
            }
        }
        if drawn {
            drawn_area = drawn_area.union(Area { x0, x1, y0, y1 });
            let light = |(dir, weight): (V3, f32)| weight * dot(normal, dir).max(0.0);
            facets.push(Facet {
                normal,
                gradient,
                shade: (AMBIENT + light((key, KEY.1)) + light((fill, FILL.1))).min(1.0),
            });
        }
    }

    // Lines are marked on both samples of a pair, one of them drawn, and
    // outlines widened by one more: all within two samples of the area.
    if !bounded {
        drawn_area = Area {
            x0: 0,
            x1: w,
            y0: 0,
            y1: h,
        };
    }
    let area = drawn_area.grown(1, w, h);
    let lines = edges(&depth, &owner, &facets, (w, h), area, 3.0 / scale);
    resolve(&owner, &facets, &lines, options, w, drawn_area.grown(2, w, h))
}

/// A box of samples, `x0..x1` by `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Area {
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
}

impl Area {
    const EMPTY: Area = Area {
        x0: usize::MAX,
        x1: 0,
        y0: usize::MAX,
        y1: 0,
    };

    fn union(self, other: Area) -> Area {
        Area {
            x0: self.x0.min(other.x0),
            x1: self.x1.max(other.x1),
            y0: self.y0.min(other.y0),
            y1: self.y1.max(other.y1),
        }
    }

    /// `by` samples wider on every side, within a `w` × `h` picture (empty
    /// stays empty).
    fn grown(self, by: usize, w: usize, h: usize) -> Area {
        if self.x0 >= self.x1 || self.y0 >= self.y1 {
            return Area {
                x0: 0,
                x1: 0,
                y0: 0,
                y1: 0,
            };
        }
        Area {
            x0: self.x0.saturating_sub(by),
            x1: (self.x1 + by).min(w),
            y0: self.y0.saturating_sub(by),
            y1: (self.y1 + by).min(h),
        }
    }
}

/// The samples of row `sy` between `x0` and `x1` that can be inside the
/// triangle with these sides: each edge function is linear along the row,
/// so each side bounds the row on one end. A sample's own test decides; the
/// span is one sample wider on each end than the bounds, so rounding here
/// never drops a sample, and a long thin triangle costs what it covers
/// rather than its bounding box. `None` when the row misses the triangle.
fn row_span(sides: &[(V3, V3); 3], det: f32, sy: f32, x0: usize, x1: usize) -> Option<(usize, usize)> {
    let (mut low, mut high) = (x0 as f32, x1 as f32);
    for &(p, q) in sides {
        // The edge function at sample x + 0.5 is `at + slope * x`.
        let slope = -(q[1] - p[1]) / det;
        let at = ((q[0] - p[0]) * (sy - p[1]) - (q[1] - p[1]) * (0.5 - p[0])) / det;
        if slope > 0.0 {
            low = low.max(-at / slope);
        } else if slope < 0.0 {
            high = high.min(-at / slope);
        } else if at < 0.0 {
            return None;
        }
    }
    if !(low.is_finite() && high.is_finite()) {
        return Some((x0, x1));
    }
    let from = (low.floor() - 1.0).max(x0 as f32) as usize;
    let to = ((high.ceil() + 2.0).max(0.0) as usize).min(x1);
    (from < to).then_some((from, to))
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Line {
    None,
    Crease,
    Outline,
}

/// Marks both samples of every neighbouring pair (right and below) that an
/// edge separates: a crease where the facets turn by more than
/// [`CREASE_DEGREES`], an outline where the part meets the background or
/// where the depth jumps further than both surfaces' slopes explain.
/// Only pairs with a sample in `area` are looked at: elsewhere both are
/// background.
fn edges(depth: &[f32], owner: &[u32], facets: &[Facet], (w, h): (usize, usize), area: Area, jump: f32) -> Vec<Line> {
    let cos_crease = CREASE_DEGREES.to_radians().cos();
    let mut lines = vec![Line::None; w * h];
    let classify = |i: usize, j: usize, step: [f32; 2]| -> Line {
        match (owner[i], owner[j]) {
            (NOTHING, NOTHING) => Line::None,
            (NOTHING, _) | (_, NOTHING) => Line::Outline,
            (a, b) if a == b => Line::None,
            (a, b) => {
                let (fa, fb) = (&facets[a as usize], &facets[b as usize]);
                let ahead = depth[i] + fa.gradient[0] * step[0] + fa.gradient[1] * step[1];
                let back = depth[j] - fb.gradient[0] * step[0] - fb.gradient[1] * step[1];
                if (depth[j] - ahead).abs() > jump && (depth[i] - back).abs() > jump {
                    Line::Outline
                } else if dot(fa.normal, fb.normal) < cos_crease {
                    Line::Crease
                } else {
                    Line::None
                }
            }
        }
    };
    for y in area.y0..area.y1 {
        for x in area.x0..area.x1 {
            let i = y * w + x;
            for (j, step, ok) in [(i + 1, [1.0, 0.0], x + 1 < w), (i + w, [0.0, 1.0], y + 1 < h)] {
                if !ok {
                    continue;
                }
                let line = classify(i, j, step);
                if line != Line::None {
                    lines[i] = lines[i].max(line);
                    lines[j] = lines[j].max(line);
                }
            }
        }
    }
    // Outlines a sample wider, so the part stands out from what is behind it.
    let mut wide = lines.clone();
    for y in area.y0..area.y1 {
        for x in area.x0..area.x1 {
            if lines[y * w + x] == Line::Outline {
                for (nx, ny) in [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)] {
                    if nx < w && ny < h {
                        wide[ny * w + nx] = Line::Outline;
                    }
                }
            }
        }
    }
    wide
}

/// Averages each pixel's samples (colour weighted by coverage), over a
/// transparent background; pixels with no sample in `area` are background.
fn resolve(owner: &[u32], facets: &[Facet], lines: &[Line], options: Options, w: usize, area: Area) -> Image {
    let (width, height) = (options.width as usize, options.height as usize);
    let mut rgba = vec![0u8; width * height * 4];
    let per_pixel = (SUPERSAMPLE * SUPERSAMPLE) as f32;
    let pixels = |from: usize, to: usize, side: usize| (from / SUPERSAMPLE, to.div_ceil(SUPERSAMPLE).min(side));
    let ((px0, px1), (py0, py1)) = (pixels(area.x0, area.x1, width), pixels(area.y0, area.y1, height));
    for py in py0..py1 {
        for px in px0..px1 {
            let mut sum = [0f32; 3];
            let mut covered = 0f32;
            for sy in 0..SUPERSAMPLE {
                for sx in 0..SUPERSAMPLE {
                    let i = (py * SUPERSAMPLE + sy) * w + px * SUPERSAMPLE + sx;
                    let colour = match (lines[i], owner[i]) {
                        (Line::Outline, _) => OUTLINE_COLOUR,
                        (Line::Crease, _) => CREASE_COLOUR,
                        (Line::None, NOTHING) => continue,
                        (Line::None, id) => BASE.map(|c| c * facets[id as usize].shade),
                    };
                    for k in 0..3 {
                        sum[k] += colour[k];
                    }
                    covered += 1.0;
                }
            }
            if covered > 0.0 {
                let o = (py * width + px) * 4;
                for k in 0..3 {
                    rgba[o + k] = (sum[k] / covered * 255.0).round().clamp(0.0, 255.0) as u8;
                }
                rgba[o + 3] = (covered / per_pixel * 255.0).round() as u8;
            }
        }
    }
    Image {
        width: options.width,
        height: options.height,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edge and resolve passes look only near what was drawn, and draw
    /// exactly what they draw over the whole picture: parts off-centre,
    /// small, flat, and a scatter of loose triangles.
    #[test]
    fn looking_only_near_the_part_draws_the_same_picture() {
        let quad = |a: V3, b: V3, c: V3, d: V3| [[a, b, c], [a, c, d]];
        let cuboid = |l: V3, h: V3| -> Vec<Triangle> {
            let p = |x: usize, y: usize, z: usize| [[l[0], h[0]][x], [l[1], h[1]][y], [l[2], h[2]][z]];
            [
                quad(p(0, 0, 0), p(1, 0, 0), p(1, 1, 0), p(0, 1, 0)),
                quad(p(0, 0, 1), p(1, 0, 1), p(1, 1, 1), p(0, 1, 1)),
                quad(p(0, 0, 0), p(1, 0, 0), p(1, 0, 1), p(0, 0, 1)),
                quad(p(0, 1, 0), p(1, 1, 0), p(1, 1, 1), p(0, 1, 1)),
                quad(p(0, 0, 0), p(0, 1, 0), p(0, 1, 1), p(0, 0, 1)),
                quad(p(1, 0, 0), p(1, 1, 0), p(1, 1, 1), p(1, 0, 1)),
            ]
            .concat()
        };
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as f32 / (1u64 << 31) as f32 * 50.0
        };
        let scatter: Vec<Triangle> = (0..60)
            .map(|_| std::array::from_fn(|_| [next(), next(), next()]))
            .collect();
        let mut cases = vec![
            cuboid([0.0, 0.0, 0.0], [40.0, 20.0, 10.0]),
            cuboid([1000.0, -500.0, 3.0], [1001.0, -499.0, 200.0]),
            cuboid([0.0, 0.0, 0.0], [100.0, 100.0, 0.5]),
            scatter,
        ];
        let mut two = cuboid([0.0, 0.0, 0.0], [5.0, 5.0, 5.0]);
        two.extend(cuboid([30.0, 0.0, 0.0], [35.0, 5.0, 5.0]));
        cases.push(two);
        for (n, triangles) in cases.iter().enumerate() {
            for options in [
                Options::default(),
                Options {
                    width: 300,
                    height: 120,
                },
            ] {
                let near = draw(triangles, options, true);
                let all = draw(triangles, options, false);
                assert!(near.rgba.iter().any(|&b| b != 0), "case {n} draws nothing");
                assert!(near == all, "case {n} at {options:?} draws differently near the part");
            }
        }
    }

    /// Every sample inside a triangle (by the rasterizer's own test) lies
    /// in its row's span: slivers, steep and flat sides, both windings,
    /// corners off the grid and outside it.
    #[test]
    fn a_rows_span_holds_every_sample_inside_the_triangle() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) * 140.0 - 20.0
        };
        let (w, h) = (100usize, 100usize);
        let mut triangles: Vec<[V3; 3]> = (0..400)
            .map(|_| [[next(), next(), 0.0], [next(), next(), 0.0], [next(), next(), 0.0]])
            .collect();
        triangles.push([[0.2, 0.3, 0.0], [99.7, 0.9, 0.0], [99.9, 1.4, 0.0]]); // a sliver
        triangles.push([[10.0, 5.0, 0.0], [10.0, 95.0, 0.0], [60.0, 50.0, 0.0]]); // a vertical side
        triangles.push([[5.0, 40.0, 0.0], [95.0, 40.0, 0.0], [50.0, 41.0, 0.0]]); // a flat side
        let mut inside = 0;
        for [a, b, c] in triangles {
            let det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
            if det.abs() < 1e-12 {
                continue;
            }
            let edge = |p: V3, q: V3, x: f32, y: f32| ((q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])) / det;
            let sides = [(b, c), (c, a), (a, b)];
            for y in 0..h {
                let sy = y as f32 + 0.5;
                let span = row_span(&sides, det, sy, 0, w);
                for x in 0..w {
                    let sx = x as f32 + 0.5;
                    if edge(b, c, sx, sy) >= 0.0 && edge(c, a, sx, sy) >= 0.0 && edge(a, b, sx, sy) >= 0.0 {
                        inside += 1;
                        let (from, to) = span.unwrap_or_else(|| panic!("row {y} of {a:?} {b:?} {c:?} has no span"));
                        assert!((from..to).contains(&x), "sample {x} of row {y} outside {from}..{to}");
                    }
                }
            }
        }
        assert!(inside > 10_000, "{inside} samples inside: the triangles miss the grid");
    }
}
