//! The part spec: a typed, versioned description of one part that every
//! generator produces (the offline prompt reader, a language model, the web
//! client's parameter editor) and one compiler turns into a FreeCAD script.
//!
//! A spec is a base solid and a list of features applied in order:
//!
//! - the base is a shortcut (box, cylinder, tube, sphere, cone, torus,
//!   regular prism, a standard profile, a spur gear) or a sketch of closed
//!   loops on a plane, extruded or revolved; the shortcuts are lowered to
//!   the same sketch-and-extrude form by the compiler;
//! - features are holes (through, blind, counterbored) at positions given
//!   as points or linear / circular / grid patterns, pockets and bosses
//!   sketched on the top face, fillets and chamfers by edge selection, and a
//!   shell with an open top.
//!
//! Every length is in millimetres and every dimension is a named
//! parameter: [`PartSpec::parameters`] lists them (`length`,
//! `hole_diameter`, `fillet_radius`, …) and [`PartSpec::set_parameter`]
//! changes one, so a person can edit a part without knowing the structure.
//!
//! Coordinates: a box spans `[0, length] × [0, width] × [0, height]`; round
//! and polygonal bases stand on the XY plane centred on the Z axis. A sketch
//! on the XY plane maps `(u, v)` to `(u, v, offset)` and extrudes along +Z;
//! on XZ to `(u, offset, v)` along +Y; on YZ to `(offset, u, v)` along +X.
//!
//! This module only checks what a spec says on its own (positive, finite,
//! sane sizes, naming the field); whether features fit the base is the
//! compiler's job, because it needs the geometry.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The spec format written by this code.
pub const SPEC_VERSION: u32 = 1;

/// Largest length a spec may hold (10 m): beyond it a value is a mistake.
pub const MAX_LENGTH_MM: f64 = 10_000.0;

/// Smallest length a spec may hold (1 µm).
pub const MIN_LENGTH_MM: f64 = 0.001;

/// How many earlier versions a spec keeps for `undo`.
pub const MAX_HISTORY: usize = 20;

/// A part: a base solid, features applied in order, and the earlier
/// versions of the conversation it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// Always 1 for this format.
    pub spec_version: u32,
    /// The family the part belongs to, in snake case: `box`, `plate`,
    /// `flange`, `spur_gear`, `sketch`, … Used in replies and file names.
    pub part: String,
    /// How the part is called in replies ("Plate", "Rod"). Optional.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    pub base: Base,
    /// Applied in order to the base.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// Move the finished part.
    #[serde(default, skip_serializing_if = "Placement::is_identity")]
    pub placement: Placement,
    /// Earlier versions, oldest first, each with an empty `history`; `undo`
    /// returns to the last one. At most [`MAX_HISTORY`] are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<PartSpec>,
}

/// The solid every feature is applied to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Base {
    /// `[0, length] × [0, width] × [0, height]`.
    Box { length: f64, width: f64, height: f64 },
    /// Axis Z, standing on z = 0.
    Cylinder { diameter: f64, height: f64 },
    /// A cylinder with a concentric through bore.
    Tube {
        outer_diameter: f64,
        inner_diameter: f64,
        height: f64,
    },
    /// Centred on the origin.
    Sphere { diameter: f64 },
    /// Cone or frustum on z = 0; `top_diameter` 0 for a point.
    Cone {
        bottom_diameter: f64,
        top_diameter: f64,
        height: f64,
    },
    /// Ring around the Z axis, centred on the origin.
    Torus {
        /// Diameter of the circle through the tube's centre.
        ring_diameter: f64,
        /// Diameter of the tube.
        tube_diameter: f64,
    },
    /// Regular polygon prism with one flat parallel to X (a hex nut's body).
    Prism { sides: u32, across_flats: f64, height: f64 },
    /// A standard profile sketched on XZ (width along X, height along Z)
    /// and extruded `length` along +Y.
    Profile {
        profile: ProfileShape,
        /// Extrusion length along Y.
        length: f64,
    },
    /// Involute spur gear, 20° pressure angle, full-depth teeth, on z = 0.
    SpurGear { module: f64, teeth: u32, thickness: f64 },
    /// Closed loops on a plane, extruded along the plane's normal. The
    /// first loop is the outline, the others are holes in it.
    Extrude {
        sketch: Sketch,
        distance: f64,
        /// Extrude half the distance to each side of the plane.
        #[serde(default)]
        symmetric: bool,
    },
    /// One closed loop on the XZ plane (u = radius ≥ 0, v = z) revolved
    /// about the Z axis.
    Revolve {
        sketch: Sketch,
        /// 360 for a full revolution.
        angle_deg: f64,
    },
}

