//! From facts to a spec: choosing the base for a prompt, then reading the
//! features every base shares (holes, fillets, chamfers, shell, centring)
//! from what the base left over. Each builder takes the dimensions it
//! needs, fills documented defaults (listed in the reply) and refuses what
//! it cannot build.

mod bracket;
mod flange;
mod gear;
mod hex;
mod prism;
mod round;

use domain::messages::Question;
use domain::spec::{Axis, Counterbore, Edges, Feature, PartSpec, Positions};

use super::metric;
use super::prompt::Facts;
use super::vocab::{Counted, Family, Flag, PartNoun, Role};
use crate::compile::human;
use crate::NotUnderstood;

/// Hole diameter used when a prompt counts holes but gives no size: the
/// ISO 273 medium clearance hole for an M5 screw.
pub(crate) const DEFAULT_HOLE_DIAMETER_MM: f64 = 5.5;

/// Corner holes sit this many hole diameters from each edge by default
/// (a common minimum edge distance for bolted plates).
const CORNER_INSET_PER_DIAMETER: f64 = 1.5;

/// Picks the base: the most specific noun wins (a "gear" beats a "disc"),
/// and a box or cylinder turns into its hollow variant when the prompt
/// asks for walls.
pub(crate) fn detect(facts: &Facts) -> Option<PartNoun> {
    const PRIORITY: [Family; 22] = [
        Family::Gear,
        Family::Nut,
        Family::Standoff,
        Family::Flange,
        Family::Washer,
        Family::Bracket,
        Family::Enclosure,
        Family::Torus,
        Family::RectTube,
        Family::Tube,
        Family::Cone,
        Family::Sphere,
        Family::Prism,
        Family::Triangle,
        Family::Trapezoid,
        Family::LProfile,
        Family::TProfile,
        Family::Channel,
        Family::Cylinder,
        Family::Plate,
        Family::Cube,
        Family::Box,
    ];
    // "sketch a 40 mm square and extrude it 10 mm": a square is a block.
    let square = facts.has_role(&[Role::Square]).then_some(PartNoun {
        family: Family::Box,
        word: "Block",
    });
    let noun = PRIORITY
        .iter()
        .find_map(|family| facts.parts.iter().find(|n| n.family == *family))
        .copied()
        .or(square)?;
    let walls = facts.has_role(&[Role::Wall, Role::Floor]) || facts.has(Flag::Open);
    let family = match noun.family {
        Family::Box | Family::Plate | Family::Cube if walls => Family::Enclosure,
        // "a round plate 100 mm in diameter" is a disc.
        Family::Plate if facts.has(Flag::Round) && !facts.has_chain() => Family::Cylinder,
        // "a 100 mm diameter plate 5 mm thick" is a disc too.
        Family::Plate
            if !facts.has_chain()
                && facts.has_role(&[Role::Diameter, Role::OuterDiameter, Role::Radius])
                && !facts.has_role(&[Role::Length, Role::Width]) =>
        {
            Family::Cylinder
        }
        other => other,
    };
    let family = match family {
        Family::Cylinder if facts.has_role(&[Role::BoltCircle]) => Family::Flange,
        Family::Cylinder if walls || facts.has_role(&[Role::InnerDiameter, Role::InnerRadius]) => Family::Tube,
        // "a ring 50 mm across with an 8 mm thick tube" is a torus.
        Family::Washer
            if noun.word == "Ring"
                && facts.has_role(&[
                    Role::TubeDiameter,
                    Role::TubeRadius,
                    Role::RingDiameter,
                    Role::RingRadius,
                ]) =>
        {
            Family::Torus
        }
        other => other,
    };
    Some(PartNoun { family, ..noun })
}

/// Builds the spec for `noun`, then the shared features.
pub(crate) fn build(noun: PartNoun, facts: &mut Facts) -> Result<(PartSpec, Vec<String>), NotUnderstood> {
    let mut cx = Ctx {
        facts,
        noun,
        part: family_name(noun.family),
        defaults: Vec::new(),
    };
    let mut spec = match noun.family {
        Family::Box | Family::Plate | Family::Cube => prism::block(&mut cx)?,
        Family::Enclosure => prism::enclosure(&mut cx)?,
        Family::RectTube => prism::rect_tube(&mut cx)?,
        Family::Cylinder => round::cylinder(&mut cx)?,
        Family::Tube => round::tube(&mut cx)?,
        Family::Sphere => round::sphere(&mut cx)?,
        Family::Cone => round::cone(&mut cx)?,
        Family::Torus => round::torus(&mut cx)?,
        Family::Washer => round::washer(&mut cx)?,
        Family::Flange => flange::flange(&mut cx)?,
        Family::Bracket => bracket::l_bracket(&mut cx)?,
        Family::Gear => gear::spur_gear(&mut cx)?,
        Family::Nut => hex::hex_nut(&mut cx)?,
        Family::Standoff => hex::standoff(&mut cx)?,
        Family::Prism => prism::regular_prism(&mut cx)?,
        Family::Triangle | Family::Trapezoid | Family::LProfile | Family::TProfile | Family::Channel => {
            prism::profile(&mut cx)?
        }
    };
    spec.label = match noun.word {
        super::vocab::CIRCLE => "Cylinder".to_string(),
        word => word.to_string(),
    };
    edge_features(&mut cx, &mut spec)?;
    cutout(&mut cx, &mut spec)?;
    if cx.facts.take_flag(Flag::Centre) {
        spec.placement.centered = true;
    }
    Ok((spec, cx.defaults))
}

