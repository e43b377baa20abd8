//! Involute spur gear. The outline is computed twice from the same recipe:
//! here, to get the expected volume (area × thickness) and the bounding box,
//! and in the emitted Python, to build the FreeCAD face. The Python twin
//! builds each tooth from four pieces — a Bézier curve of degree 6 through
//! points of each involute flank, an arc across the tip land, and a
//! rounded root (an arc or, for few teeth, a cubic) where the root circle is
//! inside the base circle, else an arc of the root circle — so a gear has
//! four side faces per tooth. Here the same outline is sampled finely as a
//! polygon, whose area and extent agree with FreeCAD's to well under the
//! verification tolerance. The gear is one face extruded once, never tooth
//! by tooth.

use std::f64::consts::PI;

/// Standard pressure angle, degrees.
pub const PRESSURE_ANGLE_DEG: f64 = 20.0;
/// Face width when none is given, in modules (common range is 8–12).
pub const DEFAULT_FACE_WIDTH_MODULES: f64 = 8.0;
/// The degree of the Bezier curve the Python twin makes each flank of.
#[cfg(test)]
const FLANK_DEGREE: u32 = 6;
/// Polygon segments per flank, across the tip land and along each root gap
/// when the outline is sampled here: fine enough that the polygon's area is
/// within 0.01 % of the true outline's.
const FLANK_SEGMENTS: u32 = 48;
const TIP_SEGMENTS: u32 = 16;
const ROOT_SEGMENTS: u32 = 16;
/// Where each flank starts, as a roll angle of the involute (radians): at
/// least this far from the base circle, where the involute's tangent is
/// undefined.
const FLANK_START_ROLL: f64 = 0.02;
pub const MIN_TEETH: u32 = 8;
pub const MAX_TEETH: u32 = 300;

/// The Python twin of [`outline`]; it must stay in step with it.
pub const PYTHON_OUTLINE: &str = r#"# Involute teeth: addendum 1 module, dedendum 1.25 modules, a radial flank
# foot below the base circle (see the root below). Each flank is one Bezier curve of
# degree 6 through 7 points of the involute, taken at Chebyshev nodes of
# the roll angle: within a millionth of a module of the involute, and one
# span, which FreeCAD measures and exports much faster than a spline of
# many. The tip land is an arc; so is the root gap of a gear whose root
# circle is outside its base circle. Four side faces per tooth. The first
# tooth's pieces are computed once and turned into place for the others.
flank_degree = 6
alpha = math.radians(PRESSURE_ANGLE)
pitch_radius = MODULE * TEETH / 2
base_radius = pitch_radius * math.cos(alpha)
tip_radius = pitch_radius + MODULE
root_radius = pitch_radius - 1.25 * MODULE
inv_alpha = math.tan(alpha) - alpha


def half_angle(t):
    # Half the angular tooth thickness where the involute's roll parameter is t.
    return math.pi / (2 * TEETH) + inv_alpha - (t - math.atan(t))


def polar(r, a):
    return Vector(r * math.cos(a), r * math.sin(a), 0)


def involute_radius(t):
    return base_radius * math.sqrt(1 + t * t)


def arc(r, a0, a1):
    return Part.Arc(polar(r, a0), polar(r, (a0 + a1) / 2), polar(r, a1)).toShape()


def bezier_poles(points):
    # The poles of the Bezier curve of degree len(points) - 1 that passes
    # through the points at the Chebyshev-Lobatto nodes of its parameter.
    n = len(points) - 1
    nodes = [(1 - math.cos(math.pi * i / n)) / 2 for i in range(n + 1)]
    # One row per point: the Bernstein polynomials at its node, then x and y.
    rows = []
    for s, p in zip(nodes, points):
        rows.append([math.comb(n, j) * s**j * (1 - s) ** (n - j) for j in range(n + 1)] + [p.x, p.y])
    for col in range(n + 1):  # Gauss-Jordan elimination, partial pivoting
        pivot = max(range(col, n + 1), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n + 1):
            if r != col:
                f = rows[r][col] / rows[col][col]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[col])]
    poles = [Vector(row[n + 1] / row[j], row[n + 2] / row[j], 0) for j, row in enumerate(rows)]
    poles[0], poles[-1] = points[0], points[-1]
    return poles


def bezier(poles, c):
    # A piece of the first tooth turned by c about the axis.
    cos_c, sin_c = math.cos(c), math.sin(c)
    curve = Part.BezierCurve()
    curve.setPoles([Vector(p.x * cos_c - p.y * sin_c, p.x * sin_c + p.y * cos_c, 0) for p in poles])
    return curve.toShape()


