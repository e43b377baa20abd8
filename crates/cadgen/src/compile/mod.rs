//! The spec compiler: the one path from a [`PartSpec`] to a FreeCAD script
//! and the [`Expectations`] the built model must meet.
//!
//! Every base is lowered to one of two forms: a region (an outline with
//! holes) extruded along a plane's normal — boxes, cylinders, tubes,
//! prisms, profiles, gears and sketches — or a solid of revolution. Features
//! apply to extruded bases, in this order whatever their order in the list:
//! edge treatments (fillet, chamfer), the shell, bosses, then cuts (holes
//! and pockets). That order keeps edge selection simple (no hole edges yet)
//! and lets the compiler prove what each feature removes:
//!
//! - a cut must lie inside the material with [`MIN_WEB_MM`] to spare and
//!   away from every other cut, so it removes exactly its area times the
//!   material it crosses; a feature that does not fit is refused, saying so;
//! - fillets and chamfers are analytic: per corner for vertical edges, by
//!   inclusion–exclusion (blocks) or Pappus' theorem (cylinders, tubes) for
//!   top, bottom and all edges;
//! - the volume is therefore exact wherever the compiler accepts a spec,
//!   and the default 0.5 % tolerance only absorbs OpenCASCADE's rounding.
//!
//! The script builds the part as parametric FreeCAD document objects, one
//! chain per part: the base (a primitive per [`Form`], or a fixed face
//! extruded or revolved), each step consuming the last (`Part::Cut` with
//! the tools in a `Part::Compound`, fused by `Part::MultiFuse` where they
//! overlap, `Part::MultiFuse` for bosses, `Part::Fillet` /
//! `Part::Chamfer`), so exactly one solid is left at the top of the
//! document. A base with holes straight through it and nothing else done to
//! it is instead a face with the holes in it, extruded once (`Profile`): the
//! same solid without a boolean, which FreeCAD also checks and exports
//! faster. Every number that a spec parameter determines is an
//! [`X`](expr::X) and its property an expression on the `Parameters`
//! spreadsheet, so editing a cell in desktop FreeCAD rebuilds the part as
//! compiling the edited spec would; what cannot follow (counts, gear teeth,
//! sketch paths, fillet sizes) is literal and the spreadsheet says so.

mod expr;
mod gear;
mod geom;
mod python;

use std::collections::BTreeMap;
use std::f64::consts::{PI, TAU};

use domain::spec::{
    Axis, Base, Edges, Feature, Loop, Parameter, ParameterKind, PartSpec, Plane, Positions, ProfileShape,
};
use domain::Expectations;

use crate::{Generated, NotUnderstood};
use expr::X;
use geom::{apart, Outline, Region, P2};
use python::{py, Script};

pub use gear::{DEFAULT_FACE_WIDTH_MODULES, MAX_TEETH, MIN_TEETH};

/// Least material left between a cut and an edge or another cut.
pub const MIN_WEB_MM: f64 = 0.5;

/// Cutting tools stick out this far past the faces they cut through:
/// coplanar boolean faces are where OpenCASCADE is least reliable.
const OVERSHOOT: f64 = 1.0;

/// Compiles a spec into a script and its expectations.
pub fn compile(spec: &PartSpec) -> Result<Generated, NotUnderstood> {
    spec.validate().map_err(|e| refuse(spec, e.to_string()))?;
    let params = spec.parameters();
    let mut cx = Compiler {
        spec,
        params: params.clone(),
        script: Script::new(),
        part: String::new(),
        part_at: None,
        volume: Some(0.0),
        holes: Some(0),
        bbox: [0.0; 6],
        profile: None,
    };
    cx.build()?;
    let description = describe(spec);
    let script = cx.script.render(&spec.part, &description, &params, &cx.part);
    let [x0, y0, z0, x1, y1, z1] = cx.bbox;
    let expected = Expectations {
        volume_mm3: cx.volume,
        bbox_mm: Some([x1 - x0, y1 - y0, z1 - z0]),
        solids: Some(1),
        through_holes: cx.holes,
        ..Expectations::default()
    };
    let parameters: BTreeMap<String, f64> = params.into_iter().map(|p| (p.name, p.value)).collect();
    Ok(Generated {
        spec: spec.clone(),
        script,
        expected,
        reply: description,
        part: spec.part.clone(),
        parameters,
    })
}

fn refuse(spec: &PartSpec, reason: impl Into<String>) -> NotUnderstood {
    NotUnderstood {
        reason: reason.into(),
        part: Some(spec.part.clone()),
        question: None,
    }
}

/// A number for people: at most three decimals, no trailing zeros.
pub(crate) fn human(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// An extruded base: a region on a plane, from `w0` to `w0 + depth` along
/// the plane's normal.
struct Prism {
    plane: Plane,
    w0: f64,
    depth: f64,
    region: Region,
    /// How FreeCAD builds the outline and the holes of the region, and
    /// `w0` and `depth` as they follow the spreadsheet.
    form: Form,
    hole_forms: Vec<Form>,
    w0_x: X,
    depth_x: X,
    /// `(module, teeth)` when the outline is a gear, built by its Python twin.
    gear: Option<(f64, u32)>,
    /// What the base is, for fillet formulas.
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Block { l: f64, w: f64 },
    Round { r: f64, inner: Option<f64> },
    Regular { sides: u32, af: f64 },
    Other,
}

/// A cut already placed, for overlap checks: its outline on the top face,
/// or a box for holes across the part.
enum Placed {
    Normal(Outline, [f64; 6]),
    Across([f64; 6]),
}

/// A hole feature to drill, with its parameter prefix.
struct Drill<'s> {
    prefix: &'s str,
    d: f64,
    depth: Option<f64>,
    counterbore: Option<&'s domain::spec::Counterbore>,
    at: &'s Positions,
}

/// What cuts from the top face must fit around: the cavity (its region,
/// floor and floor as it follows the spreadsheet), bosses (outline,
/// height, bound height), the margin of rounded top edges and keep-outs
/// around treated corners.
#[derive(Clone, Copy)]
struct Fit<'s> {
    cavity: &'s Option<(Region, f64, X)>,
    bosses: &'s [(Outline, f64, X)],
    margin: f64,
    keepout: &'s [(P2, f64)],
}

fn boxes_clash(a: &[f64; 6], b: &[f64; 6]) -> bool {
    (0..3).all(|i| a[i] < b[3 + i] + MIN_WEB_MM && b[i] < a[3 + i] + MIN_WEB_MM)
}

/// The box a cut from the top face occupies.
fn normal_box(p: &Prism, o: &Outline, top: f64) -> [f64; 6] {
    let b = o.bounds();
    let lo = to_xyz(p.plane, [b[0], b[1], p.w0]);
    let hi = to_xyz(p.plane, [b[2], b[3], top]);
    [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]]
}

/// An outline as FreeCAD document objects build it: primitives whose sizes
/// and positions follow the spreadsheet where they are parameters, or a
/// fixed face extruded (or revolved) by a bound length.
#[derive(Debug, Clone)]
enum Form {
    /// An axis-aligned rectangle from `corner`: a Part::Box.
    Rect { corner: [X; 2], size: [X; 2] },
    /// A Part::Cylinder.
    Circle { c: [X; 2], r: X },
    /// A regular polygon centred on the origin of the XY plane with one
    /// flat at the bottom: a Part::Prism.
    Regular { sides: X, af: X },
    /// Overlapping rectangles fused into one outline (L, T and U profiles).
    Union(Vec<Form>),
    /// Any other outline: a Python wire expression on the sketch plane at
    /// `w = 0`, kept as a fixed face.
    Face(String),
}

/// Every feature's parameter prefix (`hole`, `hole2`, `bolt_hole`), as the
/// spec names its parameters. A name the spec does not hold is never bound:
/// [`Compiler::cell`] checks it.
fn feature_prefixes(features: &[Feature]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    features
        .iter()
        .map(|f| {
            let prefix = match f {
                Feature::Hole { name, .. } | Feature::Pocket { name, .. } | Feature::Boss { name, .. }
                    if !name.is_empty() =>
                {
                    name.clone()
                }
                _ => f.kind_name().to_string(),
            };
            let n = seen.iter().filter(|p| **p == prefix).count();
            seen.push(prefix.clone());
            if n == 0 {
                prefix
            } else {
                format!("{prefix}{}", n + 1)
            }
        })
        .collect()
}

/// The prefix of loop `i` of `count` loops (`sketch`, `sketch_loop2`).
fn loop_prefix(prefix: &str, i: usize, count: usize) -> String {
    if count == 1 {
        prefix.to_string()
    } else {
        format!("{prefix}_loop{}", i + 1)
    }
}

struct Compiler<'a> {
    spec: &'a PartSpec,
    params: Vec<Parameter>,
    script: Script,
    /// The Python variable of the document object holding the part so far.
    part: String,
    /// Where that object sits when it is a primitive (its Placement is its
    /// position, not a move of a computed shape).
    part_at: Option<[X; 3]>,
    volume: Option<f64>,
    holes: Option<u32>,
    bbox: [f64; 6],
    /// The face the base is extruded from, while holes can still join it.
    profile: Option<Profile>,
}

/// The face an extruded base is made of, and the outlines of the holes
/// straight through it (`Part::Circle`, or fixed wires) to put in it: the
/// same solid as cutting them out of the base, without the boolean, and
/// one FreeCAD also checks and exports about twice as fast. The base's
/// outline is a wire (a fixed one, `Part::Circle`, `Part::RegularPolygon`)
/// made a face with the holes by `Part::Face`, or a rectangle
/// (`Part::Plane`, a face already) that a face of the holes is cut from.
struct Profile {
    outline: String,
    /// The `Part::Face` of a wire outline; `None` for a rectangle.
    face: Option<String>,
    /// The `Part::Extrusion` of the profile.
    extrusion: String,
    holes: Vec<String>,
}

/// Maps sketch coordinates `(u, v, w)` to `(x, y, z)`.
fn to_xyz<T>(plane: Plane, [u, v, w]: [T; 3]) -> [T; 3] {
    match plane {
        Plane::Xy => [u, v, w],
        Plane::Xz => [u, w, v],
        Plane::Yz => [w, u, v],
    }
}

fn normal(plane: Plane) -> [f64; 3] {
    to_xyz(plane, [0.0, 0.0, 1.0])
}