/// New holes for an existing part (a follow-up's "add a 6 mm hole at the
/// centre"), laid out on its top face.
pub(crate) fn new_holes(facts: &mut Facts, spec: &PartSpec) -> Result<(Option<Feature>, Vec<String>), NotUnderstood> {
    use domain::spec::Base;
    let face = match spec.base {
        Base::Box { length, width, height } => Face::Rect {
            l: length,
            w: width,
            h: (spec.features.is_empty()).then_some(height),
        },
        Base::Cylinder { diameter: d, .. }
        | Base::Tube { outer_diameter: d, .. }
        | Base::Prism { across_flats: d, .. } => Face::Round { d },
        _ => {
            return Err(NotUnderstood {
                reason: "I can add holes to blocks, plates, cylinders, tubes and prisms.".into(),
                part: Some(spec.part.clone()),
                question: None,
            })
        }
    };
    let noun = PartNoun {
        family: Family::Box,
        word: "Part",
    };
    let mut cx = Ctx {
        facts,
        noun,
        part: "part",
        defaults: Vec::new(),
    };
    let holes = cx.holes(face, "")?;
    Ok((holes, cx.defaults))
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Box | Family::Cube => "box",
        Family::Plate => "plate",
        Family::Cylinder => "cylinder",
        Family::Tube => "tube",
        Family::Sphere => "sphere",
        Family::Cone => "cone",
        Family::Washer => "washer",
        Family::Flange => "flange",
        Family::Bracket => "l_bracket",
        Family::Gear => "spur_gear",
        Family::Nut => "hex_nut",
        Family::Standoff => "standoff",
        Family::Enclosure => "enclosure",
        Family::Torus => "torus",
        Family::Prism => "prism",
        Family::Triangle => "triangular_prism",
        Family::Trapezoid => "trapezoidal_prism",
        Family::LProfile => "l_profile",
        Family::TProfile => "t_profile",
        Family::Channel => "u_channel",
        Family::RectTube => "rect_tube",
    }
}

/// "a 40 x 20 mm rectangular hole", "a 10 mm square pocket 3 mm deep": a
/// rectangle cut down from the centre of a block's or cylinder's top face,
/// through unless it has a depth. It comes after the edge features, so a
/// fillet rounds the outside only.
fn cutout(cx: &mut Ctx, spec: &mut PartSpec) -> Result<(), NotUnderstood> {
    use domain::spec::Base;
    let centre = match spec.base {
        Base::Box { length, width, .. } => [length / 2.0, width / 2.0],
        Base::Cylinder { .. } => [0.0, 0.0],
        // Left for the leftovers: "a rectangular cutout" is named in the refusal.
        _ => return Ok(()),
    };
    let size = if cx.facts.take_flag(Flag::SquareCut) {
        // "a 20 x 20 mm square hole" gives both sides.
        if let Some(c) = cx.facts.take_chain(2) {
            return push_cutout(cx, spec, centre, [c[0], c[1]]);
        }
        let side = cx
            .facts
            .take(&[Role::Square, Role::Size, Role::Width])
            .or_else(|| cx.facts.take_bare());
        let side = cx.need(side, "square cutout's side")?;
        [side, side]
    } else if cx.facts.take_flag(Flag::RectCut) {
        match cx.facts.take_chain(2) {
            Some(c) => [c[0], c[1]],
            None => {
                return Err(cx.refuse("A rectangular cutout needs its size, e.g. \"a 40 x 20 mm rectangular hole\"."))
            }
        }
    } else {
        return Ok(());
    };
    push_cutout(cx, spec, centre, size)
}

fn push_cutout(cx: &mut Ctx, spec: &mut PartSpec, centre: [f64; 2], size: [f64; 2]) -> Result<(), NotUnderstood> {
    use domain::spec::Loop;
    let depth = cx.facts.take(&[Role::Depth]);
    cx.facts.take_flag(Flag::Centre);
    cx.facts.take_flag(Flag::Through);
    spec.features.push(Feature::Pocket {
        name: "cutout".into(),
        loops: vec![Loop::Rectangle {
            corner: [centre[0] - size[0] / 2.0, centre[1] - size[1] / 2.0],
            size,
        }],
        depth,
    });
    Ok(())
}