/// Standard profiles. Along X: width; along Z: height.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProfileShape {
    /// Right triangle, right angle at the origin.
    Triangle { width: f64, height: f64 },
    /// Isosceles trapezoid: `bottom` on z = 0, `top` centred above it.
    Trapezoid { bottom: f64, top: f64, height: f64 },
    /// L: a horizontal leg `width` long and a vertical leg `height` tall,
    /// both `thickness` thick, sharing the corner at the origin.
    L { width: f64, height: f64, thickness: f64 },
    /// T: a flange `width` wide on top of a centred stem.
    T { width: f64, height: f64, thickness: f64 },
    /// U (channel): a base `width` wide and two side walls `height` tall.
    U { width: f64, height: f64, thickness: f64 },
}

/// A plane: one of the three principal planes, moved along its normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plane {
    Xy,
    Xz,
    Yz,
}

/// Closed loops on a plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sketch {
    pub plane: Plane,
    /// Distance of the sketch from the principal plane, along its normal.
    #[serde(default)]
    pub offset: f64,
    pub loops: Vec<Loop>,
}

/// One closed loop in sketch coordinates `(u, v)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Loop {
    Circle {
        center: [f64; 2],
        diameter: f64,
    },
    /// Axis-aligned rectangle from `corner`.
    Rectangle {
        corner: [f64; 2],
        size: [f64; 2],
    },
    /// Lines and arcs from `start`; the last segment must end at `start`.
    Path {
        start: [f64; 2],
        segments: Vec<Segment>,
    },
}

/// One piece of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    Line {
        to: [f64; 2],
    },
    /// A circular arc from the previous point through `through` to `to`.
    Arc {
        through: [f64; 2],
        to: [f64; 2],
    },
}

/// Where features sit on the top face (or, for holes across the part, on
/// the plane perpendicular to their axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Positions {
    Points {
        points: Vec<[f64; 2]>,
    },
    /// `count` positions from `start`, each `step` further.
    Linear {
        start: [f64; 2],
        step: [f64; 2],
        count: u32,
    },
    /// `count` positions evenly on a circle, the first at `start_angle_deg`
    /// from +X.
    Circular {
        center: [f64; 2],
        diameter: f64,
        count: u32,
        #[serde(default)]
        start_angle_deg: f64,
    },
    /// `counts[0] × counts[1]` positions from `start`.
    Grid {
        start: [f64; 2],
        step: [f64; 2],
        counts: [u32; 2],
    },
}

impl Positions {
    /// Every position, in order.
    pub fn points(&self) -> Vec<[f64; 2]> {
        match self {
            Positions::Points { points } => points.clone(),
            Positions::Linear { start, step, count } => (0..*count)
                .map(|i| [start[0] + step[0] * f64::from(i), start[1] + step[1] * f64::from(i)])
                .collect(),
            Positions::Circular {
                center,
                diameter,
                count,
                start_angle_deg,
            } => (0..*count)
                .map(|i| {
                    let a = start_angle_deg.to_radians() + std::f64::consts::TAU * f64::from(i) / f64::from(*count);
                    [
                        center[0] + diameter / 2.0 * a.cos(),
                        center[1] + diameter / 2.0 * a.sin(),
                    ]
                })
                .collect(),
            Positions::Grid { start, step, counts } => (0..counts[1])
                .flat_map(|j| {
                    (0..counts[0]).map(move |i| [start[0] + step[0] * f64::from(i), start[1] + step[1] * f64::from(j)])
                })
                .collect(),
        }
    }

    pub fn count(&self) -> u32 {
        match self {
            Positions::Points { points } => points.len() as u32,
            Positions::Linear { count, .. } | Positions::Circular { count, .. } => *count,
            Positions::Grid { counts, .. } => counts[0].saturating_mul(counts[1]),
        }
    }

    /// Moves every position by `(dx, dy)`.
    pub fn translate(&mut self, dx: f64, dy: f64) {
        match self {
            Positions::Points { points } => {
                for p in points {
                    p[0] += dx;
                    p[1] += dy;
                }
            }
            Positions::Linear { start, .. } | Positions::Grid { start, .. } => {
                start[0] += dx;
                start[1] += dy;
            }
            Positions::Circular { center, .. } => {
                center[0] += dx;
                center[1] += dy;
            }
        }
    }
}