impl Compiler<'_> {
    fn refuse(&self, reason: impl Into<String>) -> NotUnderstood {
        refuse(self.spec, reason)
    }

    fn build(&mut self) -> Result<(), NotUnderstood> {
        match self.prism()? {
            Some(prism) => self.build_prism(prism)?,
            None => self.build_revolved()?,
        }
        self.place();
        Ok(())
    }

    /// Lowers the base to an extrusion, or `None` for solids of revolution.
    fn prism(&self) -> Result<Option<Prism>, NotUnderstood> {
        let xy =
            |outer: Outline, holes: Vec<Outline>, depth: f64, shape: Shape, form: Form, hole_forms: Vec<Form>| Prism {
                plane: Plane::Xy,
                w0: 0.0,
                depth,
                region: Region { outer, holes },
                form,
                hole_forms,
                w0_x: X::mm(0.0),
                depth_x: self.cell("height", depth),
                gear: None,
                shape,
            };
        let circle = |d: f64| Outline::Circle {
            c: [0.0, 0.0],
            r: d / 2.0,
        };
        let round = |name: &str, d: f64| Form::Circle {
            c: [X::mm(0.0), X::mm(0.0)],
            r: self.cell(name, d).times(0.5),
        };
        Ok(Some(match &self.spec.base {
            Base::Box { length, width, height } => xy(
                Outline::polyline(&[[0.0, 0.0], [*length, 0.0], [*length, *width], [0.0, *width]]),
                vec![],
                *height,
                Shape::Block { l: *length, w: *width },
                Form::Rect {
                    corner: [X::mm(0.0), X::mm(0.0)],
                    size: [self.cell("length", *length), self.cell("width", *width)],
                },
                vec![],
            ),
            Base::Cylinder { diameter, height } => xy(
                circle(*diameter),
                vec![],
                *height,
                Shape::Round {
                    r: diameter / 2.0,
                    inner: None,
                },
                round("diameter", *diameter),
                vec![],
            ),
            Base::Tube {
                outer_diameter,
                inner_diameter,
                height,
            } => {
                if inner_diameter + 2.0 * MIN_WEB_MM > *outer_diameter {
                    return Err(self.refuse(format!(
                        "The inner diameter Ø{} mm must be smaller than the outer Ø{} mm, leaving a wall.",
                        human(*inner_diameter),
                        human(*outer_diameter)
                    )));
                }
                xy(
                    circle(*outer_diameter),
                    vec![circle(*inner_diameter)],
                    *height,
                    Shape::Round {
                        r: outer_diameter / 2.0,
                        inner: Some(inner_diameter / 2.0),
                    },
                    round("outer_diameter", *outer_diameter),
                    vec![round("inner_diameter", *inner_diameter)],
                )
            }
            Base::Prism {
                sides,
                across_flats,
                height,
            } => xy(
                Outline::regular(*sides, *across_flats),
                vec![],
                *height,
                Shape::Regular {
                    sides: *sides,
                    af: *across_flats,
                },
                Form::Regular {
                    sides: self.cell("sides", f64::from(*sides)),
                    af: self.cell("across_flats", *across_flats),
                },
                vec![],
            ),
            Base::Profile { profile, length } => {
                let points = self.profile_points(profile)?;
                let outer = Outline::polyline(&points);
                let form = self
                    .profile_form(profile)
                    .unwrap_or_else(|| Form::Face(wire(Plane::Xz, &outer, 0.0)));
                Prism {
                    plane: Plane::Xz,
                    w0: 0.0,
                    depth: *length,
                    region: Region { outer, holes: vec![] },
                    form,
                    hole_forms: vec![],
                    w0_x: X::mm(0.0),
                    depth_x: self.cell("length", *length),
                    gear: None,
                    shape: Shape::Other,
                }
            }
            Base::SpurGear {
                module,
                teeth,
                thickness,
            } => {
                let points = gear::outline(*module, *teeth).ok_or_else(|| {
                    self.refuse(format!(
                        "{teeth} teeth of module {} do not make a valid gear.",
                        human(*module)
                    ))
                })?;
                let points = points.into_iter().map(|(x, y)| [x, y]).collect();
                // The Python twin builds `gear_wire` on z = 0.
                let mut p = xy(
                    Outline::Polygon(points),
                    vec![],
                    *thickness,
                    Shape::Other,
                    Form::Face("gear_wire".into()),
                    vec![],
                );
                p.depth_x = self.cell("thickness", *thickness);
                p.gear = Some((*module, *teeth));
                p
            }
            Base::Extrude {
                sketch,
                distance,
                symmetric,
            } => {
                let mut outlines = sketch.loops.iter().map(Outline::from_loop);
                let outer = outlines.next().ok_or_else(|| self.refuse("The sketch has no loop."))?;
                let region = Region {
                    outer,
                    holes: outlines.collect(),
                };
                self.check_region(&region)?;
                let shape = match sketch.loops.as_slice() {
                    [Loop::Rectangle { size, corner }] if *corner == [0.0, 0.0] => {
                        Shape::Block { l: size[0], w: size[1] }
                    }
                    [Loop::Circle { center, diameter }] if *center == [0.0, 0.0] => Shape::Round {
                        r: diameter / 2.0,
                        inner: None,
                    },
                    _ => Shape::Other,
                };
                let count = sketch.loops.len();
                let mut forms = sketch
                    .loops
                    .iter()
                    .enumerate()
                    .map(|(i, l)| self.loop_form(sketch.plane, l, &loop_prefix("sketch", i, count)));
                let form = forms.next().ok_or_else(|| self.refuse("The sketch has no loop."))?;
                let depth_x = self.cell("distance", *distance);
                let w0_x = if *symmetric {
                    X::mm(sketch.offset).minus(&depth_x.times(0.5))
                } else {
                    X::mm(sketch.offset)
                };
                Prism {
                    plane: sketch.plane,
                    w0: sketch.offset - if *symmetric { distance / 2.0 } else { 0.0 },
                    depth: *distance,
                    region,
                    form,
                    hole_forms: forms.collect(),
                    w0_x,
                    depth_x,
                    gear: None,
                    shape,
                }
            }
            Base::Sphere { .. } | Base::Cone { .. } | Base::Torus { .. } | Base::Revolve { .. } => return Ok(None),
        }))
    }

    /// A spec value as it follows the spreadsheet: bound to the cell named
    /// `name` when the spec has that parameter with this value, else a
    /// literal.
    fn cell(&self, name: &str, value: f64) -> X {
        match self.params.iter().find(|p| p.name == name) {
            Some(p) if p.value == value => X::cell(name, value, is_length(p.kind)),
            Some(p) if !is_length(p.kind) => X::num(value),
            _ => X::mm(value),
        }
    }

    /// A sketch loop with its parameters (`{prefix}_diameter`,
    /// `{prefix}_length`, `{prefix}_width`); paths are fixed faces.
    fn loop_form(&self, plane: Plane, l: &Loop, prefix: &str) -> Form {
        match l {
            Loop::Circle { center, diameter } => Form::Circle {
                c: [X::mm(center[0]), X::mm(center[1])],
                r: self.cell(&format!("{prefix}_diameter"), *diameter).times(0.5),
            },
            Loop::Rectangle { corner, size } => Form::Rect {
                corner: [X::mm(corner[0]), X::mm(corner[1])],
                size: [
                    self.cell(&format!("{prefix}_length"), size[0]),
                    self.cell(&format!("{prefix}_width"), size[1]),
                ],
            },
            Loop::Path { .. } => Form::Face(wire(plane, &Outline::from_loop(l), 0.0)),
        }
    }

    /// L, T and U profiles as overlapping rectangles whose sizes follow the
    /// spreadsheet; `None` for the other profiles.
    fn profile_form(&self, profile: &ProfileShape) -> Option<Form> {
        let (width, height, t) = match *profile {
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
            } => (
                self.cell("width", width),
                self.cell("height", height),
                self.cell("thickness", thickness),
            ),
            _ => return None,
        };
        let zero = || X::mm(0.0);
        let rect = |corner: [X; 2], size: [X; 2]| Form::Rect { corner, size };
        Some(Form::Union(match profile {
            ProfileShape::L { .. } => vec![
                rect([zero(), zero()], [width.clone(), t.clone()]),
                rect([zero(), zero()], [t.clone(), height.clone()]),
            ],
            ProfileShape::T { .. } => {
                // The stem reaches the top so the two overlap.
                let flange_v = height.minus(&t);
                let stem_u = width.minus(&t).times(0.5);
                vec![
                    rect([stem_u, zero()], [t.clone(), height.clone()]),
                    rect([zero(), flange_v], [width.clone(), t.clone()]),
                ]
            }
            _ => vec![
                rect([zero(), zero()], [width.clone(), t.clone()]),
                rect([zero(), zero()], [t.clone(), height.clone()]),
                rect([width.minus(&t), zero()], [t.clone(), height.clone()]),
            ],
        }))
    }

    fn profile_points(&self, profile: &ProfileShape) -> Result<Vec<P2>, NotUnderstood> {
        let thin = |t: f64, w: f64, h: f64, walls: f64| {
            if walls * t >= w || t >= h {
                Err(self.refuse(format!(
                    "A {} mm thickness leaves no profile inside {} × {} mm.",
                    human(t),
                    human(w),
                    human(h)
                )))
            } else {
                Ok(())
            }
        };
        Ok(match *profile {
            ProfileShape::Triangle { width, height } => vec![[0.0, 0.0], [width, 0.0], [0.0, height]],
            ProfileShape::Trapezoid { bottom, top, height } => {
                let (a, b) = ((bottom - top) / 2.0, (bottom + top) / 2.0);
                vec![[0.0, 0.0], [bottom, 0.0], [b, height], [a, height]]
            }
            ProfileShape::L {
                width,
                height,
                thickness: t,
            } => {
                thin(t, width, height, 1.0)?;
                vec![[0.0, 0.0], [width, 0.0], [width, t], [t, t], [t, height], [0.0, height]]
            }
            ProfileShape::T {
                width,
                height,
                thickness: t,
            } => {
                thin(t, width, height, 1.0)?;
                let (a, b) = ((width - t) / 2.0, (width + t) / 2.0);
                vec![
                    [a, 0.0],
                    [b, 0.0],
                    [b, height - t],
                    [width, height - t],
                    [width, height],
                    [0.0, height],
                    [0.0, height - t],
                    [a, height - t],
                ]
            }
            ProfileShape::U {
                width,
                height,
                thickness: t,
            } => {
                thin(t, width, height, 2.0)?;
                vec![
                    [0.0, 0.0],
                    [width, 0.0],
                    [width, height],
                    [width - t, height],
                    [width - t, t],
                    [t, t],
                    [t, height],
                    [0.0, height],
                ]
            }
        })
    }

    /// Inner loops of a sketch must lie inside its outline and apart.
    fn check_region(&self, region: &Region) -> Result<(), NotUnderstood> {
        if region.outer.area() < 1e-9 {
            return Err(self.refuse("The sketch's outline encloses no area."));
        }
        let outer_only = Region {
            outer: region.outer.clone(),
            holes: vec![],
        };
        for (i, h) in region.holes.iter().enumerate() {
            if !outer_only.holds_outline(h, MIN_WEB_MM) {
                return Err(self.refuse(format!(
                    "Loop {} of the sketch does not lie inside its outline (loop 1) with {} mm to spare.",
                    i + 2,
                    human(MIN_WEB_MM)
                )));
            }
            for (j, other) in region.holes.iter().enumerate().skip(i + 1) {
                if !apart(h, other, MIN_WEB_MM) {
                    return Err(self.refuse(format!("Loops {} and {} of the sketch overlap.", i + 2, j + 2)));
                }
            }
        }
        Ok(())
    }

    fn add_volume(&mut self, dv: f64) {
        if let Some(v) = self.volume.as_mut() {
            *v += dv;
        }
    }

    fn add_holes(&mut self, n: u32) {
        if let Some(h) = self.holes.as_mut() {
            *h += n;
        }
    }

    fn build_prism(&mut self, prism: Prism) -> Result<(), NotUnderstood> {
        let p = &prism;
        let n = normal(p.plane);
        let area = p.region.area();
        self.volume = Some(area * p.depth);
        self.holes = Some(p.region.holes.len() as u32);
        // Base solid.
        if let Some((module, teeth)) = p.gear {
            self.script.constant("MODULE", module, "gear module, mm");
            self.script.count("TEETH", teeth, "number of teeth");
            self.script
                .constant("PRESSURE_ANGLE", gear::PRESSURE_ANGLE_DEG, "degrees");
            self.script.line(gear::PYTHON_OUTLINE);
            self.script.fixed("the tooth outline (module and number of teeth)");
        } else if matches!(p.form, Form::Face(_)) {
            self.script.fixed("the outline of the extruded profile");
        }
        // A base with holes straight through it and nothing else done to it
        // is a face with the holes in it, extruded once ([`Profile`]):
        // edge treatments pick edges by position, a shell or a boss changes
        // the material a hole crosses. A fixed outline is always a face.
        let plain_base = !self.spec.features.iter().any(|f| {
            matches!(
                f,
                Feature::Fillet { .. } | Feature::Chamfer { .. } | Feature::Shell { .. } | Feature::Boss { .. }
            )
        });
        let through = |f: &Feature| match f {
            Feature::Hole {
                depth,
                counterbore: None,
                axis,
                ..
            } => normal_axis(p.plane, *axis) && depth.is_none_or(|d| (d - p.depth).abs() < 1e-9),
            _ => false,
        };
        let holed = !p.hole_forms.is_empty() || self.spec.features.iter().any(through);
        let (base, at) = match self.outline(p, plain_base, holed) {
            Some((outline, is_face)) => (self.profile_solid(p.plane, outline, is_face, &p.depth_x), None),
            None => self.solid(p.plane, &p.form, &p.w0_x, &p.depth_x, "Base"),
        };
        self.part = base;
        self.part_at = at;
        let (w, len) = (p.w0_x.plus_mm(-OVERSHOOT), p.depth_x.plus_mm(2.0 * OVERSHOOT));
        let axis = axis_index(normal(p.plane));
        let mut tools = Vec::new();
        for form in &p.hole_forms {
            let hole = match (form, self.profile.is_some()) {
                (Form::Circle { c, r }, true) => {
                    let at = to_xyz(p.plane, [c[0].clone(), c[1].clone(), p.w0_x.clone()]);
                    self.circle(r, &at, axis, "Bore")
                }
                (Form::Face(wire), true) => {
                    let var = self.script.object("Part::Feature", "Bore");
                    self.script.line(&format!("{var}.Shape = {wire}"));
                    self.script
                        .place(&var, &to_xyz(p.plane, [X::mm(0.0), X::mm(0.0), p.w0_x.clone()]), None);
                    var
                }
                _ => {
                    tools.push(self.solid(p.plane, form, &w, &len, "Bore").0);
                    continue;
                }
            };
            if let Some(profile) = self.profile.as_mut() {
                profile.holes.push(hole);
            }
        }
        self.cut(tools, "Hollow", true);
        let b = if p.gear.is_some() {
            geom::bounds_of(&p.region.outer.points(0))
        } else {
            p.region.outer.bounds()
        };
        let lo = to_xyz(p.plane, [b[0], b[1], p.w0]);
        let hi = to_xyz(p.plane, [b[2], b[3], p.w0 + p.depth]);
        self.bbox = [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]];

        let features = &self.spec.features;
        let edges: Vec<&Feature> = features
            .iter()
            .filter(|f| matches!(f, Feature::Fillet { .. } | Feature::Chamfer { .. }))
            .collect();
        if edges.len() > 1 {
            return Err(
                self.refuse("I can round or chamfer one set of edges per part; ask for one fillet or one chamfer.")
            );
        }
        let mut cut_margin = 0.0;
        let mut corner_keepout: Vec<(P2, f64)> = Vec::new();
        let mut vertical_round = None;
        if let Some(edge) = edges.first() {
            let (size, set, fillet) = match edge {
                Feature::Fillet { radius, edges } => (*radius, *edges, true),
                Feature::Chamfer { size, edges } => (*size, *edges, false),
                _ => unreachable!("filtered above"),
            };
            match set {
                Edges::Vertical => {
                    let keep = self.vertical_edges(p, size, fillet)?;
                    corner_keepout = keep;
                    if fillet {
                        vertical_round = Some(size);
                    } else {
                        vertical_round = Some(-size);
                    }
                }
                _ => {
                    self.face_edges(p, size, set, fillet)?;
                    cut_margin = size;
                }
            }
        }

        let prefixes = feature_prefixes(features);

        // Shell: only blocks (possibly with rounded vertical edges), cylinders, regular prisms.
        let mut cavity: Option<(Region, f64, X)> = None;
        for (f, prefix) in features.iter().zip(&prefixes) {
            if let Feature::Shell { wall, floor } = f {
                if cavity.is_some() {
                    return Err(self.refuse("A part can be shelled once."));
                }
                let wall_x = self.cell(&format!("{prefix}_wall"), *wall);
                let floor_x = match floor {
                    Some(fl) => self.cell(&format!("{prefix}_floor"), *fl),
                    None => wall_x.clone(),
                };
                let floor = floor.unwrap_or(*wall);
                let region = self.shell(p, &wall_x, &floor_x, vertical_round, cut_margin)?;
                cavity = Some((region, floor, floor_x));
            }
        }

        // Bosses on the top face.
        let top = p.w0 + p.depth;
        let top_x = p.w0_x.plus(&p.depth_x);
        let mut bosses: Vec<(Outline, f64, X)> = Vec::new();
        let mut boss_tools = Vec::new();
        for (f, prefix) in features.iter().zip(&prefixes) {
            if let Feature::Boss { loops, height, .. } = f {
                if cavity.is_some() || cut_margin > 0.0 {
                    return Err(self
                        .refuse("A boss needs a flat top face: not on a shelled part or one with rounded top edges."));
                }
                let height_x = self.cell(&format!("{prefix}_height"), *height);
                for (i, l) in loops.iter().enumerate() {
                    let o = Outline::from_loop(l);
                    if !p.region.holds_outline(&o, 0.0) {
                        return Err(self.refuse("A boss must stand on the top face, inside its outline."));
                    }
                    if bosses.iter().any(|(b, ..)| !apart(b, &o, 0.0)) {
                        return Err(self.refuse("Bosses must not overlap."));
                    }
                    let form = self.loop_form(p.plane, l, &loop_prefix(prefix, i, loops.len()));
                    boss_tools.push(self.solid(p.plane, &form, &top_x, &height_x, "Boss").0);
                    self.add_volume(o.area() * height);
                    bosses.push((o, *height, height_x.clone()));
                }
            }
        }
        if !boss_tools.is_empty() {
            let var = self.script.object("Part::MultiFuse", "Bosses");
            boss_tools.insert(0, self.part.clone());
            self.script.line(&format!(
                "{var}.Shapes = [{}]\n{var}.Refine = True",
                boss_tools.join(", ")
            ));
            self.part = var;
            self.part_at = None;
        }
        if let Some(h) = bosses.iter().map(|b| b.1).reduce(f64::max) {
            let hi = to_xyz(p.plane, [0.0, 0.0, top + h]);
            let axis = axis_index(n);
            self.bbox[3 + axis] = hi[axis];
        }

        // Cuts.
        let mut placed: Vec<Placed> = Vec::new();
        let mut tools = Vec::new();
        for (f, prefix) in features.iter().zip(&prefixes) {
            match f {
                Feature::Hole {
                    diameter,
                    depth,
                    counterbore,
                    axis,
                    at,
                    ..
                } => {
                    let normal_axis = normal_axis(p.plane, *axis);
                    let hole = Drill {
                        prefix,
                        d: *diameter,
                        depth: *depth,
                        counterbore: counterbore.as_ref(),
                        at,
                    };
                    if normal_axis {
                        let fit = Fit {
                            cavity: &cavity,
                            bosses: &bosses,
                            margin: cut_margin,
                            keepout: &corner_keepout,
                        };
                        tools.extend(self.normal_holes(p, &hole, &fit, &mut placed)?);
                    } else {
                        let plain = cavity.is_none() && bosses.is_empty() && edges.is_empty();
                        if !plain || depth.is_some() || counterbore.is_some() {
                            return Err(self.refuse(
                                "Holes across the part (not from the top) must go straight through a part \
                                 with no fillet, chamfer, shell or boss.",
                            ));
                        }
                        tools.extend(self.across_holes(p, &hole, *axis, &mut placed)?);
                    }
                }
                Feature::Pocket { loops, depth, .. } => {
                    let fit = Fit {
                        cavity: &cavity,
                        bosses: &bosses,
                        margin: cut_margin,
                        keepout: &corner_keepout,
                    };
                    tools.extend(self.pocket(p, prefix, loops, *depth, &fit, &mut placed)?);
                }
                _ => {}
            }
        }
        // Every cut is apart from the others (`fit_normal`), but a
        // counterbore overlaps its own hole.
        let apart = !features.iter().any(|f| {
            matches!(
                f,
                Feature::Hole {
                    counterbore: Some(_),
                    ..
                }
            )
        });
        self.cut(tools, "Cut", apart);
        if let Some(profile) = self.profile.take() {
            self.finish_profile(profile);
        }
        Ok(())
    }

    /// A solid for an outline on `plane`, from `w` along the normal for
    /// `len`: a primitive whose dimensions follow the spreadsheet, or a
    /// fixed face extruded by a bound length. Returns the object's variable
    /// and, for a primitive, where its Placement puts it.
    fn solid(&mut self, plane: Plane, form: &Form, w: &X, len: &X, name: &str) -> (String, Option<[X; 3]>) {
        let axis = axis_index(normal(plane));
        match form {
            Form::Rect { corner, size } => {
                let var = self.script.object("Part::Box", name);
                let dims = to_xyz(plane, [size[0].clone(), size[1].clone(), len.clone()]);
                for (property, x) in ["Length", "Width", "Height"].iter().zip(&dims) {
                    self.script.set(&var, property, x);
                }
                let at = to_xyz(plane, [corner[0].clone(), corner[1].clone(), w.clone()]);
                self.script.place(&var, &at, None);
                (var, Some(at))
            }
            Form::Circle { c, r } => {
                let at = to_xyz(plane, [c[0].clone(), c[1].clone(), w.clone()]);
                (self.cylinder(r, len, &at, axis, name), Some(at))
            }
            Form::Regular { sides, af } => {
                let var = self.script.object("Part::Prism", name);
                self.script.set(&var, "Height", len);
                let at = to_xyz(plane, [X::mm(0.0), X::mm(0.0), w.clone()]);
                self.regular(&var, sides, af, &at);
                (var, Some(at))
            }
            Form::Union(forms) => {
                let parts: Vec<String> = forms.iter().map(|f| self.solid(plane, f, w, len, name).0).collect();
                let var = self.script.object("Part::MultiFuse", name);
                self.script.line(&format!("{var}.Shapes = [{}]", parts.join(", ")));
                self.script.line(&format!("{var}.Refine = True"));
                (var, None)
            }
            Form::Face(wire) => {
                let profile = self.script.object("Part::Feature", &format!("{name}Profile"));
                self.script.line(&format!("{profile}.Shape = Part.Face({wire})"));
                let at = to_xyz(plane, [X::mm(0.0), X::mm(0.0), w.clone()]);
                self.script.place(&profile, &at, None);
                let var = self.script.object("Part::Extrusion", name);
                self.script.line(&format!(
                    "{var}.Base = {profile}\n{var}.DirMode = \"Custom\"\n{var}.Dir = {}\n{var}.Solid = True",
                    vector(normal(plane))
                ));
                self.script.set(&var, "LengthFwd", len);
                (var, None)
            }
        }
    }

    /// The base's outline as a document object ([`Profile`]) at the start
    /// of its extrusion, and whether it is a face already; `None` when the
    /// base is better built as it is: a primitive without holes through it,
    /// or anything with more done to it than holes.
    fn outline(&mut self, p: &Prism, plain: bool, holed: bool) -> Option<(String, bool)> {
        let at = |c: [X; 2]| to_xyz(p.plane, [c[0].clone(), c[1].clone(), p.w0_x.clone()]);
        let xy = p.plane == Plane::Xy;
        match &p.form {
            Form::Face(wire) if plain => {
                let var = self.script.object("Part::Feature", "BaseOutline");
                self.script.line(&format!("{var}.Shape = {wire}"));
                self.script.place(&var, &at([X::mm(0.0), X::mm(0.0)]), None);
                Some((var, false))
            }
            Form::Circle { c, r } if plain && holed => {
                let axis = axis_index(normal(p.plane));
                Some((self.circle(r, &at(c.clone()), axis, "BaseOutline"), false))
            }
            Form::Regular { sides, af } if plain && holed && xy => {
                let var = self.script.object("Part::RegularPolygon", "BaseOutline");
                self.regular(&var, sides, af, &at([X::mm(0.0), X::mm(0.0)]));
                Some((var, false))
            }
            Form::Rect { corner, size } if plain && holed && xy => {
                let var = self.script.object("Part::Plane", "BaseOutline");
                self.script.set(&var, "Length", &size[0]);
                self.script.set(&var, "Width", &size[1]);
                self.script.place(&var, &at(corner.clone()), None);
                Some((var, true))
            }
            _ => None,
        }
    }

    /// The base extruded from its `outline` along the normal of `plane` for
    /// `len`; the holes join it later ([`Compiler::finish_profile`]).
    fn profile_solid(&mut self, plane: Plane, outline: String, is_face: bool, len: &X) -> String {
        let face = (!is_face).then(|| {
            let face = self.script.object("Part::Face", "BaseProfile");
            self.script.line(&format!(
                "{face}.Sources = [{outline}]\n{face}.FaceMakerClass = \"Part::FaceMakerBullseye\""
            ));
            face
        });
        let var = self.script.object("Part::Extrusion", "Base");
        self.script.line(&format!(
            "{var}.Base = {}\n{var}.DirMode = \"Custom\"\n{var}.Dir = {}\n{var}.Solid = True",
            face.as_deref().unwrap_or(&outline),
            vector(normal(plane))
        ));
        self.script.set(&var, "LengthFwd", len);
        self.profile = Some(Profile {
            outline,
            face,
            extrusion: var.clone(),
            holes: Vec::new(),
        });
        var
    }

    /// Puts the holes in the base's face: as more wires of its
    /// `Part::Face`, or, for a rectangle, as a face of their own cut from it.
    fn finish_profile(&mut self, profile: Profile) {
        let Profile {
            outline,
            face,
            extrusion,
            holes,
        } = profile;
        if holes.is_empty() {
            return;
        }
        let holes = holes.join(", ");
        match face {
            Some(face) => self.script.line(&format!("{face}.Sources = [{outline}, {holes}]")),
            None => {
                let tool = self.script.object("Part::Face", "BaseHoles");
                self.script.line(&format!(
                    "{tool}.Sources = [{holes}]\n{tool}.FaceMakerClass = \"Part::FaceMakerBullseye\""
                ));
                let cut = self.script.object("Part::Cut", "BaseProfile");
                self.script.line(&format!(
                    "{cut}.Base = {outline}\n{cut}.Tool = {tool}\n{extrusion}.Base = {cut}"
                ));
            }
        }
    }

    /// A Part::Circle of radius `r` centred on `at`, facing the world axis
    /// `axis` (0 = X, 1 = Y, 2 = Z).
    fn circle(&mut self, r: &X, at: &[X; 3], axis: usize, name: &str) -> String {
        let var = self.script.object("Part::Circle", name);
        self.script.set(&var, "Radius", r);
        self.script.place(&var, at, axis_rotation(axis));
        var
    }

    /// Sizes and places a regular polygon's object (`Part::Prism`,
    /// `Part::RegularPolygon`) centred on `at` with a flat at the bottom.
    fn regular(&mut self, var: &str, sides: &X, af: &X, at: &[X; 3]) {
        // FreeCAD puts the first corner on +X; the compiler's outline has a
        // flat at the bottom.
        let n = sides.value;
        self.script.line(&format!("{var}.Polygon = {}", n as u32));
        let factor = 0.5 / (PI / n).cos();
        self.script.set(var, "Circumradius", &af.times(factor));
        let angle = -90.0 + 180.0 / n;
        self.script
            .place(var, at, Some(&format!("App.Rotation(Vector(0, 0, 1), {})", py(angle))));
        if sides.is_bound() {
            let count = sides.text();
            self.script
                .line(&format!("{var}.setExpression(\"Polygon\", {count:?})"));
            let mut names: Vec<&str> = sides.names().iter().map(String::as_str).collect();
            names.extend(af.names().iter().map(String::as_str));
            self.script.expression(
                var,
                "Circumradius",
                &format!("({}) / (2 * cos(180 / {count}))", af.text()),
                &names,
            );
            self.script.expression(
                var,
                "Placement.Rotation.Angle",
                &format!("-90 deg + 180 deg / {count}"),
                &names[..1],
            );
        }
    }

    /// A Part::Cylinder of radius `r` and height `len` from `at` along the
    /// world axis `axis` (0 = X, 1 = Y, 2 = Z).
    fn cylinder(&mut self, r: &X, len: &X, at: &[X; 3], axis: usize, name: &str) -> String {
        let var = self.script.object("Part::Cylinder", name);
        self.script.set(&var, "Radius", r);
        self.script.set(&var, "Height", len);
        self.script.place(&var, at, axis_rotation(axis));
        var
    }

    /// Cuts the tools from the part. Several tools that lie `apart` are
    /// one compound (`Part::Compound`), which the cut takes as it is;
    /// overlapping ones are fused first (`Part::MultiFuse`), a boolean of
    /// its own.
    fn cut(&mut self, tools: Vec<String>, name: &str, apart: bool) {
        let tool = match tools.as_slice() {
            [] => return,
            [one] => one.clone(),
            many => {
                let (kind, list) = if apart {
                    ("Part::Compound", "Links")
                } else {
                    ("Part::MultiFuse", "Shapes")
                };
                let var = self.script.object(kind, &format!("{name}Tools"));
                self.script
                    .line(&format!("{var}.{list} = [\n    {},\n]", many.join(",\n    ")));
                var
            }
        };
        let var = self.script.object("Part::Cut", name);
        self.script
            .line(&format!("{var}.Base = {}\n{var}.Tool = {tool}", self.part));
        self.part = var;
        self.part_at = None;
    }

    /// A fillet or chamfer of the part's edges that `test` (a Python
    /// condition on an edge `e`) selects now. FreeCAD keeps the edges by
    /// index, so the treatment follows edits that keep the edge layout; its
    /// size is fixed.
    fn treat_edges(&mut self, size: f64, fillet: bool, setup: &str, test: &str) {
        let (kind, name, what) = if fillet {
            ("Part::Fillet", "Fillet", "the fillet radius")
        } else {
            ("Part::Chamfer", "Chamfer", "the chamfer size")
        };
        self.script.fixed(what);
        let part = self.part.clone();
        self.script.line(&format!(
            "doc.recompute()\n{setup}edges = [i + 1 for i, e in enumerate({part}.Shape.Edges) if {test}]"
        ));
        let var = self.script.object(kind, name);
        self.script.line(&format!(
            "{var}.Base = {part}\n{var}.Edges = [(i, {s}, {s}) for i in edges]",
            s = py(size)
        ));
        self.part = var;
        self.part_at = None;
    }

    /// Fillets or chamfers the edges parallel to the normal (the "vertical"
    /// edges of a part standing on XY). Returns keep-out disks around the
    /// corners for later cuts.
    fn vertical_edges(&mut self, p: &Prism, size: f64, fillet: bool) -> Result<Vec<(P2, f64)>, NotUnderstood> {
        if p.plane != Plane::Xy || p.gear.is_some() {
            return Err(self.refuse(
                "I can round or chamfer the vertical edges of a part standing on the XY plane, not of this base.",
            ));
        }
        let mut loops = vec![(&p.region.outer, false)];
        loops.extend(p.region.holes.iter().map(|h| (h, true)));
        let mut corners = Vec::new();
        let mut dv = 0.0;
        let mut keep = Vec::new();
        for (o, is_hole) in loops {
            let Some(cs) = o.corners() else {
                if matches!(o, Outline::Circle { .. }) {
                    continue;
                }
                return Err(self
                    .refuse("I can round or chamfer vertical edges only where straight sides meet, not along arcs."));
            };
            let n = cs.len();
            let mut tangents = Vec::new();
            for (q, angle) in &cs {
                // The material's angle at the corner.
                let phi = if is_hole { TAU - angle } else { *angle };
                if (phi - PI).abs() < 1e-9 {
                    tangents.push(0.0);
                    continue;
                }
                let convex = phi < PI;
                let psi = if convex { phi } else { TAU - phi };
                let (area, tangent) = if fillet {
                    (
                        size * size * (1.0 / (psi / 2.0).tan() - (PI - psi) / 2.0),
                        size / (psi / 2.0).tan(),
                    )
                } else {
                    (0.5 * size * size * psi.sin(), size)
                };
                dv += if convex { -area } else { area };
                tangents.push(tangent);
                corners.push(*q);
                keep.push((*q, tangent * 1.5 + size));
            }
            let pts = o.points(4);
            for i in 0..n {
                let (a, b) = (pts[i], pts[(i + 1) % n]);
                let len = (b[0] - a[0]).hypot(b[1] - a[1]);
                if tangents[i] + tangents[(i + 1) % n] > len + 1e-9 {
                    let what = if fillet { "fillet radius" } else { "chamfer" };
                    return Err(self.refuse(format!(
                        "A {} mm {what} does not fit on a {} mm edge.",
                        human(size),
                        human(len)
                    )));
                }
            }
        }
        if corners.is_empty() {
            return Err(self.refuse("This part has no vertical edges to round or chamfer."));
        }
        self.add_volume(dv * p.depth);
        let list: Vec<String> = corners
            .iter()
            .map(|c| format!("({}, {})", py(c[0]), py(c[1])))
            .collect();
        self.treat_edges(
            size,
            fillet,
            &format!("corners = [{}]\n", list.join(", ")),
            "len(e.Vertexes) == 2\n         \
             and all(abs(v.X - e.Vertexes[0].X) < 1e-6 and abs(v.Y - e.Vertexes[0].Y) < 1e-6 for v in e.Vertexes)\n         \
             and any(abs(e.Vertexes[0].X - x) < 1e-6 and abs(e.Vertexes[0].Y - y) < 1e-6 for x, y in corners)",
        );
        Ok(keep)
    }

    /// Top, bottom or all edges of a block, cylinder or tube.
    fn face_edges(&mut self, p: &Prism, s: f64, set: Edges, fillet: bool) -> Result<(), NotUnderstood> {
        let what = if fillet { "fillet" } else { "chamfer" };
        if p.plane != Plane::Xy {
            return Err(self.refuse(format!(
                "I can {what} the {} of blocks, cylinders and tubes only.",
                set.describe()
            )));
        }
        let faces = if set == Edges::All { 2.0 } else { 1.0 };
        if faces * s >= p.depth {
            return Err(self.refuse(format!(
                "A {} mm {what} on the {} does not fit a part {} mm high.",
                human(s),
                set.describe(),
                human(p.depth)
            )));
        }
        // Spandrel (fillet) or triangle (chamfer) cross-section, and the
        // distance of its centroid from the edge.
        let (section, centroid) = if fillet {
            ((1.0 - PI / 4.0) * s * s, s * (10.0 - 3.0 * PI) / (12.0 - 3.0 * PI))
        } else {
            (s * s / 2.0, s / 3.0)
        };
        let removed = match (p.shape, set) {
            (Shape::Block { l, w }, Edges::Top | Edges::Bottom) => {
                if 2.0 * s >= l.min(w) {
                    return Err(self.refuse(format!(
                        "A {} mm {what} does not fit a {} × {} mm face.",
                        human(s),
                        human(l),
                        human(w)
                    )));
                }
                let corner = if fillet {
                    (5.0 / 3.0 - PI / 2.0) * s.powi(3)
                } else {
                    s.powi(3) / 3.0
                };
                section * 2.0 * (l + w) - 4.0 * corner
            }
            (Shape::Block { l, w }, Edges::All) if fillet => {
                if 2.0 * s >= l.min(w) {
                    return Err(self.refuse(format!(
                        "A {} mm fillet does not fit a {} × {} mm face.",
                        human(s),
                        human(l),
                        human(w)
                    )));
                }
                let (a, b, c) = (l - 2.0 * s, w - 2.0 * s, p.depth - 2.0 * s);
                let rounded = a * b * c
                    + 2.0 * s * (a * b + a * c + b * c)
                    + PI * s * s * (a + b + c)
                    + 4.0 / 3.0 * PI * s.powi(3);
                l * w * p.depth - rounded
            }
            (Shape::Round { r, inner }, _) => {
                if let Some(ri) = inner {
                    if s * 2.0 >= r - ri {
                        return Err(self.refuse(format!(
                            "A {} mm {what} does not fit a {} mm tube wall.",
                            human(s),
                            human(r - ri)
                        )));
                    }
                } else if s >= r {
                    return Err(self.refuse(format!(
                        "A {} mm {what} does not fit a Ø{} mm part.",
                        human(s),
                        human(2.0 * r)
                    )));
                }
                let ring = |radius: f64| section * TAU * radius;
                let per_face = ring(r - centroid) + inner.map_or(0.0, |ri| ring(ri + centroid));
                per_face * faces
            }
            _ => {
                return Err(self.refuse(format!(
                    "I can {what} the {} of blocks, cylinders and tubes; for other parts ask for the vertical edges.",
                    set.describe()
                )))
            }
        };
        self.add_volume(-removed);
        let (lo, hi) = (p.w0, p.w0 + p.depth);
        let test = match set {
            Edges::Top => format!("all(abs(v.Z - {}) < 1e-6 for v in e.Vertexes)", py(hi)),
            Edges::Bottom => format!("all(abs(v.Z - {}) < 1e-6 for v in e.Vertexes)", py(lo)),
            _ => "True".to_string(),
        };
        self.treat_edges(s, fillet, "", &test);
        Ok(())
    }

    /// Hollows the part from the top; returns the cavity's region. The wall
    /// and floor come as they follow the spreadsheet.
    fn shell(
        &mut self,
        p: &Prism,
        wall_x: &X,
        floor_x: &X,
        vertical_round: Option<f64>,
        top_margin: f64,
    ) -> Result<Region, NotUnderstood> {
        let (wall, floor) = (wall_x.value, floor_x.value);
        if top_margin > 0.0 || vertical_round.is_some_and(|r| r < 0.0) || p.plane != Plane::Xy {
            return Err(self.refuse(
                "I can shell a block (plain or with rounded vertical edges), a cylinder or a regular prism \
                 standing on XY, with no other edge treatment.",
            ));
        }
        if floor >= p.depth {
            return Err(self.refuse(format!(
                "A {} mm floor leaves no cavity in a part {} mm high.",
                human(floor),
                human(p.depth)
            )));
        }
        let too_thick = |span: f64| {
            Err(self.refuse(format!(
                "Walls of {} mm leave no room inside {} mm.",
                human(wall),
                human(span)
            )))
        };
        let cavity = match p.shape {
            Shape::Block { l, w } => {
                if 2.0 * wall >= l.min(w) {
                    return too_thick(l.min(w));
                }
                let r = vertical_round.unwrap_or(0.0) - wall;
                rounded_rect([wall, wall], [l - 2.0 * wall, w - 2.0 * wall], r.max(0.0))
            }
            Shape::Round { r, inner: None } if vertical_round.is_none() => {
                if wall >= r {
                    return too_thick(2.0 * r);
                }
                Outline::Circle {
                    c: [0.0, 0.0],
                    r: r - wall,
                }
            }
            Shape::Regular { sides, af } if vertical_round.is_none() => {
                if 2.0 * wall >= af {
                    return too_thick(af);
                }
                Outline::regular(sides, af - 2.0 * wall)
            }
            _ => {
                return Err(
                    self.refuse("I can shell a block, a cylinder or a regular prism; this base has no simple inside.")
                )
            }
        };
        let height = p.depth - floor;
        self.add_volume(-cavity.area() * height);
        // The same inside as FreeCAD objects: the base's form moved in by the wall.
        let two_walls = wall_x.times(2.0);
        let form = match (&p.form, p.shape) {
            (Form::Rect { corner, size }, Shape::Block { .. }) if vertical_round.unwrap_or(0.0) <= wall => Form::Rect {
                corner: [corner[0].plus(wall_x), corner[1].plus(wall_x)],
                size: [size[0].minus(&two_walls), size[1].minus(&two_walls)],
            },
            (Form::Circle { c, r }, Shape::Round { .. }) => Form::Circle {
                c: c.clone(),
                r: r.minus(wall_x),
            },
            (Form::Regular { sides, af }, Shape::Regular { .. }) => Form::Regular {
                sides: sides.clone(),
                af: af.minus(&two_walls),
            },
            _ => {
                self.script.fixed("the rounded outline of the cavity");
                Form::Face(wire(p.plane, &cavity, 0.0))
            }
        };
        // The cavity pokes out of the top so the cut leaves it open.
        let (w, len) = (p.w0_x.plus(floor_x), p.depth_x.minus(floor_x).plus_mm(OVERSHOOT));
        let (tool, _) = self.solid(p.plane, &form, &w, &len, "Cavity");
        self.cut(vec![tool], "Shell", true);
        Ok(Region {
            outer: cavity,
            holes: vec![],
        })
    }

    /// Where a cut from the top face may go and how much material it
    /// crosses there: the cavity's floor, a boss plus the base, or the base.
    /// Returns the chord and the same as it follows the spreadsheet.
    fn fit_normal(
        &self,
        p: &Prism,
        o: &Outline,
        what: &str,
        fit: &Fit,
        placed: &[Placed],
    ) -> Result<(f64, X), NotUnderstood> {
        let Fit {
            cavity,
            bosses,
            margin,
            keepout,
        } = *fit;
        let (region, mut chord, mut chord_x) = match cavity {
            Some((c, floor, floor_x)) => (c, *floor, floor_x.clone()),
            None => (&p.region, p.depth, p.depth_x.clone()),
        };
        let where_ = if cavity.is_some() {
            "the floor of the cavity"
        } else {
            "the part"
        };
        if !region.holds_outline(o, MIN_WEB_MM + margin) {
            return Err(self.refuse(format!(
                "{what} does not fit in {where_}: it must stay {} mm inside the edges.",
                human(MIN_WEB_MM + margin)
            )));
        }
        let c = o.bounds();
        let (cx, cy, reach) = (
            (c[0] + c[2]) / 2.0,
            (c[1] + c[3]) / 2.0,
            (c[2] - c[0]).max(c[3] - c[1]) / 2.0,
        );
        if keepout
            .iter()
            .any(|(q, k)| (q[0] - cx).hypot(q[1] - cy) < reach + k + MIN_WEB_MM)
        {
            return Err(self.refuse(format!("{what} comes too close to a rounded or chamfered corner.")));
        }
        for (b, h, h_x) in bosses {
            let inside_boss = Region {
                outer: b.clone(),
                holes: vec![],
            }
            .holds_outline(o, MIN_WEB_MM);
            if inside_boss {
                chord += h;
                chord_x = chord_x.plus(h_x);
            } else if !apart(b, o, MIN_WEB_MM) {
                return Err(self.refuse(format!("{what} cuts into the edge of a boss.")));
            }
        }
        let own = normal_box(p, o, self.top_w(p));
        for other in placed {
            let clash = match other {
                Placed::Normal(q, _) => !apart(q, o, MIN_WEB_MM),
                Placed::Across(b) => boxes_clash(b, &own),
            };
            if clash {
                return Err(self.refuse(format!("{what} runs into another hole or pocket.")));
            }
        }
        Ok((chord, chord_x))
    }

    /// The positions of a feature as they follow the spreadsheet: a single
    /// point's `{prefix}_x` / `_y`, the pitches of rows and grids, the
    /// centre and diameter of a bolt circle. Starts, angles and lists of
    /// points are fixed, as they are in the spec.
    fn positions_x(&self, at: &Positions, prefix: &str) -> Vec<[X; 2]> {
        let c = |suffix: &str, v: f64| self.cell(&format!("{prefix}_{suffix}"), v);
        let points: Vec<[X; 2]> = match at {
            Positions::Points { points } => match points.as_slice() {
                [q] => vec![[c("x", q[0]), c("y", q[1])]],
                many => many.iter().map(|q| [X::mm(q[0]), X::mm(q[1])]).collect(),
            },
            Positions::Linear { start, step, count } => {
                let (px, py_) = (c("pitch_x", step[0]), c("pitch_y", step[1]));
                (0..*count)
                    .map(|i| {
                        let k = f64::from(i);
                        [X::mm(start[0]).plus(&px.times(k)), X::mm(start[1]).plus(&py_.times(k))]
                    })
                    .collect()
            }
            Positions::Circular {
                center,
                diameter,
                count,
                start_angle_deg,
            } => {
                let (cx, cy) = (c("circle_x", center[0]), c("circle_y", center[1]));
                let d = c("circle_diameter", *diameter);
                (0..*count)
                    .map(|i| {
                        let a = start_angle_deg.to_radians() + TAU * f64::from(i) / f64::from(*count);
                        [cx.plus(&d.times(0.5 * a.cos())), cy.plus(&d.times(0.5 * a.sin()))]
                    })
                    .collect()
            }
            Positions::Grid { start, step, counts } => {
                let (px, py_) = (c("pitch_x", step[0]), c("pitch_y", step[1]));
                (0..counts[1])
                    .flat_map(|j| {
                        let (px, py_) = (px.clone(), py_.clone());
                        (0..counts[0]).map(move |i| {
                            [
                                X::mm(start[0]).plus(&px.times(f64::from(i))),
                                X::mm(start[1]).plus(&py_.times(f64::from(j))),
                            ]
                        })
                    })
                    .collect()
            }
        };
        debug_assert!(points
            .iter()
            .zip(at.points())
            .all(|(x, q)| (x[0].value - q[0]).abs() < 1e-6 && (x[1].value - q[1]).abs() < 1e-6));
        points
    }

    fn normal_holes(
        &mut self,
        p: &Prism,
        hole: &Drill,
        fit: &Fit,
        placed: &mut Vec<Placed>,
    ) -> Result<Vec<String>, NotUnderstood> {
        let Drill {
            prefix,
            d,
            depth,
            counterbore,
            at,
        } = *hole;
        let cavity = fit.cavity;
        let axis = axis_index(normal(p.plane));
        let r = d / 2.0;
        let outer_r = counterbore.map_or(r, |cb| cb.diameter / 2.0).max(r);
        if let Some(cb) = counterbore {
            if cb.diameter <= d {
                return Err(self.refuse(format!(
                    "A counterbore (Ø{} mm) must be wider than its hole (Ø{} mm).",
                    human(cb.diameter),
                    human(d)
                )));
            }
        }
        if cavity.is_some() && (depth.is_some() || counterbore.is_some()) {
            return Err(self.refuse("Holes in the floor of a shelled part go straight through."));
        }
        let named = |suffix: &str, v: f64| self.cell(&format!("{prefix}_{suffix}"), v);
        let radius_x = named("diameter", d).times(0.5);
        let depth_x = depth.map(|v| named("depth", v));
        let counterbore_x = counterbore.map(|cb| {
            (
                named("counterbore_diameter", cb.diameter).times(0.5),
                named("counterbore_depth", cb.depth),
            )
        });
        let points = at.points();
        let points_x = self.positions_x(at, prefix);
        let mut tools = Vec::new();
        for (i, (q, q_x)) in points.iter().zip(points_x).enumerate() {
            let what = if points.len() == 1 {
                format!(
                    "A Ø{} mm hole at ({}, {})",
                    human(2.0 * outer_r),
                    human(q[0]),
                    human(q[1])
                )
            } else {
                format!(
                    "Hole {} of {} (Ø{} mm at ({}, {}))",
                    i + 1,
                    points.len(),
                    human(2.0 * outer_r),
                    human(q[0]),
                    human(q[1])
                )
            };
            let o = Outline::Circle { c: *q, r: outer_r };
            let (chord, chord_x) = self.fit_normal(p, &o, &what, fit, placed)?;
            let cb_depth = counterbore.map_or(0.0, |cb| cb.depth);
            let hole_depth = depth.unwrap_or(chord);
            if hole_depth > chord + 1e-9 {
                return Err(self.refuse(format!(
                    "A hole {} mm deep is deeper than the {} mm of material; leave out the depth for a through hole.",
                    human(hole_depth),
                    human(chord)
                )));
            }
            if cb_depth >= hole_depth {
                return Err(self.refuse(format!(
                    "A counterbore {} mm deep does not leave any of its {} mm hole.",
                    human(cb_depth),
                    human(hole_depth)
                )));
            }
            let through = depth.is_none() || (hole_depth - chord).abs() < 1e-9;
            let circle = PI * r * r;
            let cb_area = counterbore.map_or(0.0, |cb| PI * cb.diameter * cb.diameter / 4.0);
            self.add_volume(-(circle * (hole_depth - cb_depth) + cb_area * cb_depth));
            if through {
                self.add_holes(1);
            }
            // The face the hole starts from: the top of the base, or of
            // the boss it goes through.
            let top_x = p.w0_x.plus(&chord_x);
            let (start, len) = match &depth_x {
                Some(dx) if !through => (top_x.minus(dx), dx.plus_mm(OVERSHOOT)),
                _ => (p.w0_x.plus_mm(-OVERSHOOT), chord_x.plus_mm(2.0 * OVERSHOOT)),
            };
            let [u, v] = q_x;
            let plain = through && counterbore.is_none() && (chord - p.depth).abs() < 1e-9;
            if plain && self.profile.is_some() {
                // A circle in the base's face, the whole depth of it.
                let at = to_xyz(p.plane, [u, v, p.w0_x.clone()]);
                let circle = self.circle(&radius_x, &at, axis, "Drill");
                if let Some(profile) = self.profile.as_mut() {
                    profile.holes.push(circle);
                }
            } else {
                let start = to_xyz(p.plane, [u.clone(), v.clone(), start]);
                tools.push(self.cylinder(&radius_x, &len, &start, axis, "Drill"));
                if let Some((cb_r, cb_depth)) = &counterbore_x {
                    let start = to_xyz(p.plane, [u, v, top_x.minus(cb_depth)]);
                    tools.push(self.cylinder(cb_r, &cb_depth.plus_mm(OVERSHOOT), &start, axis, "Counterbore"));
                }
            }
            let b = normal_box(p, &o, self.top_w(p));
            placed.push(Placed::Normal(o, b));
        }
        Ok(tools)
    }

    /// The highest point along the normal (top of the bosses, if any).
    fn top_w(&self, p: &Prism) -> f64 {
        let axis = normal(p.plane).iter().position(|c| *c > 0.5).unwrap_or(2);
        self.bbox[3 + axis]
    }

    /// Straight through holes along an axis lying in the sketch plane
    /// (across a plate, through the upright leg of an L bracket).
    fn across_holes(
        &mut self,
        p: &Prism,
        hole: &Drill,
        axis: Axis,
        placed: &mut Vec<Placed>,
    ) -> Result<Vec<String>, NotUnderstood> {
        let Drill { prefix, d, at, .. } = *hole;
        let r = d / 2.0;
        let radius_x = self.cell(&format!("{prefix}_diameter"), d).times(0.5);
        let axis_index = match axis {
            Axis::X => 0,
            Axis::Y => 1,
            Axis::Z => 2,
        };
        let others: Vec<usize> = (0..3).filter(|i| *i != axis_index).collect();
        // Which sketch coordinate runs along the hole (0 = u, 1 = v).
        let along = (0..2)
            .find(|k| {
                let mut e = [0.0; 3];
                e[*k] = 1.0;
                to_xyz(p.plane, e)[axis_index] > 0.5
            })
            .unwrap_or(0);
        let mut tools = Vec::new();
        for (q, q_x) in at.points().into_iter().zip(self.positions_x(at, prefix)) {
            let mut world = [0.0; 3];
            world[others[0]] = q[0];
            world[others[1]] = q[1];
            // Back to sketch coordinates.
            let uvw = (0..3)
                .map(|k| {
                    let mut e = [0.0; 3];
                    e[k] = 1.0;
                    let dir = to_xyz(p.plane, e);
                    (0..3).map(|i| dir[i] * world[i]).sum::<f64>()
                })
                .collect::<Vec<f64>>();
            let (cross, w) = (uvw[1 - along], uvw[2]);
            let what = format!(
                "A Ø{} mm hole along {:?} at ({}, {})",
                human(d),
                axis,
                human(q[0]),
                human(q[1])
            );
            if w - r - MIN_WEB_MM < p.w0 || w + r + MIN_WEB_MM > p.w0 + p.depth {
                return Err(self.refuse(format!(
                    "{what} does not fit in the part's {} mm depth.",
                    human(p.depth)
                )));
            }
            let chords = |at: f64| {
                if along == 0 {
                    p.region.chords_along_u(at)
                } else {
                    swapped(&p.region).chords_along_u(at)
                }
            };
            let mid = chords(cross);
            let samples = [-1.0, -0.5, 0.5, 1.0];
            let constant = !mid.is_empty()
                && samples.iter().all(|s| {
                    let c = chords(cross + s * (r + MIN_WEB_MM));
                    c.len() == mid.len()
                        && c.iter()
                            .zip(&mid)
                            .all(|(a, b)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9)
                });
            if !constant {
                return Err(self.refuse(format!(
                    "{what} would not pass through flat-sided material: it must cross the part where its faces are parallel, {} mm from any edge.",
                    human(MIN_WEB_MM)
                )));
            }
            let length: f64 = mid.iter().map(|(a, b)| b - a).sum();
            self.add_volume(-PI * r * r * length);
            self.add_holes(mid.len() as u32);
            let b = self.bbox;
            let mut start = world;
            start[axis_index] = b[axis_index] - OVERSHOOT;
            let span = b[3 + axis_index] - b[axis_index] + 2.0 * OVERSHOOT;
            // The tool spans the part's extent along the hole and sits on
            // the cross-section where the spreadsheet puts it.
            let (from, extent) = self
                .extent(p, axis_index)
                .unwrap_or_else(|| (X::mm(start[axis_index] + OVERSHOOT), X::mm(span - 2.0 * OVERSHOOT)));
            let mut start_x = start.map(X::mm);
            let [first, second] = q_x;
            start_x[others[0]] = first;
            start_x[others[1]] = second;
            start_x[axis_index] = from.plus_mm(-OVERSHOOT);
            let span_x = extent.plus_mm(2.0 * OVERSHOOT);
            tools.push(self.cylinder(&radius_x, &span_x, &start_x, axis_index, "Drill"));
            let mut lo = [b[0], b[1], b[2]];
            let mut hi = [b[3], b[4], b[5]];
            // Along the hole: only where it crosses material.
            lo[axis_index] = mid.first().map_or(lo[axis_index], |c| c.0);
            hi[axis_index] = mid.last().map_or(hi[axis_index], |c| c.1);
            for i in &others {
                let v = world[*i];
                lo[*i] = v - r;
                hi[*i] = v + r;
            }
            let bx = [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]];
            for other in placed.iter() {
                let clash = match other {
                    Placed::Across(o) | Placed::Normal(_, o) => boxes_clash(o, &bx),
                };
                if clash {
                    return Err(self.refuse(format!("{what} runs into another hole.")));
                }
            }
            placed.push(Placed::Across(bx));
        }
        Ok(tools)
    }

    fn pocket(
        &mut self,
        p: &Prism,
        prefix: &str,
        loops: &[Loop],
        depth: Option<f64>,
        fit: &Fit,
        placed: &mut Vec<Placed>,
    ) -> Result<Vec<String>, NotUnderstood> {
        let depth_x = depth.map(|v| self.cell(&format!("{prefix}_depth"), v));
        let mut tools = Vec::new();
        for (i, l) in loops.iter().enumerate() {
            let o = Outline::from_loop(l);
            let (chord, chord_x) = self.fit_normal(p, &o, "The pocket", fit, placed)?;
            let d = depth.unwrap_or(chord);
            if d > chord + 1e-9 {
                return Err(self.refuse(format!(
                    "A pocket {} mm deep is deeper than the {} mm of material.",
                    human(d),
                    human(chord)
                )));
            }
            let through = (d - chord).abs() < 1e-9;
            if through {
                self.add_holes(1);
            }
            self.add_volume(-o.area() * d);
            let (start, len) = match &depth_x {
                Some(dx) if !through => (p.w0_x.plus(&chord_x).minus(dx), dx.plus_mm(OVERSHOOT)),
                _ => (p.w0_x.plus_mm(-OVERSHOOT), chord_x.plus_mm(2.0 * OVERSHOOT)),
            };
            let form = self.loop_form(p.plane, l, &loop_prefix(prefix, i, loops.len()));
            tools.push(self.solid(p.plane, &form, &start, &len, "Pocket").0);
            let b = normal_box(p, &o, self.top_w(p));
            placed.push(Placed::Normal(o, b));
        }
        Ok(tools)
    }

    fn build_revolved(&mut self) -> Result<(), NotUnderstood> {
        if !self.spec.features.is_empty() {
            return Err(self.refuse(
                "I can add holes, fillets and other features only to extruded parts (blocks, cylinders, \
                 tubes, prisms, profiles, gears, sketches), not to spheres, cones, tori or revolved sketches.",
            ));
        }
        match &self.spec.base {
            Base::Sphere { diameter } => {
                let r = diameter / 2.0;
                let var = self.script.object("Part::Sphere", "Sphere");
                self.script
                    .set(&var, "Radius", &self.cell("diameter", *diameter).times(0.5));
                self.part = var;
                self.part_at = Some(origin());
                self.volume = Some(4.0 / 3.0 * PI * r.powi(3));
                self.holes = Some(0);
                self.bbox = [-r, -r, -r, r, r, r];
            }
            Base::Cone {
                bottom_diameter,
                top_diameter,
                height,
            } => {
                if *top_diameter < 0.0 {
                    return Err(self.refuse(format!(
                        "The top diameter cannot be negative ({} mm).",
                        human(*top_diameter)
                    )));
                }
                let (b, t) = (*bottom_diameter, *top_diameter);
                let var = self.script.object("Part::Cone", "Cone");
                self.script
                    .set(&var, "Radius1", &self.cell("bottom_diameter", b).times(0.5));
                self.script
                    .set(&var, "Radius2", &self.cell("top_diameter", t).times(0.5));
                self.script.set(&var, "Height", &self.cell("height", *height));
                self.part = var;
                self.part_at = Some(origin());
                self.volume = Some(PI * height / 12.0 * (b * b + b * t + t * t));
                self.holes = Some(0);
                let r = b.max(t) / 2.0;
                self.bbox = [-r, -r, 0.0, r, r, *height];
            }
            Base::Torus {
                ring_diameter,
                tube_diameter,
            } => {
                let (big, small) = (ring_diameter / 2.0, tube_diameter / 2.0);
                if small >= big {
                    return Err(self.refuse(format!(
                        "A torus's tube (Ø{} mm) must be thinner than its ring diameter (Ø{} mm) allows.",
                        human(*tube_diameter),
                        human(*ring_diameter)
                    )));
                }
                let var = self.script.object("Part::Torus", "Torus");
                self.script
                    .set(&var, "Radius1", &self.cell("ring_diameter", *ring_diameter).times(0.5));
                self.script
                    .set(&var, "Radius2", &self.cell("tube_diameter", *tube_diameter).times(0.5));
                self.part = var;
                self.part_at = Some(origin());
                self.volume = Some(2.0 * PI * PI * big * small * small);
                self.holes = Some(1);
                let e = big + small;
                self.bbox = [-e, -e, -small, e, e, small];
            }
            Base::Revolve { sketch, angle_deg } => {
                let mut outlines = sketch.loops.iter().map(Outline::from_loop);
                let outer = outlines.next().ok_or_else(|| self.refuse("The sketch has no loop."))?;
                let region = Region {
                    outer,
                    holes: outlines.collect(),
                };
                self.check_region(&region)?;
                let b = region.outer.bounds();
                if b[0] < -1e-9 {
                    return Err(
                        self.refuse("A revolved sketch must lie on one side of the axis (u ≥ 0 on the XZ plane).")
                    );
                }
                let moment = region.outer.moment_u() - region.holes.iter().map(Outline::moment_u).sum::<f64>();
                let full = (*angle_deg - 360.0).abs() < 1e-9;
                self.volume = Some(moment * angle_deg.to_radians());
                self.holes = if !region.holes.is_empty() {
                    None
                } else if full && b[0] > 1e-9 {
                    Some(1)
                } else {
                    Some(0)
                };
                self.script.fixed("the outline of the revolved sketch");
                let angle_x = self.cell("angle", *angle_deg);
                self.part = self.revolution(&region.outer, &angle_x, "Base");
                self.part_at = None;
                let tools: Vec<String> = region
                    .holes
                    .iter()
                    .map(|h| self.revolution(h, &angle_x, "Bore"))
                    .collect();
                self.cut(tools, "Hollow", true);
                // Extents: sample the outline swept through the angle.
                let pts = region.outer.points(720);
                let steps = 720;
                let mut bb = [
                    f64::INFINITY,
                    f64::INFINITY,
                    b[1],
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                    b[3],
                ];
                for k in 0..=steps {
                    let a = angle_deg.to_radians() * f64::from(k) / f64::from(steps);
                    for q in &pts {
                        let (x, y) = (q[0] * a.cos(), q[0] * a.sin());
                        bb[0] = bb[0].min(x);
                        bb[1] = bb[1].min(y);
                        bb[3] = bb[3].max(x);
                        bb[4] = bb[4].max(y);
                    }
                }
                self.bbox = bb;
            }
            _ => unreachable!("extruded bases are built by build_prism"),
        }
        Ok(())
    }

    /// Where the base starts along a world axis and how far it reaches, as
    /// they follow the spreadsheet; `None` where the outline is fixed.
    fn extent(&self, p: &Prism, axis: usize) -> Option<(X, X)> {
        let k = (0..3).find(|k| {
            let mut e = [0.0; 3];
            e[*k] = 1.0;
            to_xyz(p.plane, e)[axis] > 0.5
        })?;
        if k == 2 {
            return Some((p.w0_x.clone(), p.depth_x.clone()));
        }
        let rects: Vec<(&X, &X)> = match &p.form {
            Form::Rect { corner, size } => vec![(&corner[k], &size[k])],
            Form::Circle { c, r } => return Some((c[k].minus(r), r.times(2.0))),
            Form::Union(forms) => forms
                .iter()
                .map(|f| match f {
                    Form::Rect { corner, size } => Some((&corner[k], &size[k])),
                    _ => None,
                })
                .collect::<Option<_>>()?,
            Form::Regular { .. } | Form::Face(_) => return None,
        };
        let lo = rects.iter().min_by(|a, b| a.0.value.total_cmp(&b.0.value))?.0;
        let (c, s) = rects
            .iter()
            .max_by(|a, b| (a.0.value + a.1.value).total_cmp(&(b.0.value + b.1.value)))?;
        Some((lo.clone(), c.plus(s).minus(lo)))
    }

    /// A fixed face on the XZ plane revolved about Z by `angle`.
    fn revolution(&mut self, o: &Outline, angle: &X, name: &str) -> String {
        let profile = self.script.object("Part::Feature", &format!("{name}Profile"));
        self.script
            .line(&format!("{profile}.Shape = Part.Face({})", wire(Plane::Xz, o, 0.0)));
        let var = self.script.object("Part::Revolution", name);
        self.script.line(&format!(
            "{var}.Source = {profile}\n{var}.Base = Vector(0, 0, 0)\n{var}.Axis = Vector(0, 0, 1)\n{var}.Solid = True"
        ));
        self.script.set(&var, "Angle", angle);
        var
    }

    fn place(&mut self) {
        let pl = self.spec.placement;
        if pl.is_identity() {
            return;
        }
        let mut shift = pl.offset;
        if pl.centered {
            for (i, s) in shift.iter_mut().enumerate() {
                *s -= (self.bbox[i] + self.bbox[3 + i]) / 2.0;
            }
        }
        if pl.centered {
            self.script.fixed("the centring on the origin");
        }
        let names = ["offset_x", "offset_y", "offset_z"];
        let shift_x: Vec<X> = (0..3)
            .map(|i| {
                if pl.offset[i] != 0.0 {
                    self.cell(names[i], pl.offset[i]).plus_mm(shift[i] - pl.offset[i])
                } else {
                    X::mm(shift[i])
                }
            })
            .collect();
        // A primitive's Placement is where it sits; a computed shape's
        // Placement moves it.
        let base = match self.part_at.take() {
            Some(at) => [0, 1, 2].map(|i| at[i].plus(&shift_x[i])),
            None => [0, 1, 2].map(|i| shift_x[i].clone()),
        };
        let part = self.part.clone();
        self.script.place(&part, &base, None);
        for (i, s) in shift.iter().enumerate() {
            self.bbox[i] += s;
            self.bbox[3 + i] += s;
        }
    }
}