/// Fillets and chamfers: "vertical edges rounded 2 mm", "2 mm chamfer on
/// the top edges", "rounded corners 5 mm".
fn edge_features(cx: &mut Ctx, spec: &mut PartSpec) -> Result<(), NotUnderstood> {
    let fillet = cx.facts.take(&[Role::Fillet]);
    let chamfer = cx.facts.take(&[Role::Chamfer]);
    // "5 mm radius corners", "corners of radius 5": a radius the base did
    // not use, said of corners or edges, rounds them.
    let fillet = match (fillet, chamfer) {
        (None, None) => cx.facts.take_edge_radius(),
        _ => fillet,
    };
    if fillet.is_none() && chamfer.is_none() {
        // "rounded corners", "chamfered edges" without a size: asked, not
        // left out.
        for (role, what) in [(Role::Fillet, "rounded"), (Role::Chamfer, "chamfered")] {
            if cx.facts.keys.contains(&role) {
                return Err(cx.refuse(format!(
                    "I read that edges are {what} but not by how much; give the size, e.g. \"{what} 2 mm\"."
                )));
            }
        }
        return Ok(());
    }
    let edges = if cx.facts.take_flag(Flag::VerticalEdges) || cx.facts.take_flag(Flag::Corners) {
        Edges::Vertical
    } else if cx.facts.take_flag(Flag::TopEdges) {
        Edges::Top
    } else if cx.facts.take_flag(Flag::BottomEdges) {
        Edges::Bottom
    } else {
        let said = cx.facts.take_flag(Flag::AllEdges) | cx.facts.take_flag(Flag::Edges);
        let round = matches!(
            spec.base,
            domain::spec::Base::Cylinder { .. } | domain::spec::Base::Tube { .. }
        );
        match (said, round) {
            (_, true) => {
                if !said {
                    cx.defaults.push("edges: top and bottom".into());
                }
                Edges::All
            }
            (true, false) => Edges::All,
            (false, false) => {
                cx.defaults.push("edges: all edges".into());
                Edges::All
            }
        }
    };
    if let (Some(_), Edges::All, domain::spec::Base::Box { .. }) = (chamfer, edges, &spec.base) {
        return Err(cx.refuse(
            "I can chamfer the vertical, top or bottom edges of a block, but not all its edges at once \
             (rounding all edges works); say which edges to chamfer.",
        ));
    }
    if let Some(radius) = fillet {
        spec.features.push(Feature::Fillet { radius, edges });
    }
    if let Some(size) = chamfer {
        spec.features.push(Feature::Chamfer { size, edges });
    }
    Ok(())
}

/// The face holes are drilled into, in the base's own coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Face {
    /// `[0, l] × [0, w]`; `h`: the height of a plain block, for holes
    /// drilled across it (`None` where those are not offered).
    Rect { l: f64, w: f64, h: Option<f64> },
    /// Centred on the origin.
    Round { d: f64 },
}

/// What a builder works with.
pub(crate) struct Ctx<'a> {
    pub facts: &'a mut Facts,
    /// The noun as the user wrote it ("Rod", "Plate"), for the reply.
    pub noun: PartNoun,
    pub part: &'static str,
    /// Defaults filled in so far, e.g. "thickness 10 mm".
    pub defaults: Vec<String>,
}