/// The direction a hole is drilled along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// Down from the top; positions are `(x, y)`.
    #[default]
    Z,
    /// From +X towards −X; positions are `(y, z)`.
    X,
    /// From +Y towards −Y; positions are `(x, z)`.
    Y,
}

/// Which edges a fillet or chamfer rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Edges {
    /// Edges parallel to Z.
    Vertical,
    /// Edges of the top face.
    Top,
    /// Edges of the bottom face.
    Bottom,
    /// Every edge of the base.
    All,
}

impl Edges {
    pub fn describe(self) -> &'static str {
        match self {
            Edges::Vertical => "vertical edges",
            Edges::Top => "top edges",
            Edges::Bottom => "bottom edges",
            Edges::All => "all edges",
        }
    }
}

/// A counterbore at the entry of a hole.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counterbore {
    pub diameter: f64,
    pub depth: f64,
}

/// A change to the base, applied in list order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Feature {
    /// Round holes; through when `depth` is absent.
    Hole {
        /// Parameter prefix (`hole`, `bore`, `bolt_hole`). Optional.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        diameter: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counterbore: Option<Counterbore>,
        #[serde(default)]
        axis: Axis,
        at: Positions,
    },
    /// A sketch on the top face cut down into the part; through when
    /// `depth` is absent. Sketch plane and offset are ignored: it is always
    /// the top face.
    Pocket {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        loops: Vec<Loop>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        depth: Option<f64>,
    },
    /// A sketch on the top face extruded up and joined to the part.
    Boss {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        loops: Vec<Loop>,
        height: f64,
    },
    Fillet {
        radius: f64,
        edges: Edges,
    },
    Chamfer {
        size: f64,
        edges: Edges,
    },
    /// Hollows the part, leaving side walls `wall` thick, a floor `floor`
    /// thick (`wall` when absent) and the top open.
    Shell {
        wall: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        floor: Option<f64>,
    },
}

impl Feature {
    /// The word used for this feature in parameter names and replies.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Feature::Hole { .. } => "hole",
            Feature::Pocket { .. } => "pocket",
            Feature::Boss { .. } => "boss",
            Feature::Fillet { .. } => "fillet",
            Feature::Chamfer { .. } => "chamfer",
            Feature::Shell { .. } => "shell",
        }
    }

    fn prefix(&self) -> String {
        let name = match self {
            Feature::Hole { name, .. } | Feature::Pocket { name, .. } | Feature::Boss { name, .. } => name.as_str(),
            _ => "",
        };
        if name.is_empty() {
            self.kind_name().to_string()
        } else {
            name.to_string()
        }
    }
}

/// A translation of the finished part, or centring it on the origin.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Centre the part's bounding box on the origin (before `offset`).
    #[serde(default)]
    pub centered: bool,
    #[serde(default)]
    pub offset: [f64; 3],
}

impl Placement {
    pub fn is_identity(&self) -> bool {
        !self.centered && self.offset == [0.0; 3]
    }
}

/// What a parameter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// A size in mm: must be positive.
    Length,
    /// A coordinate in mm: any sign.
    Position,
    /// A whole number of things.
    Count,
    /// Degrees.
    Angle,
}

/// One named dimension of a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Parameter {
    /// Snake-case name, unique within the spec (`hole_diameter`).
    pub name: String,
    /// Millimetres for lengths and positions.
    pub value: f64,
    pub kind: ParameterKind,
    /// For people: "hole diameter".
    pub label: String,
}

/// A spec that says something impossible on its own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("spec_version {0} is not supported; this is version {SPEC_VERSION}")]
    Version(u32),
    #[error("The {0} must be a number, not {1}.")]
    NotFinite(String, f64),
    #[error("The {0} must be positive, not {1} mm.")]
    NotPositive(String, String),
    #[error("The {0} of {1} mm is too large; lengths are at most {max} m.", max = MAX_LENGTH_MM / 1000.0)]
    TooLarge(String, String),
    #[error("The {0} must be a whole number from {1} to {2}, not {3}.")]
    BadCount(String, u32, u32, String),
    #[error("There is no parameter named {0:?}; the parameters are {1}.")]
    UnknownParameter(String, String),
    #[error("{0}")]
    Invalid(String),
}