t_start = math.sqrt(max(0.0, (max(root_radius, base_radius) / base_radius) ** 2 - 1))
t_tip = math.sqrt((tip_radius / base_radius) ** 2 - 1)
# From the base circle the involute starts at no speed, which makes its
# tangent undefined there; the curve starts 0.02 rad of roll later, where
# the involute is 3e-6 rad off the radial flank that continues it.
t_flank = max(t_start, 0.02)
rolls = [t_flank + (t_tip - t_flank) * (1 - math.cos(math.pi * i / flank_degree)) / 2 for i in range(flank_degree + 1)]
left_poles = bezier_poles([polar(involute_radius(t), -half_angle(t)) for t in rolls])
right_poles = [Vector(p.x, -p.y, 0) for p in reversed(left_poles)]
a_flank, a_tip = half_angle(t_flank), half_angle(t_tip)
r_flank = involute_radius(t_flank)
pitch_angle = 2 * math.pi / TEETH
h = math.pi / TEETH - a_flank  # half the angle between two flanks' feet
# The root between two teeth, from a flank's foot to the next flank's.
# When the root circle is inside the base circle: the arc through both feet
# and the root circle's point halfway when it is at most a half circle
# (from about 21 teeth up; a full round root, flatter as the teeth grow),
# else a cubic that leaves and reaches the feet radially and touches the
# root circle halfway. Either is one face per tooth and the fillet a cut
# gear has; a larger arc would undercut the flanks.
round_root = root_radius < base_radius and r_flank * math.cos(h) - root_radius <= r_flank * math.sin(h)
if root_radius < base_radius and not round_root:
    reach = 4 / 3 * (r_flank - root_radius / math.cos(h))
    root_poles = [
        polar(r_flank, a_flank),
        polar(r_flank - reach, a_flank),
        polar(r_flank - reach, pitch_angle - a_flank),
        polar(r_flank, pitch_angle - a_flank),
    ]
gear_edges = []
for k in range(TEETH):
    c = pitch_angle * k
    gear_edges += [bezier(left_poles, c), arc(tip_radius, c - a_tip, c + a_tip), bezier(right_poles, c)]
    if round_root:
        feet = (polar(r_flank, c + a_flank), polar(r_flank, c + pitch_angle - a_flank))
        gear_edges.append(Part.Arc(feet[0], polar(root_radius, c + pitch_angle / 2), feet[1]).toShape())
    elif root_radius < base_radius:
        gear_edges.append(bezier(root_poles, c))
    else:
        gear_edges.append(arc(root_radius, c + a_flank, c + pitch_angle - a_flank))
gear_wire = Part.Wire(gear_edges)"#;

/// Radii of a standard full-depth gear.
pub struct Radii {
    pub base: f64,
    pub tip: f64,
    pub root: f64,
}

pub fn radii(module: f64, teeth: u32) -> Radii {
    let pitch = module * f64::from(teeth) / 2.0;
    Radii {
        base: pitch * PRESSURE_ANGLE_DEG.to_radians().cos(),
        tip: pitch + module,
        root: pitch - 1.25 * module,
    }
}

/// The gear outline as a closed polygon (last point not repeated), or
/// `None` when the teeth would be pointed or overlap.
pub fn outline(module: f64, teeth: u32) -> Option<Vec<(f64, f64)>> {
    sampled(module, teeth, 1)
}