fn is_length(kind: ParameterKind) -> bool {
    matches!(kind, ParameterKind::Length | ParameterKind::Position)
}

/// The origin, for primitives FreeCAD builds there.
fn origin() -> [X; 3] {
    [X::mm(0.0), X::mm(0.0), X::mm(0.0)]
}

/// A region with u and v swapped, to take chords along v.
fn swapped(region: &Region) -> Region {
    let swap = |o: &Outline| Outline::Polygon(o.polygon().into_iter().map(|[a, b]| [b, a]).collect());
    Region {
        outer: swap(&region.outer),
        holes: region.holes.iter().map(swap).collect(),
    }
}

/// A rectangle with corners rounded to `r` (sharp when `r` is 0).
fn rounded_rect(corner: P2, size: P2, r: f64) -> Outline {
    let [x0, y0] = corner;
    let [x1, y1] = [x0 + size[0], y0 + size[1]];
    if r <= 0.0 {
        return Outline::polyline(&[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]);
    }
    let k = r * (1.0 - std::f64::consts::FRAC_1_SQRT_2);
    use geom::Seg::{Arc, Line};
    Outline::Path {
        start: [x0 + r, y0],
        segments: vec![
            Line([x1 - r, y0]),
            Arc {
                through: [x1 - k, y0 + k],
                to: [x1, y0 + r],
            },
            Line([x1, y1 - r]),
            Arc {
                through: [x1 - k, y1 - k],
                to: [x1 - r, y1],
            },
            Line([x0 + r, y1]),
            Arc {
                through: [x0 + k, y1 - k],
                to: [x0, y1 - r],
            },
            Line([x0, y0 + r]),
            Arc {
                through: [x0 + k, y0 + k],
                to: [x0 + r, y0],
            },
        ],
    }
}