/// Largest count of anything (teeth, holes in one feature, polygon sides).
pub const MAX_COUNT: u32 = 500;

/// Number for error messages: at most three decimals.
fn human(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// A visitor over every named number of a spec.
enum Slot<'a> {
    Length(&'a mut f64),
    Position(&'a mut f64),
    Count(&'a mut u32, u32, u32),
    Angle(&'a mut f64),
}

impl PartSpec {
    /// A new spec with no features.
    pub fn new(part: impl Into<String>, base: Base) -> Self {
        PartSpec {
            spec_version: SPEC_VERSION,
            part: part.into(),
            label: String::new(),
            base,
            features: Vec::new(),
            placement: Placement::default(),
            history: Vec::new(),
        }
    }

    /// Makes this spec the next version of `base`: its history becomes the
    /// base's, then the base itself (without its own history), keeping at
    /// most [`MAX_HISTORY`] so `undo` returns to `base`.
    pub fn follow(&mut self, base: &PartSpec) {
        let mut history = base.history.clone();
        history.push(PartSpec {
            history: Vec::new(),
            ..base.clone()
        });
        if history.len() > MAX_HISTORY {
            history.drain(..history.len() - MAX_HISTORY);
        }
        self.history = history;
    }

    /// Every named number, in a stable order: base first, then features.
    pub fn parameters(&self) -> Vec<Parameter> {
        let mut copy = self.clone();
        let mut out = Vec::new();
        copy.visit(&mut |name, label, slot| {
            let (value, kind) = match slot {
                Slot::Length(v) => (*v, ParameterKind::Length),
                Slot::Position(v) => (*v, ParameterKind::Position),
                Slot::Count(n, ..) => (f64::from(*n), ParameterKind::Count),
                Slot::Angle(v) => (*v, ParameterKind::Angle),
            };
            out.push(Parameter {
                name: name.to_string(),
                value,
                kind,
                label: label.to_string(),
            });
        });
        out
    }

    /// The value of one parameter.
    pub fn parameter(&self, name: &str) -> Option<f64> {
        self.parameters().into_iter().find(|p| p.name == name).map(|p| p.value)
    }

    /// Changes one parameter and validates the result; on error the spec
    /// is unchanged. Returns the old value.
    pub fn set_parameter(&mut self, name: &str, value: f64) -> Result<f64, SpecError> {
        let mut changed = self.clone();
        let mut old = None;
        let mut error = None;
        changed.visit(&mut |n, label, slot| {
            if n != name {
                return;
            }
            match slot {
                Slot::Length(v) | Slot::Position(v) | Slot::Angle(v) => {
                    old = Some(*v);
                    *v = value;
                }
                Slot::Count(c, min, max) => {
                    old = Some(f64::from(*c));
                    if value.fract() != 0.0 || value < f64::from(min) || value > f64::from(max) {
                        error = Some(SpecError::BadCount(label.into(), min, max, human(value)));
                    } else {
                        *c = value as u32;
                    }
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        let Some(old) = old else {
            let names: Vec<String> = self.parameters().into_iter().map(|p| p.name).collect();
            return Err(SpecError::UnknownParameter(name.into(), names.join(", ")));
        };
        changed.validate()?;
        *self = changed;
        Ok(old)
    }

    /// Checks what the spec says on its own: version, finite positive
    /// sizes within range, counts within range. Names the field at fault.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.spec_version != SPEC_VERSION {
            return Err(SpecError::Version(self.spec_version));
        }
        let mut error = None;
        let mut copy = self.clone();
        copy.visit(&mut |_, label, slot| {
            if error.is_some() {
                return;
            }
            error = match slot {
                Slot::Length(v) => check_length(label, *v).err(),
                Slot::Position(v) | Slot::Angle(v) if !v.is_finite() => Some(SpecError::NotFinite(label.into(), *v)),
                Slot::Position(v) if v.abs() > MAX_LENGTH_MM => Some(SpecError::TooLarge(label.into(), human(*v))),
                Slot::Count(n, min, max) if *n < min || *n > max => {
                    Some(SpecError::BadCount(label.into(), min, max, n.to_string()))
                }
                _ => None,
            };
        });
        if let Some(e) = error {
            return Err(e);
        }
        self.check_structure()
    }

    fn check_structure(&self) -> Result<(), SpecError> {
        let loops_ok = |loops: &[Loop], what: &str| -> Result<(), SpecError> {
            if loops.is_empty() {
                return Err(SpecError::Invalid(format!("The {what} has no loop to extrude.")));
            }
            for l in loops {
                if let Loop::Path { start, segments } = l {
                    let end = segments.last().map(|s| match s {
                        Segment::Line { to } | Segment::Arc { to, .. } => *to,
                    });
                    let closed = end.is_some_and(|e| (e[0] - start[0]).hypot(e[1] - start[1]) < 1e-6);
                    if segments.len() < 2 || !closed {
                        return Err(SpecError::Invalid(format!(
                            "A path of the {what} must be closed: its last segment has to end at its start."
                        )));
                    }
                }
            }
            Ok(())
        };
        match &self.base {
            Base::Extrude { sketch, .. } => loops_ok(&sketch.loops, "sketch")?,
            Base::Revolve { sketch, angle_deg } => {
                loops_ok(&sketch.loops, "sketch")?;
                if !(*angle_deg > 0.0 && *angle_deg <= 360.0) {
                    return Err(SpecError::Invalid(format!(
                        "A revolve angle must be between 0 and 360°, not {}°.",
                        human(*angle_deg)
                    )));
                }
            }
            _ => {}
        }
        for f in &self.features {
            match f {
                Feature::Pocket { loops, .. } => loops_ok(loops, "pocket")?,
                Feature::Boss { loops, .. } => loops_ok(loops, "boss")?,
                Feature::Hole { at, .. } if at.count() == 0 => {
                    return Err(SpecError::Invalid("A hole feature needs at least one position.".into()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Walks every named number with its name and label.
    fn visit(&mut self, f: &mut dyn FnMut(&str, &str, Slot)) {
        visit_base(&mut self.base, f);
        let mut seen: Vec<String> = Vec::new();
        for feature in &mut self.features {
            let prefix = feature.prefix();
            let n = seen.iter().filter(|p| **p == prefix).count();
            seen.push(prefix.clone());
            let prefix = if n == 0 { prefix } else { format!("{prefix}{}", n + 1) };
            visit_feature(feature, &prefix, f);
        }
        let p = &mut self.placement;
        for (i, axis) in ["x", "y", "z"].iter().enumerate() {
            if p.offset[i] != 0.0 {
                let name = format!("offset_{axis}");
                f(&name, &name.replace('_', " "), Slot::Position(&mut p.offset[i]));
            }
        }
    }
}

fn check_length(label: &str, v: f64) -> Result<(), SpecError> {
    if !v.is_finite() {
        Err(SpecError::NotFinite(label.into(), v))
    } else if v < MIN_LENGTH_MM {
        Err(SpecError::NotPositive(label.into(), human(v)))
    } else if v > MAX_LENGTH_MM {
        Err(SpecError::TooLarge(label.into(), human(v)))
    } else {
        Ok(())
    }
}

fn visit_base(base: &mut Base, f: &mut dyn FnMut(&str, &str, Slot)) {
    use Slot::{Count, Length};
    match base {
        Base::Box { length, width, height } => {
            f("length", "length", Length(length));
            f("width", "width", Length(width));
            f("height", "height", Length(height));
        }
        Base::Cylinder { diameter, height } => {
            f("diameter", "diameter", Length(diameter));
            f("height", "height", Length(height));
        }
        Base::Tube {
            outer_diameter,
            inner_diameter,
            height,
        } => {
            f("outer_diameter", "outer diameter", Length(outer_diameter));
            f("inner_diameter", "inner diameter", Length(inner_diameter));
            f("height", "height", Length(height));
        }
        Base::Sphere { diameter } => f("diameter", "diameter", Length(diameter)),
        Base::Cone {
            bottom_diameter,
            top_diameter,
            height,
        } => {
            f("bottom_diameter", "bottom diameter", Length(bottom_diameter));
            // A pointed cone has a zero top: a position-like value (≥ 0 is checked by the compiler).
            f("top_diameter", "top diameter", Slot::Position(top_diameter));
            f("height", "height", Length(height));
        }
        Base::Torus {
            ring_diameter,
            tube_diameter,
        } => {
            f("ring_diameter", "ring diameter", Length(ring_diameter));
            f("tube_diameter", "tube diameter", Length(tube_diameter));
        }
        Base::Prism {
            sides,
            across_flats,
            height,
        } => {
            f("sides", "number of sides", Count(sides, 3, 64));
            f("across_flats", "across flats", Length(across_flats));
            f("height", "height", Length(height));
        }
        Base::Profile { profile, length } => {
            match profile {
                ProfileShape::Triangle { width, height } => {
                    f("width", "width", Length(width));
                    f("height", "height", Length(height));
                }
                ProfileShape::Trapezoid { bottom, top, height } => {
                    f("bottom_width", "bottom width", Length(bottom));
                    f("top_width", "top width", Length(top));
                    f("height", "height", Length(height));
                }
                ProfileShape::L {
                    width,
                    height,
                    thickness,
                }
                | ProfileShape::T {
                    width,
                    height,
                    thickness,
                }
                | ProfileShape::U {
                    width,
                    height,
                    thickness,
                } => {
                    f("width", "width", Length(width));
                    f("height", "height", Length(height));
                    f("thickness", "thickness", Length(thickness));
                }
            }
            f("length", "length", Length(length));
        }
        Base::SpurGear {
            module,
            teeth,
            thickness,
        } => {
            f("module", "module", Length(module));
            f("teeth", "number of teeth", Count(teeth, 8, 300));
            f("thickness", "thickness", Length(thickness));
        }
        Base::Extrude {
            sketch,
            distance,
            symmetric: _,
        } => {
            visit_loops(&mut sketch.loops, "sketch", f);
            f("distance", "extrusion distance", Length(distance));
        }
        Base::Revolve { sketch, angle_deg } => {
            visit_loops(&mut sketch.loops, "sketch", f);
            f("angle", "revolve angle", Slot::Angle(angle_deg));
        }
    }
}

/// Circle diameters and rectangle sizes of sketch loops are parameters;
/// path coordinates are geometry, not dimensions.
fn visit_loops(loops: &mut [Loop], prefix: &str, f: &mut dyn FnMut(&str, &str, Slot)) {
    let single = loops.len() == 1;
    for (i, l) in loops.iter_mut().enumerate() {
        let p = if single {
            prefix.to_string()
        } else {
            format!("{prefix}_loop{}", i + 1)
        };
        match l {
            Loop::Circle { diameter, .. } => {
                let name = format!("{p}_diameter");
                f(&name, &name.replace('_', " "), Slot::Length(diameter));
            }
            Loop::Rectangle { size, .. } => {
                let name = format!("{p}_length");
                f(&name, &name.replace('_', " "), Slot::Length(&mut size[0]));
                let name = format!("{p}_width");
                f(&name, &name.replace('_', " "), Slot::Length(&mut size[1]));
            }
            Loop::Path { .. } => {}
        }
    }
}

fn visit_feature(feature: &mut Feature, prefix: &str, f: &mut dyn FnMut(&str, &str, Slot)) {
    let named = |suffix: &str| format!("{prefix}_{suffix}");
    let length = |suffix: &str, v: &mut f64, f: &mut dyn FnMut(&str, &str, Slot)| {
        let name = named(suffix);
        f(&name, &name.replace('_', " "), Slot::Length(v));
    };
    match feature {
        Feature::Hole {
            diameter,
            depth,
            counterbore,
            at,
            ..
        } => {
            length("diameter", diameter, f);
            if let Some(d) = depth {
                length("depth", d, f);
            }
            if let Some(cb) = counterbore {
                length("counterbore_diameter", &mut cb.diameter, f);
                length("counterbore_depth", &mut cb.depth, f);
            }
            visit_positions(at, prefix, f);
        }
        Feature::Pocket { loops, depth, .. } => {
            visit_loops(loops, prefix, f);
            if let Some(d) = depth {
                length("depth", d, f);
            }
        }
        Feature::Boss { loops, height, .. } => {
            visit_loops(loops, prefix, f);
            length("height", height, f);
        }
        Feature::Fillet { radius, .. } => length("radius", radius, f),
        Feature::Chamfer { size, .. } => length("size", size, f),
        Feature::Shell { wall, floor } => {
            length("wall", wall, f);
            if let Some(fl) = floor {
                length("floor", fl, f);
            }
        }
    }
}

fn visit_positions(at: &mut Positions, prefix: &str, f: &mut dyn FnMut(&str, &str, Slot)) {
    let mut emit = |suffix: &str, slot: Slot| {
        let name = format!("{prefix}_{suffix}");
        f(&name, &name.replace('_', " "), slot);
    };
    match at {
        Positions::Points { points } => {
            if let [p] = points.as_mut_slice() {
                let [x, y] = p;
                emit("x", Slot::Position(x));
                emit("y", Slot::Position(y));
            }
        }
        Positions::Linear { step, count, .. } => {
            emit("count", Slot::Count(count, 1, MAX_COUNT));
            let [dx, dy] = step;
            emit("pitch_x", Slot::Position(dx));
            emit("pitch_y", Slot::Position(dy));
        }
        Positions::Circular {
            center,
            diameter,
            count,
            ..
        } => {
            emit("count", Slot::Count(count, 1, MAX_COUNT));
            emit("circle_diameter", Slot::Length(diameter));
            let [x, y] = center;
            emit("circle_x", Slot::Position(x));
            emit("circle_y", Slot::Position(y));
        }
        Positions::Grid { step, counts, .. } => {
            let [nx, ny] = counts;
            emit("columns", Slot::Count(nx, 1, MAX_COUNT));
            emit("rows", Slot::Count(ny, 1, MAX_COUNT));
            let [dx, dy] = step;
            emit("pitch_x", Slot::Position(dx));
            emit("pitch_y", Slot::Position(dy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plate() -> PartSpec {
        let mut s = PartSpec::new(
            "plate",
            Base::Box {
                length: 100.0,
                width: 60.0,
                height: 5.0,
            },
        );
        s.features.push(Feature::Hole {
            name: String::new(),
            diameter: 5.5,
            depth: None,
            counterbore: None,
            axis: Axis::Z,
            at: Positions::Grid {
                start: [8.25, 8.25],
                step: [83.5, 43.5],
                counts: [2, 2],
            },
        });
        s.features.push(Feature::Fillet {
            radius: 2.0,
            edges: Edges::Vertical,
        });
        s
    }

    #[test]
    fn parameters_are_named_and_settable() {
        let mut s = plate();
        let names: Vec<String> = s.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "length",
                "width",
                "height",
                "hole_diameter",
                "hole_columns",
                "hole_rows",
                "hole_pitch_x",
                "hole_pitch_y",
                "fillet_radius"
            ]
        );
        assert_eq!(s.set_parameter("height", 15.0), Ok(5.0));
        assert_eq!(s.parameter("height"), Some(15.0));
        assert!(matches!(
            s.set_parameter("hole_diameter", -2.0),
            Err(SpecError::NotPositive(..))
        ));
        assert_eq!(s.parameter("hole_diameter"), Some(5.5));
        assert!(matches!(
            s.set_parameter("hole_rows", 2.5),
            Err(SpecError::BadCount(..))
        ));
        assert!(matches!(
            s.set_parameter("nope", 1.0),
            Err(SpecError::UnknownParameter(..))
        ));
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = plate();
        s.base = Base::Box {
            length: -5.0,
            width: 1.0,
            height: 1.0,
        };
        assert_eq!(
            s.validate().unwrap_err().to_string(),
            "The length must be positive, not -5 mm."
        );
        s.base = Base::Cylinder {
            diameter: 1e9,
            height: 1.0,
        };
        assert!(s.validate().unwrap_err().to_string().contains("diameter"));
    }

    #[test]
    fn round_trips_through_json() {
        let mut s = plate();
        s.history.push(plate());
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"spec_version\":1"));
        let back: PartSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn patterns_expand() {
        let c = Positions::Circular {
            center: [0.0, 0.0],
            diameter: 20.0,
            count: 4,
            start_angle_deg: 0.0,
        };
        let p = c.points();
        assert_eq!(p.len(), 4);
        assert!((p[1][1] - 10.0).abs() < 1e-12);
        let g = Positions::Grid {
            start: [0.0, 0.0],
            step: [1.0, 2.0],
            counts: [3, 2],
        };
        assert_eq!(g.points().last(), Some(&[2.0, 2.0]));
    }

    #[test]
    fn a_next_version_remembers_its_base_and_at_most_max_history() {
        let mut current = plate();
        for thickness in 1..=(MAX_HISTORY as u32 + 5) {
            let mut next = current.clone();
            next.set_parameter("height", f64::from(thickness)).unwrap();
            next.follow(&current);
            assert!(next.history.iter().all(|h| h.history.is_empty()));
            assert_eq!(
                next.history.last().map(|h| h.parameter("height")),
                Some(current.parameter("height"))
            );
            current = next;
        }
        assert_eq!(current.history.len(), MAX_HISTORY);
        assert_eq!(current.history[0].parameter("height"), Some(5.0));
    }
}