impl Ctx<'_> {
    /// A refusal for this part with the given reason.
    pub fn refuse(&self, reason: impl Into<String>) -> NotUnderstood {
        NotUnderstood {
            reason: reason.into(),
            part: Some(self.part.to_string()),
            question: None,
        }
    }

    /// A required dimension: must be present and positive.
    pub fn need(&self, value: Option<f64>, what: &str) -> Result<f64, NotUnderstood> {
        match value {
            Some(v) if v > 0.0 => Ok(v),
            Some(v) => Err(self.refuse(format!("The {what} must be positive, not {} mm.", human(v)))),
            // Asked, not guessed: the job ends with the question and the
            // user's answer completes the prompt.
            None => {
                let part = self.part.replace('_', " ");
                let mut refusal = self.refuse(format!(
                    "A {part} needs its {what}; for example: \"{}\".",
                    super::catalogue::example_for(self.part)
                ));
                refusal.question = Some(Question {
                    text: format!("What {what} should the {part} have?"),
                    what: what.to_owned(),
                    // Filled in by `generate`, which has the prompt.
                    prompt: String::new(),
                });
                Err(refusal)
            }
        }
    }

    /// An optional dimension with a documented default, recorded for the reply.
    pub fn or_default(&mut self, value: Option<f64>, default: f64, what: &str) -> Result<f64, NotUnderstood> {
        match value {
            Some(v) => self.need(Some(v), what),
            None => {
                self.defaults.push(format!("{what} {} mm", human(default)));
                Ok(default)
            }
        }
    }

    /// Fails with `reason` unless `ok`.
    pub fn ensure(&self, ok: bool, reason: impl FnOnce() -> String) -> Result<(), NotUnderstood> {
        if ok {
            Ok(())
        } else {
            Err(self.refuse(reason()))
        }
    }

    /// The hole diameter: "6 mm holes", "Ø6", an M size (clearance hole),
    /// else the documented default.
    /// A "centre hole" / "bore" the prompt gives, through the top face at
    /// `at`; with `blind`, "8 mm deep" is the bore's unless other holes
    /// could take it.
    pub fn centre_bore(&mut self, at: [f64; 2], blind: bool) -> Result<Option<Feature>, NotUnderstood> {
        let Some(bore) = self.facts.take_diameter(&[Role::Bore], &[]) else {
            return Ok(None);
        };
        let diameter = self.need(Some(bore), "bore")?;
        let depth = if blind && !self.facts.has_count(Counted::Holes) {
            self.facts.take(&[Role::Depth])
        } else {
            None
        };
        Ok(Some(Feature::Hole {
            name: "bore".into(),
            diameter,
            depth,
            counterbore: None,
            axis: Axis::Z,
            at: Positions::Points { points: vec![at] },
        }))
    }

    pub fn hole_diameter(&mut self, diameter_too: bool) -> Result<f64, NotUnderstood> {
        if let Some(d) = self.facts.take(&[Role::Hole]) {
            return self.need(Some(d), "hole diameter");
        }
        if let Some(size) = self.facts.take_thread() {
            let metric = metric::lookup(size).ok_or_else(|| self.unknown_thread(size))?;
            // "M6 tapped holes": the tap drill; the thread is not modelled.
            if self.facts.take_flag(Flag::Tapped) {
                self.defaults.push(format!(
                    "M{} tapped: Ø{} mm tap-drill hole, thread not modelled",
                    human(size),
                    human(metric.tap_drill)
                ));
                return Ok(metric.tap_drill);
            }
            return Ok(metric.clearance);
        }
        let d = if diameter_too {
            self.facts
                .take_diameter(&[Role::Diameter, Role::OuterDiameter], &[Role::Radius])
        } else {
            None
        };
        self.or_default(d, DEFAULT_HOLE_DIAMETER_MM, "hole diameter")
    }

    pub fn unknown_thread(&self, size: f64) -> NotUnderstood {
        self.refuse(format!(
            "M{} is not a metric size I know; I know {}.",
            human(size),
            metric::known_sizes()
        ))
    }

    /// Holes drilled into `face` from the top, read from the prompt: a
    /// count, a size, and a layout (points, corners, centre, a row, a bolt
    /// circle), optionally blind ("8 mm deep") or counterbored. `None` when
    /// the prompt asks for none.
    pub fn holes(&mut self, face: Face, name: &str) -> Result<Option<Feature>, NotUnderstood> {
        // Several groups ("four 5 mm holes in the corners and a 20 mm hole
        // in the centre"): each reads only the phrases up to the next group.
        let groups = self.facts.hole_groups();
        let scope = match groups.as_slice() {
            [] | [_] => None,
            [first, next, ..] if next > first => Some((0, next - 1)),
            _ => {
                return Err(self.refuse(
                    "I cannot tell which sizes and places go with which holes; describe each group of \
                     holes in its own phrase, e.g. \"with four 5 mm holes at the corners and a 20 mm hole \
                     at the centre\".",
                ))
            }
        };
        self.facts.set_scope(scope);
        let holes = self.hole_group(face, name);
        self.facts.set_scope(None);
        holes
    }

    /// Every group of holes the prompt describes.
    pub fn all_holes(&mut self, face: Face, name: &str) -> Result<Vec<Feature>, NotUnderstood> {
        let mut out = Vec::new();
        while let Some(holes) = self.holes(face, name)? {
            out.push(holes);
            if out.len() > 8 {
                return Err(self.refuse("That is more groups of holes than I can lay out."));
            }
        }
        Ok(out)
    }

    fn hole_group(&mut self, face: Face, name: &str) -> Result<Option<Feature>, NotUnderstood> {
        let points = self.facts.take_points();
        let count = self.facts.take_count(Counted::Holes);
        // "four holes 10 mm from the edges" are corner holes too.
        let inset_only = points.is_empty()
            && matches!(face, Face::Rect { .. })
            && count.is_some_and(|c| c.is_none_or(|n| n == 4))
            && self.facts.has_role(&[Role::Inset]);
        let corners = self.facts.has_hole_corners() || inset_only;
        if count.is_none() && points.is_empty() && !corners {
            return Ok(None);
        }
        if let Some(across) = self.across(face, count, &points)? {
            return Ok(Some(across));
        }
        let given = count.flatten();
        // "four M3 holes on a 31 mm square": a centred 2 × 2 grid at that pitch.
        let square = match face {
            Face::Rect { .. } if given == Some(4) && points.is_empty() && !corners => self.facts.take(&[Role::Square]),
            _ => None,
        };
        let grid = self.facts.take_grid().or(square.map(|_| (2, 2)));
        let thread = self.facts.peek_thread();
        let d = self.hole_diameter(true)?;
        let pitch = self.facts.take(&[Role::Pitch]).or(square);
        if pitch.is_some() && (corners || !points.is_empty()) {
            return Err(
                self.refuse("I read a hole spacing, but these holes are placed at the corners or at given points.")
            );
        }
        let at = if let Some((nx, ny)) = grid {
            // "9 holes in a 3 x 3 grid": spread evenly, or at the pitch given.
            self.ensure(given.is_none_or(|g| g == nx * ny), || {
                format!("A {nx} × {ny} grid has {} holes, not {}.", nx * ny, given.unwrap_or(0))
            })?;
            self.ensure(nx * ny <= domain::spec::MAX_COUNT && nx * ny > 0, || {
                format!("A {nx} × {ny} grid is not a hole pattern I can lay out.")
            })?;
            let Face::Rect { l, w, .. } = face else {
                return Err(self.refuse("I can lay out a grid of holes on a rectangular face only."));
            };
            let step = match pitch {
                Some(p) => [p, p],
                None => [l / f64::from(nx), w / f64::from(ny)],
            };
            Positions::Grid {
                start: [
                    l / 2.0 - step[0] * f64::from(nx - 1) / 2.0,
                    w / 2.0 - step[1] * f64::from(ny - 1) / 2.0,
                ],
                step,
                counts: [nx, ny],
            }
        } else if !points.is_empty() {
            let n = points.len() as u32;
            self.ensure(given.is_none_or(|g| g == n), || {
                format!(
                    "The prompt counts {} holes but gives {n} positions.",
                    given.unwrap_or(0)
                )
            })?;
            Positions::Points {
                points: points.iter().map(|(x, y)| [*x, *y]).collect(),
            }
        } else if corners {
            self.facts.take_hole_corners();
            // "a 5 mm hole in each corner" is four holes.
            let per_corner = given == Some(1) && self.facts.each_corner;
            self.ensure(per_corner || given.is_none_or(|g| g == 4), || {
                "Corner holes come in fours.".to_string()
            })?;
            let Face::Rect { l, w, .. } = face else {
                return Err(self.refuse("Only a rectangular face has corners for holes."));
            };
            let inset = self.facts.take(&[Role::Inset]);
            // Clear of rounded or chamfered corners: at least half the hole
            // and twice the edge size in from each side.
            let edge = self.facts.peek_any(&[Role::Fillet, Role::Chamfer]).unwrap_or(0.0);
            let default = (CORNER_INSET_PER_DIAMETER * d).max(d / 2.0 + 2.0 * edge);
            let inset = self.or_default(inset, default, "hole inset")?;
            Positions::Grid {
                start: [inset, inset],
                step: [l - 2.0 * inset, w - 2.0 * inset],
                counts: [2, 2],
            }
        } else {
            let n = match given {
                Some(n) => n,
                // "with holes 6 mm": how many is not for me to guess.
                None if count == Some(None) && !self.facts.has_role(&[Role::BoltCircle]) => {
                    return Err(
                        self.refuse("I read holes but not how many; say how many, e.g. \"4 holes\" or \"a hole\".")
                    )
                }
                None => {
                    let n = if self.facts.has_role(&[Role::BoltCircle]) { 4 } else { 1 };
                    self.defaults.push(crate::compile::counted(n, "hole", "holes"));
                    n
                }
            };
            self.ensure((1..=domain::spec::MAX_COUNT).contains(&n), || {
                format!("{n} holes is not a hole count I can lay out.")
            })?;
            let centre = self.facts.take_flag(Flag::Centre);
            let circle = self.facts.take(&[Role::BoltCircle]);
            // "two holes 40 mm apart, centred": a row or a circle about the centre.
            let about_centre = pitch.is_some() || circle.is_some();
            self.ensure(!centre || n == 1 || about_centre, || {
                format!("{n} holes cannot all be at the centre; say how far apart they are, or the circle they sit on.")
            })?;
            match face {
                // "4 holes on a 70 mm bolt circle" on a plate: round its centre.
                Face::Rect { l, w, .. } if circle.is_some() => Positions::Circular {
                    center: [l / 2.0, w / 2.0],
                    diameter: self.need(circle, "bolt circle")?,
                    count: n,
                    start_angle_deg: 0.0,
                },
                Face::Rect { l, w, .. } if n == 1 => Positions::Points {
                    points: vec![[l / 2.0, w / 2.0]],
                },
                // "2 holes spaced 50 mm apart": a row at that pitch, centred.
                Face::Rect { l, w, .. } if pitch.is_some() => {
                    let p = self.need(pitch, "hole spacing")?;
                    let half = p * f64::from(n - 1) / 2.0;
                    let (start, step) = if l >= w {
                        ([l / 2.0 - half, w / 2.0], [p, 0.0])
                    } else {
                        ([l / 2.0, w / 2.0 - half], [0.0, p])
                    };
                    Positions::Linear { start, step, count: n }
                }
                Face::Rect { l, w, .. } => {
                    let pitch = if l >= w { l } else { w } / f64::from(n);
                    let (start, step) = if l >= w {
                        ([pitch / 2.0, w / 2.0], [pitch, 0.0])
                    } else {
                        ([l / 2.0, pitch / 2.0], [0.0, pitch])
                    };
                    Positions::Linear { start, step, count: n }
                }
                Face::Round { .. } if n == 1 && circle.is_none() => Positions::Points {
                    points: vec![[0.0, 0.0]],
                },
                Face::Round { d: outer } => {
                    let circle = self.or_default(circle, outer / 2.0, "hole circle diameter")?;
                    Positions::Circular {
                        center: [0.0, 0.0],
                        diameter: circle,
                        count: n,
                        start_angle_deg: 0.0,
                    }
                }
            }
        };
        let depth = self.facts.take(&[Role::Depth]);
        let counterbore = self.counterbore(thread, d)?;
        self.facts.take_flag(Flag::Through);
        Ok(Some(Feature::Hole {
            name: name.to_string(),
            diameter: d,
            depth,
            counterbore,
            axis: Axis::Z,
            at,
        }))
    }

    /// Holes drilled across a block rather than down from the top: "through
    /// the ends" (along the length, X), "front to back" (across the width,
    /// Y). "On the side", "cross" and "horizontal" do not say which way on
    /// a block that is longer than wide, and are refused; so are holes
    /// across round parts, which the compiler does not cut.
    fn across(
        &mut self,
        face: Face,
        count: Option<Option<u32>>,
        points: &[(f64, f64)],
    ) -> Result<Option<Feature>, NotUnderstood> {
        let ends = self.facts.take_flag(Flag::Lengthwise);
        let front = self.facts.take_flag(Flag::FrontToBack);
        let side = self.facts.take_flag(Flag::Across);
        if !(ends || front || side) {
            return Ok(None);
        }
        let Face::Rect { l, w, h: Some(h) } = face else {
            return Err(self.refuse(
                "I can drill holes across plain blocks and plates only, not across this part; \
                 holes from the top work.",
            ));
        };
        let axis = match (ends, front || (side && (l - w).abs() < 1e-9)) {
            (true, false) => Axis::X,
            (false, true) => Axis::Y,
            _ => {
                return Err(self.refuse(
                    "I cannot tell which way to drill the hole across the block; say \"through the ends\" \
                     (along the length) or \"front to back\" (across the width).",
                ))
            }
        };
        self.ensure(points.is_empty(), || {
            "I place holes across a block in a row at mid-height, not at given points.".into()
        })?;
        let n = match count {
            Some(Some(n)) => n,
            Some(None) => return Err(self.refuse("I read holes but not how many; say how many.")),
            None => 1,
        };
        self.ensure((1..=domain::spec::MAX_COUNT).contains(&n), || {
            format!("{n} holes is not a hole count I can lay out.")
        })?;
        let d = self.hole_diameter(true)?;
        self.facts.take_flag(Flag::Centre);
        self.facts.take_flag(Flag::Through);
        self.ensure(!self.facts.has_role(&[Role::Depth, Role::Counterbore]), || {
            "Holes across a block go straight through; I cannot make them blind or counterbored.".into()
        })?;
        // A row along the face it enters, at mid-height, evenly spread.
        let span = if axis == Axis::X { w } else { l };
        let pitch = span / f64::from(n);
        Ok(Some(Feature::Hole {
            name: "hole".into(),
            diameter: d,
            depth: None,
            counterbore: None,
            axis,
            at: if n == 1 {
                Positions::Points {
                    points: vec![[span / 2.0, h / 2.0]],
                }
            } else {
                Positions::Linear {
                    start: [pitch / 2.0, h / 2.0],
                    step: [pitch, 0.0],
                    count: n,
                }
            },
        }))
    }

    /// "counterbored" (sizes for socket head cap screws, ISO 4762, from an
    /// M size) or "counterbore 10 mm".
    fn counterbore(&mut self, thread: Option<f64>, hole: f64) -> Result<Option<Counterbore>, NotUnderstood> {
        let said = self.facts.take_flag(Flag::Counterbored);
        let diameter = self.facts.take(&[Role::Counterbore]);
        if !said && diameter.is_none() {
            return Ok(None);
        }
        let standard = thread.and_then(metric::lookup);
        let d = match (diameter, standard) {
            (Some(d), _) => d,
            (None, Some(m)) => m.counterbore_diameter,
            (None, None) => {
                let d = (hole * 1.8 * 10.0).round() / 10.0;
                self.defaults.push(format!("counterbore diameter {} mm", human(d)));
                d
            }
        };
        let depth = match standard {
            Some(m) => m.counterbore_depth,
            None => {
                let depth = hole;
                self.defaults.push(format!("counterbore depth {} mm", human(depth)));
                depth
            }
        };
        Ok(Some(Counterbore { diameter: d, depth }))
    }
}