/// A wire expression for an outline at height `w` on `plane`.
fn wire(plane: Plane, o: &Outline, w: f64) -> String {
    let at = |q: P2| vector(to_xyz(plane, [q[0], q[1], w]));
    match o {
        Outline::Circle { c, r } => format!(
            "Part.Wire(Part.makeCircle({}, {}, {}))",
            py(*r),
            at(*c),
            vector(normal(plane))
        ),
        Outline::Polygon(points) => {
            let mut pts: Vec<String> = points.iter().map(|q| at(*q)).collect();
            pts.push(pts[0].clone());
            format!("Part.makePolygon([{}])", pts.join(", "))
        }
        Outline::Path { start, segments } => {
            if segments.iter().all(|s| matches!(s, geom::Seg::Line(_))) {
                let mut pts = vec![at(*start)];
                pts.extend(segments.iter().map(|s| at(s.end())));
                return format!("Part.makePolygon([{}])", pts.join(", "));
            }
            let mut a = *start;
            let edges: Vec<String> = segments
                .iter()
                .map(|s| {
                    let e = match *s {
                        geom::Seg::Line(b) => format!("Part.LineSegment({}, {}).toShape()", at(a), at(b)),
                        geom::Seg::Arc { through, to } => {
                            format!("Part.Arc({}, {}, {}).toShape()", at(a), at(through), at(to))
                        }
                    };
                    a = s.end();
                    e
                })
                .collect();
            format!("Part.Wire([{}])", edges.join(", "))
        }
    }
}