/// [`outline`] with `density` times as many samples along each piece.
fn sampled(module: f64, teeth: u32, density: u32) -> Option<Vec<(f64, f64)>> {
    let (flank_segments, tip_segments, root_segments) = (
        FLANK_SEGMENTS * density,
        TIP_SEGMENTS * density,
        ROOT_SEGMENTS * density,
    );
    let z = f64::from(teeth);
    let r = radii(module, teeth);
    let alpha = PRESSURE_ANGLE_DEG.to_radians();
    let inv_alpha = alpha.tan() - alpha;
    let half_angle = |t: f64| PI / (2.0 * z) + inv_alpha - (t - t.atan());
    let involute_radius = |t: f64| r.base * (1.0 + t * t).sqrt();
    let polar = |radius: f64, a: f64| (radius * a.cos(), radius * a.sin());

    let t_start = ((r.root.max(r.base) / r.base).powi(2) - 1.0).max(0.0).sqrt();
    let t_tip = ((r.tip / r.base).powi(2) - 1.0).sqrt();
    // As the Python twin: the flank starts 0.02 of roll above the base circle.
    let t_flank = t_start.max(FLANK_START_ROLL);
    let rolls: Vec<f64> = (0..=flank_segments)
        .map(|i| t_flank + (t_tip - t_flank) * f64::from(i) / f64::from(flank_segments))
        .collect();
    let (a_flank, a_tip) = (half_angle(t_flank), half_angle(t_tip));
    let r_flank = involute_radius(t_flank);
    let pitch_angle = 2.0 * PI / z;
    if a_tip <= 0.0 || pitch_angle <= 2.0 * a_flank || r.root <= 0.0 {
        return None;
    }
    // The root between two teeth, from one flank's foot to the next's,
    // turned by `c`, as the Python twin makes it: the arc through both feet
    // and the root circle's point halfway when that is at most a half
    // circle, else the cubic that leaves and reaches the feet radially and
    // touches the root circle halfway; an arc of the root circle when the
    // flanks end on it.
    let h = PI / z - a_flank;
    let turn = |c: f64, (x, y): (f64, f64)| (x * c.cos() - y * c.sin(), x * c.sin() + y * c.cos());
    let (sagitta, half_chord) = (r_flank * h.cos() - r.root, r_flank * h.sin());
    let root: Box<dyn Fn(f64, f64) -> (f64, f64)> = if r.root >= r.base {
        Box::new(move |c, s| polar(r.root, c + a_flank + (pitch_angle - 2.0 * a_flank) * s))
    } else if sagitta <= half_chord {
        // Along the bisector (x) from the axis: the arc's centre lies at
        // `centre`, its radius reaches the root circle.
        let centre = (r_flank * r_flank - r.root * r.root) / (2.0 * sagitta);
        let radius = centre - r.root;
        let sweep = half_chord.atan2(centre - r_flank * h.cos());
        Box::new(move |c, s| {
            let psi = -sweep + 2.0 * sweep * s;
            turn(c + pitch_angle / 2.0, (centre - radius * psi.cos(), radius * psi.sin()))
        })
    } else {
        let reach = 4.0 / 3.0 * (r_flank - r.root / h.cos());
        let poles = [
            polar(r_flank, a_flank),
            polar(r_flank - reach, a_flank),
            polar(r_flank - reach, pitch_angle - a_flank),
            polar(r_flank, pitch_angle - a_flank),
        ];
        Box::new(move |c, s| {
            let w = [
                (1.0 - s).powi(3),
                3.0 * s * (1.0 - s).powi(2),
                3.0 * s * s * (1.0 - s),
                s.powi(3),
            ];
            turn(
                c,
                (0..4).fold((0.0, 0.0), |(x, y), i| (x + w[i] * poles[i].0, y + w[i] * poles[i].1)),
            )
        })
    };
    let mut points = Vec::new();
    for k in 0..teeth {
        let c = pitch_angle * f64::from(k);
        points.extend(rolls.iter().map(|&t| polar(involute_radius(t), c - half_angle(t))));
        points.extend(
            (1..tip_segments).map(|i| polar(r.tip, c - a_tip + 2.0 * a_tip * f64::from(i) / f64::from(tip_segments))),
        );
        points.extend(
            rolls
                .iter()
                .rev()
                .map(|&t| polar(involute_radius(t), c + half_angle(t))),
        );
        points.extend((1..root_segments).map(|i| root(c, f64::from(i) / f64::from(root_segments))));
    }
    Some(points)
}

/// Shoelace area of a closed polygon.
#[cfg(test)]
fn polygon_area(points: &[(f64, f64)]) -> f64 {
    let n = points.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (a, b) = (points[i], points[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum();
    twice.abs() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_area_lies_between_root_and_tip_circles() {
        for teeth in [8, 17, 20, 41, 42, 60, 300] {
            let points = outline(2.0, teeth).expect("valid gear");
            let r = radii(2.0, teeth);
            let area = polygon_area(&points);
            assert!(
                area > PI * r.root * r.root && area < PI * r.tip * r.tip,
                "teeth {teeth}"
            );
        }
    }

    #[test]
    fn python_twin_makes_its_flanks_of_the_stated_degree_from_the_same_roll() {
        assert!(PYTHON_OUTLINE.contains(&format!("flank_degree = {FLANK_DEGREE}\n")));
        assert!(PYTHON_OUTLINE.contains(&format!("t_flank = max(t_start, {FLANK_START_ROLL})\n")));
    }

    #[test]
    fn every_gear_of_the_catalogue_range_has_a_root_on_the_root_circle() {
        // The root cubic's reach stays positive (it dips inward) and the
        // outline comes nearest the axis at the root circle, never inside it.
        for teeth in MIN_TEETH..=MAX_TEETH {
            let points = outline(1.0, teeth).unwrap_or_else(|| panic!("{teeth} teeth"));
            let r = radii(1.0, teeth);
            let nearest = points.iter().map(|(x, y)| x.hypot(*y)).fold(f64::INFINITY, f64::min);
            assert!(
                nearest >= r.root - 1e-3 && nearest <= r.root + 0.05,
                "{teeth} teeth: {nearest} vs {}",
                r.root
            );
        }
    }

    #[test]
    fn the_sampled_polygon_is_as_close_to_the_outline_as_its_area_needs() {
        // Twice as many samples change the area by far less than the
        // verification tolerance (0.5 %).
        let coarse = polygon_area(&sampled(2.0, 30, 1).unwrap());
        let fine = polygon_area(&sampled(2.0, 30, 2).unwrap());
        assert!((coarse - fine).abs() / fine < 1e-4, "{coarse} vs {fine}");
    }
}