#[cfg(test)]
mod tests {
    use domain::spec::{Base, Edges, Feature, Positions};

    use crate::read::generate;

    fn base(prompt: &str) -> Base {
        generate(prompt)
            .unwrap_or_else(|e| panic!("{prompt}: {}", e.reason))
            .spec
            .base
    }

    fn torus(prompt: &str) -> (f64, f64) {
        match base(prompt) {
            Base::Torus {
                ring_diameter,
                tube_diameter,
            } => (ring_diameter, tube_diameter),
            other => panic!("{prompt}: not a torus: {other:?}"),
        }
    }

    fn refusal(prompt: &str) -> String {
        match generate(prompt) {
            Ok(g) => panic!("{prompt}: made {:?}", g.spec),
            Err(e) => e.reason,
        }
    }

    fn holes(prompt: &str) -> Vec<(f64, Positions)> {
        let g = generate(prompt).unwrap_or_else(|e| panic!("{prompt}: {}", e.reason));
        g.spec
            .features
            .into_iter()
            .filter_map(|f| match f {
                Feature::Hole { diameter, at, .. } => Some((diameter, at)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_torus_from_any_two_of_ring_outside_inside_and_tube() {
        assert_eq!(torus("torus major radius 20 minor radius 5"), (40.0, 10.0));
        assert_eq!(
            torus("torus with a major diameter 40 mm and tube diameter 10 mm"),
            (40.0, 10.0)
        );
        // "across" is the outside: the ring runs through the tube's centre.
        assert_eq!(torus("donut 50 mm across, 8 mm thick tube"), (42.0, 8.0));
        assert_eq!(torus("ring 50 mm across, 8 mm thick tube"), (42.0, 8.0));
        assert_eq!(torus("torus outer diameter 60 inner diameter 40"), (50.0, 10.0));
        assert_eq!(torus("torus ring diameter 60 mm tube diameter 10 mm"), (60.0, 10.0));
        // A plain diameter could be either: asked, not guessed.
        assert!(refusal("torus diameter 60 tube diameter 10").contains("ring diameter"));
        // Three sizes that disagree.
        assert!(refusal("torus outer diameter 60 inner diameter 40 tube diameter 12").contains("does not agree"));
        // A plain ring is still a washer.
        assert!(matches!(
            base("ring 20 mm outer 10 mm inner 2 mm thick"),
            Base::Tube { .. }
        ));
    }

    #[test]
    fn wide_and_across_are_the_diameter_of_round_parts() {
        assert_eq!(
            base("a cylinder 5 mm wide and 20 mm tall"),
            Base::Cylinder {
                diameter: 5.0,
                height: 20.0
            }
        );
        assert_eq!(
            base("a cylinder 30 mm across and 20 mm tall"),
            Base::Cylinder {
                diameter: 30.0,
                height: 20.0
            }
        );
        assert_eq!(base("a ball 20 mm wide"), Base::Sphere { diameter: 20.0 });
        // Width and diameter together leave one unexplained.
        assert!(refusal("cylinder diameter 20 height 10 30 mm wide").contains("30 mm (width)"));
    }

    #[test]
    fn groups_of_holes_keep_their_own_sizes_and_places() {
        let h = holes("plate 100x60x5 with four 5 mm holes in the corners and a 20 mm hole in the centre");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].0, 5.0);
        assert!(matches!(h[0].1, Positions::Grid { counts: [2, 2], .. }));
        assert_eq!(
            h[1],
            (
                20.0,
                Positions::Points {
                    points: vec![[50.0, 30.0]]
                }
            )
        );
        // The other way round.
        let h = holes("plate 100x60x5 with a 20 mm hole at the centre and four 5 mm holes at the corners");
        assert_eq!(h[0].0, 20.0);
        assert_eq!(h[1].0, 5.0);
        assert!(matches!(h[1].1, Positions::Grid { .. }));
        // Two groups in one phrase cannot be told apart.
        assert!(refusal("plate 100x60x5 with 4 holes 2 holes").contains("which holes"));
    }

    #[test]
    fn rounded_corners_do_not_move_corner_holes() {
        let g = generate("plate 100 x 60 x 5 mm with 4 holes 6 mm at the corners and rounded corners 5 mm").unwrap();
        let corner_grid = g.spec.features.iter().any(|f| {
            matches!(
                f,
                Feature::Hole {
                    at: Positions::Grid { counts: [2, 2], .. },
                    ..
                }
            )
        });
        assert!(corner_grid, "{:?}", g.spec.features);
        assert!(g.spec.features.contains(&Feature::Fillet {
            radius: 5.0,
            edges: Edges::Vertical
        }));
    }

    #[test]
    fn everyday_wordings() {
        // One side for a square plate.
        assert_eq!(
            base("a 100mm square plate 3mm thick"),
            Base::Box {
                length: 100.0,
                width: 100.0,
                height: 3.0
            }
        );
        // A centre hole in a disc is a bore.
        let h = holes("Make me a 40mm diameter disc, 3mm thick, with a 5mm center hole");
        assert_eq!(
            h,
            vec![(
                5.0,
                Positions::Points {
                    points: vec![[0.0, 0.0]]
                }
            )]
        );
        // Four holes at a distance from the edges sit at the corners.
        let h = holes("plate 100 x 60 x 5 with four 6 mm holes 10 mm from the edges");
        assert_eq!(
            h[0].1,
            Positions::Grid {
                start: [10.0, 10.0],
                step: [80.0, 40.0],
                counts: [2, 2]
            }
        );
        // A radius said of corners rounds them.
        let g = generate("plate 80 x 60 x 6 with 5 mm radius corners").unwrap();
        assert_eq!(
            g.spec.features,
            vec![Feature::Fillet {
                radius: 5.0,
                edges: Edges::Vertical
            }]
        );
        let g = generate("a 60 x 40 x 8 plate with rounded corners of radius 5").unwrap();
        assert_eq!(
            g.spec.features,
            vec![Feature::Fillet {
                radius: 5.0,
                edges: Edges::Vertical
            }]
        );
        // The size before the noun, the extrusion after "by".
        assert_eq!(
            base("extrude a 30mm circle by 5mm"),
            Base::Cylinder {
                diameter: 30.0,
                height: 5.0
            }
        );
    }

    #[test]
    fn hole_layouts_by_spacing_grid_and_bolt_circle() {
        let h = holes("a plate 90x60x6 with 2 holes of 8mm spaced 50mm apart");
        assert_eq!(
            h[0].1,
            Positions::Linear {
                start: [20.0, 30.0],
                step: [50.0, 0.0],
                count: 2
            }
        );
        let h = holes("plate 90x60x5 with 6 holes 5 mm in a 3 x 2 grid");
        assert_eq!(
            h[0].1,
            Positions::Grid {
                start: [15.0, 15.0],
                step: [30.0, 30.0],
                counts: [3, 2]
            }
        );
        assert!(refusal("plate 100 x 60 x 5 with 6 holes in a 2 x 2 grid").contains("4 holes, not 6"));
        let h = holes("plate 100x100x10, 4 holes dia 10 on a 70 mm bolt circle");
        assert_eq!(
            h[0].1,
            Positions::Circular {
                center: [50.0, 50.0],
                diameter: 70.0,
                count: 4,
                start_angle_deg: 0.0
            }
        );
        // Tapped holes are tap-drill holes, said in the reply.
        let g = generate("plate 120 x 80 x 10 with four M6 tapped holes at the corners").unwrap();
        assert!(matches!(g.spec.features[0], Feature::Hole { diameter, .. } if diameter == 5.0));
        assert!(g.reply.contains("thread not modelled"), "{}", g.reply);
    }

    #[test]
    fn round_plates_and_pipes_by_their_inside() {
        assert_eq!(
            base("round plate 100 mm diameter 8 mm thick"),
            Base::Cylinder {
                diameter: 100.0,
                height: 8.0
            }
        );
        assert_eq!(
            generate("round plate 100 mm diameter 8 mm thick with 6 x M6 holes on 80 PCD")
                .unwrap()
                .part,
            "flange"
        );
        assert_eq!(
            base("a pipe 2 in ID 1/8 in wall 10 in long"),
            Base::Tube {
                outer_diameter: 57.15,
                inner_diameter: 50.8,
                height: 254.0
            }
        );
    }

    #[test]
    fn holes_across_a_block_need_a_direction() {
        let h = generate("a block 50 x 30 x 20 with an 8 mm hole front to back").unwrap();
        assert!(matches!(
            &h.spec.features[0],
            Feature::Hole { axis: domain::spec::Axis::Y, at: Positions::Points { points }, .. } if points == &vec![[25.0, 10.0]]
        ));
        let h = generate("a block 50 x 30 x 20 with an 8 mm hole through the ends").unwrap();
        assert!(matches!(
            &h.spec.features[0],
            Feature::Hole { axis: domain::spec::Axis::X, at: Positions::Points { points }, .. } if points == &vec![[15.0, 10.0]]
        ));
        assert!(refusal("a block 50 x 30 x 20 with a 8 mm hole on the side").contains("which way"));
        assert!(refusal("cylinder 20 mm diameter 50 mm long with a 5 mm cross hole").contains("across"));
        // Plural holes without a count are asked about, not guessed.
        assert!(refusal("plate 100 x 60 x 5 with holes 6 mm").contains("how many"));
    }

    #[test]
    fn square_sections_and_circles_of_holes() {
        assert_eq!(
            base("Sketch a 40 mm square and extrude it 10 mm."),
            Base::Box {
                length: 40.0,
                width: 40.0,
                height: 10.0
            }
        );
        assert_eq!(
            base("a bar 1 inch square 12 inches long"),
            Base::Box {
                length: 304.8,
                width: 25.4,
                height: 25.4
            }
        );
        let h = holes("a cylinder 10mm high 40mm across with four 5mm holes on a 30mm circle");
        assert!(matches!(h[0].1, Positions::Circular { diameter, count: 4, .. } if diameter == 30.0));
        // A sketched circle is still a cylinder.
        let g = generate("Draw a 50 mm circle and extrude it 10 mm").unwrap();
        assert_eq!(g.spec.label, "Cylinder");
    }

    #[test]
    fn unsupported_features_are_refused_by_name() {
        assert!(refusal("plate 100 x 60 x 5 with a 10 mm slot").contains("a slot"));
        // Rounded or chamfered without a size is asked about, not dropped.
        assert!(refusal("a cylinder with a rounded top, 30 mm diameter 40 mm tall").contains("by how much"));
        assert!(refusal("a 30 mm cube with chamfered edges").contains("by how much"));
        assert!(refusal("sphere 20 mm diameter with a 5 mm hole").contains("holes in a sphere"));
        assert!(refusal("cone bottom diameter 40 height 30 with a 5 mm hole").contains("holes in a cone"));
        assert!(refusal("block 40 x 20 x 10 chamfer all edges 1 mm").contains("not all its edges"));
        // Holes that are a depth, not a size.
        let h = holes("plate 100x60x10 with a 6 mm hole at the centre, holes 8 mm deep");
        assert_eq!(h[0].0, 6.0);
    }
}