/// The world axis (0 = X, 1 = Y, 2 = Z) a unit vector runs along.
/// Whether holes along `axis` go along the normal of `plane`.
fn normal_axis(plane: Plane, axis: Axis) -> bool {
    matches!(
        (plane, axis),
        (Plane::Xy, Axis::Z) | (Plane::Xz, Axis::Y) | (Plane::Yz, Axis::X)
    )
}

/// The turn that makes a primitive's local Z the world axis `axis`.
fn axis_rotation(axis: usize) -> Option<&'static str> {
    match axis {
        0 => Some("App.Rotation(Vector(0, 1, 0), 90)"),
        1 => Some("App.Rotation(Vector(1, 0, 0), -90)"),
        _ => None,
    }
}

fn axis_index(n: [f64; 3]) -> usize {
    n.iter().position(|c| *c > 0.5).unwrap_or(2)
}

fn vector(v: [f64; 3]) -> String {
    format!("Vector({}, {}, {})", py(v[0]), py(v[1]), py(v[2]))
}

/// `3, "hole"` → `three holes`; numbers above twelve stay digits.
pub(crate) fn counted(n: u32, singular: &str, plural: &str) -> String {
    const WORDS: [&str; 13] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    ];
    let number = WORDS
        .get(n as usize)
        .map_or_else(|| n.to_string(), |w| (*w).to_string());
    format!("{number} {}", if n == 1 { singular } else { plural })
}

/// One sentence for people describing the part.
pub fn describe(spec: &PartSpec) -> String {
    let h = human;
    let label = if spec.label.is_empty() {
        default_label(&spec.base).to_string()
    } else {
        spec.label.clone()
    };
    let base = match &spec.base {
        Base::Box { length, width, height } => format!("{label} {} × {} × {} mm", h(*length), h(*width), h(*height)),
        Base::Cylinder { diameter, height } => format!("{label} Ø{} × {} mm", h(*diameter), h(*height)),
        Base::Tube {
            outer_diameter,
            inner_diameter,
            height,
        } => format!(
            "{label} Ø{} / Ø{} mm × {} mm",
            h(*outer_diameter),
            h(*inner_diameter),
            h(*height)
        ),
        Base::Sphere { diameter } => format!("{label} Ø{} mm", h(*diameter)),
        Base::Cone {
            bottom_diameter,
            top_diameter,
            height,
        } => {
            if *top_diameter > 0.0 {
                format!(
                    "{label} Ø{} → Ø{} mm, {} mm high",
                    h(*bottom_diameter),
                    h(*top_diameter),
                    h(*height)
                )
            } else {
                format!("{label} Ø{} mm, {} mm high", h(*bottom_diameter), h(*height))
            }
        }
        Base::Torus {
            ring_diameter,
            tube_diameter,
        } => format!(
            "{label} Ø{} mm with a Ø{} mm tube",
            h(*ring_diameter),
            h(*tube_diameter)
        ),
        Base::Prism {
            sides,
            across_flats,
            height,
        } => format!(
            "{label} ({sides} sides) {} mm across flats, {} mm high",
            h(*across_flats),
            h(*height)
        ),
        Base::Profile { profile, length } => {
            let dims = match profile {
                ProfileShape::Triangle { width, height } => format!("{} × {} mm", h(*width), h(*height)),
                ProfileShape::Trapezoid { bottom, top, height } => {
                    format!("{} / {} mm wide, {} mm high", h(*bottom), h(*top), h(*height))
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
                } => format!("{} × {} mm, {} mm thick", h(*width), h(*height), h(*thickness)),
            };
            let along = if spec.part == "l_bracket" { "wide" } else { "long" };
            format!("{label} {dims}, {} mm {along}", h(*length))
        }
        Base::SpurGear {
            module,
            teeth,
            thickness,
        } => format!(
            "{label}, module {}, {teeth} teeth (pitch Ø{} mm), {} mm thick",
            h(*module),
            h(module * f64::from(*teeth)),
            h(*thickness)
        ),
        Base::Extrude { sketch, distance, .. } => format!(
            "{label}: a sketch of {} on {:?} extruded {} mm",
            counted(sketch.loops.len() as u32, "loop", "loops"),
            sketch.plane,
            h(*distance)
        )
        .replace("Xy", "XY")
        .replace("Xz", "XZ")
        .replace("Yz", "YZ"),
        Base::Revolve { sketch, angle_deg } => format!(
            "{label}: a sketch of {} revolved {}°",
            counted(sketch.loops.len() as u32, "loop", "loops"),
            h(*angle_deg)
        ),
    };
    let mut parts: Vec<String> = spec.features.iter().map(describe_feature).collect();
    if spec.placement.centered {
        parts.push("centred on the origin".into());
    }
    if spec.placement.offset != [0.0; 3] {
        let [x, y, z] = spec.placement.offset;
        parts.push(format!("moved by ({}, {}, {}) mm", h(x), h(y), h(z)));
    }
    match parts.len() {
        0 => base,
        _ => format!("{base} with {}", join_and(&parts)),
    }
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn default_label(base: &Base) -> &'static str {
    match base {
        Base::Box { .. } => "Block",
        Base::Cylinder { .. } => "Cylinder",
        Base::Tube { .. } => "Tube",
        Base::Sphere { .. } => "Sphere",
        Base::Cone { .. } => "Cone",
        Base::Torus { .. } => "Torus",
        Base::Prism { .. } => "Prism",
        Base::Profile { profile, .. } => match profile {
            ProfileShape::Triangle { .. } => "Triangular prism",
            ProfileShape::Trapezoid { .. } => "Trapezoidal prism",
            ProfileShape::L { .. } => "L profile",
            ProfileShape::T { .. } => "T profile",
            ProfileShape::U { .. } => "U channel",
        },
        Base::SpurGear { .. } => "Spur gear",
        Base::Extrude { .. } => "Extrusion",
        Base::Revolve { .. } => "Revolved part",
    }
}

fn describe_feature(f: &Feature) -> String {
    let h = human;
    match f {
        Feature::Hole {
            name,
            diameter,
            depth,
            counterbore,
            at,
            axis,
        } => {
            let n = at.count();
            let noun = if name == "bore" { "bore" } else { "hole" };
            let kind = match depth {
                Some(d) => format!("{} mm deep", h(*d)),
                None => "through".to_string(),
            };
            let size = format!("Ø{} mm {kind} {noun}", h(*diameter));
            let mut text = counted(n, &size, &format!("{size}s"));
            if let Some(cb) = counterbore {
                text.push_str(&format!(" counterbored Ø{} mm × {} mm", h(cb.diameter), h(cb.depth)));
            }
            if *axis != Axis::Z {
                text.push_str(&format!(" along {axis:?}"));
            }
            match at {
                Positions::Circular { diameter, .. } if n > 1 => {
                    text.push_str(&format!(" on a Ø{} mm circle", h(*diameter)))
                }
                Positions::Grid { counts, .. } if n > 1 => {
                    text.push_str(&format!(" in a {} × {} grid", counts[0], counts[1]))
                }
                Positions::Linear { .. } if n > 1 => text.push_str(" in a row"),
                Positions::Points { points } if points.len() <= 4 && points.iter().any(|p| *p != [0.0, 0.0]) => {
                    let list: Vec<String> = points.iter().map(|p| format!("({}, {})", h(p[0]), h(p[1]))).collect();
                    text.push_str(&format!(" at {}", list.join(", ")));
                }
                _ => {}
            }
            text
        }
        Feature::Pocket { loops, depth, .. } => {
            let kind = depth.map_or("through".to_string(), |d| format!("{} mm deep", h(d)));
            let shapes: Vec<String> = loops.iter().map(describe_loop).collect();
            format!("a {kind} cut of {}", join_and(&shapes))
        }
        Feature::Boss { loops, height, .. } => {
            let shapes: Vec<String> = loops.iter().map(describe_loop).collect();
            format!("a {} mm boss of {}", h(*height), join_and(&shapes))
        }
        Feature::Fillet { radius, edges } => format!("{} rounded R{} mm", edges.describe(), h(*radius)),
        Feature::Chamfer { size, edges } => format!("{} chamfered {} mm", edges.describe(), h(*size)),
        Feature::Shell { wall, floor } => match floor {
            Some(f) if f != wall => format!("hollowed to {} mm walls and a {} mm floor, open top", h(*wall), h(*f)),
            _ => format!("hollowed to {} mm walls, open top", h(*wall)),
        },
    }
}

fn describe_loop(l: &Loop) -> String {
    match l {
        Loop::Circle { center, diameter } => format!(
            "a Ø{} mm circle at ({}, {})",
            human(*diameter),
            human(center[0]),
            human(center[1])
        ),
        Loop::Rectangle { corner, size } => format!(
            "a {} × {} mm rectangle from ({}, {})",
            human(size[0]),
            human(size[1]),
            human(corner[0]),
            human(corner[1])
        ),
        Loop::Path { segments, .. } => format!("a {}-sided outline", segments.len()),
    }
}
