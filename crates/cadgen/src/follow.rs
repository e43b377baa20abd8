//! Follow-ups without a language model: a message in a conversation is
//! read with the same reader as a prompt and applied to the previous
//! version's spec — "make it 15 mm thick", "twice as long", "add two more
//! holes", "holes 6 mm", "remove the fillet", "move the hole 10 mm to the
//! left", "make it hollow with a 2 mm wall", "undo".
//!
//! The new spec keeps the previous one in its `history`, so "undo" needs
//! nothing but the spec itself. The reply lists every change, old → new. A
//! message that cannot be applied fails with what was understood; the
//! caller keeps the previous version.

use domain::spec::{Axis, Base, Edges, Feature, Loop, PartSpec, Positions, Segment};

use crate::compile::{compile, human};
use crate::read::prompt::Facts;
use crate::read::vocab::{Counted, Flag, Role};
use crate::{Generated, NotUnderstood};

/// Applies `message` to `base`.
pub fn follow_up(base: &PartSpec, message: &str) -> Result<Generated, NotUnderstood> {
    let mut facts = crate::read::facts(message)?;
    if facts.take_flag(Flag::Undo) {
        let mut previous = base
            .history
            .last()
            .cloned()
            .ok_or_else(|| refuse(base, "There is nothing to undo: this is the first version."))?;
        previous.history = base.history[..base.history.len() - 1].to_vec();
        let mut g = compile(&previous)?;
        let changes = diff(base, &previous);
        g.reply = format!("Undone: {}. Now: {}.", or_none(&changes), g.reply);
        return Ok(g);
    }
    let mut spec = base.clone();
    spec.history.clear();
    let mut done: Vec<String> = Vec::new();
    let mut ap = Apply {
        facts: &mut facts,
        spec: &mut spec,
        done: &mut done,
        pending_hole_count: None,
    };
    ap.apply().map_err(|e| understood(base, e, &done_text(&ap)))?;
    let leftovers = facts.leftovers();
    if !leftovers.is_empty() {
        return Err(understood(
            base,
            format!("I do not know how to apply: {}.", leftovers.join(", ")),
            &done,
        ));
    }
    if done.is_empty() {
        if let Some(ask) = how_much(message) {
            return Err(understood(base, ask, &done));
        }
        return Err(understood(
            base,
            format!(
                "I could not find a change to make to the {} in \"{}\"; say what to change, \
                 e.g. \"make it 15 mm thick\", \"holes 6 mm\", \"remove the fillet\" or \"undo\".",
                base.part.replace('_', " "),
                message.trim()
            ),
            &[],
        ));
    }
    spec.follow(base);
    let mut g = compile(&spec).map_err(|e| understood(base, e.reason, &done))?;
    let changes = diff(base, &spec);
    let mut all = changes;
    all.extend(
        done.iter()
            .filter(|d| d.starts_with("added") || d.starts_with("removed"))
            .cloned(),
    );
    if all.is_empty() {
        // A version identical to the current one would only look like progress.
        return Err(understood(
            base,
            format!(
                "Nothing would change: the {} already is so. Say what to change, e.g. \"make it 15 mm thick\".",
                base.part.replace('_', " ")
            ),
            &done,
        ));
    }
    g.reply = format!("Changed: {}. Now: {}.", or_none(&all), g.reply);
    Ok(g)
}

fn done_text(ap: &Apply) -> Vec<String> {
    ap.done.clone()
}

fn or_none(changes: &[String]) -> String {
    if changes.is_empty() {
        "nothing".into()
    } else {
        changes.join("; ")
    }
}

fn refuse(base: &PartSpec, reason: impl Into<String>) -> NotUnderstood {
    NotUnderstood {
        reason: reason.into(),
        part: Some(base.part.clone()),
        question: None,
    }
}

/// A refusal that says what was understood before it failed.
fn understood(base: &PartSpec, reason: impl Into<String>, done: &[String]) -> NotUnderstood {
    let reason = reason.into();
    let reason = if done.is_empty() {
        reason
    } else {
        format!("{reason} (I understood: {}.)", done.join("; "))
    };
    refuse(base, format!("{reason} The previous version stays current."))
}

/// Every parameter that changed, appeared or went away: "height 5 → 15 mm".
fn diff(old: &PartSpec, new: &PartSpec) -> Vec<String> {
    let (a, b) = (old.parameters(), new.parameters());
    let mut out = Vec::new();
    for p in &b {
        let unit = if matches!(p.kind, domain::spec::ParameterKind::Count) {
            ""
        } else {
            " mm"
        };
        match a.iter().find(|q| q.name == p.name) {
            Some(q) if (q.value - p.value).abs() > 1e-9 => {
                out.push(format!("{} {} → {}{unit}", p.label, human(q.value), human(p.value)))
            }
            None => out.push(format!("{} {}{unit} (new)", p.label, human(p.value))),
            _ => {}
        }
    }
    for q in &a {
        if !b.iter().any(|p| p.name == q.name) {
            out.push(format!("{} (removed)", q.label));
        }
    }
    out
}

/// "make it thicker" names a change but not its size: asks for it.
fn how_much(message: &str) -> Option<String> {
    const COMPARATIVES: [(&str, &str); 9] = [
        ("thicker", "thick"),
        ("thinner", "thick"),
        ("longer", "long"),
        ("shorter", "long"),
        ("wider", "wide"),
        ("narrower", "wide"),
        ("taller", "tall"),
        ("higher", "high"),
        ("deeper", "deep"),
    ];
    let lower = message.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphabetic()).collect();
    if let Some((word, adjective)) = COMPARATIVES.iter().find(|(w, _)| words.contains(w)) {
        return Some(format!(
            "How much {word}? Give the amount or the new size, e.g. \"5 mm {word}\", \"20% {word}\" or \"make it 12 mm {adjective}\"."
        ));
    }
    ["bigger", "larger", "smaller"]
        .iter()
        .find(|w| words.contains(w))
        .map(|word| {
            format!(
                "Which size, and how much {word}? Give the new size, e.g. \"holes 8 mm\", \"make it 120 mm long\" \
             or \"twice as wide\"."
            )
        })
}

struct Apply<'a> {
    facts: &'a mut Facts,
    spec: &'a mut PartSpec,
    done: &'a mut Vec<String>,
    /// A hole count that was not for new holes ("6 holes"), for set_dimensions.
    pending_hole_count: Option<Option<u32>>,
}

impl Apply<'_> {
    fn apply(&mut self) -> Result<(), String> {
        if self.facts.take_flag(Flag::Remove) {
            self.remove()?;
        }
        self.moves()?;
        self.more_holes()?;
        self.add_holes()?;
        self.shell()?;
        self.edges()?;
        self.inset()?;
        self.set_dimensions()?;
        self.scale()?;
        self.facts.take_flag(Flag::Add);
        Ok(())
    }

    fn remove(&mut self) -> Result<(), String> {
        let keys = self.facts.keys.clone();
        let counted = self.facts.take_count(Counted::Holes);
        let holes = counted.is_some();
        // "remove 2 holes" of 4: which two is not for me to choose.
        if let Some(Some(n)) = counted {
            let total: u32 = self
                .spec
                .features
                .iter()
                .filter_map(|f| match f {
                    Feature::Hole { name, at, .. } if name != "bore" => Some(at.count()),
                    _ => None,
                })
                .sum();
            if n != total && !(n == 1 && total == 1) {
                return Err(format!(
                    "I can remove all {total} holes but cannot tell which {n} to remove; say how many to keep, \
                     e.g. \"{} holes\".",
                    total.saturating_sub(n).max(1)
                ));
            }
        }
        let mut kinds: Vec<&str> = Vec::new();
        if keys.contains(&Role::Fillet) {
            kinds.push("fillet");
        }
        if keys.contains(&Role::Chamfer) {
            kinds.push("chamfer");
        }
        if keys.contains(&Role::Wall) || self.facts.take_flag(Flag::Open) {
            kinds.push("shell");
        }
        if keys.contains(&Role::Bore) {
            kinds.push("bore");
        }
        if holes {
            kinds.push("hole");
        }
        if kinds.is_empty() {
            return Err(
                "I read \"remove\" but not what to remove (the fillet, the chamfer, the holes, the bore, the shell)."
                    .into(),
            );
        }
        for kind in kinds {
            let before = self.spec.features.len();
            self.spec.features.retain(|f| match (kind, f) {
                ("bore", Feature::Hole { name, .. }) => name != "bore",
                ("hole", Feature::Hole { name, .. }) => name == "bore",
                (k, f) => f.kind_name() != k,
            });
            if self.spec.features.len() == before {
                return Err(format!("The part has no {kind} to remove."));
            }
            self.done.push(format!("removed the {kind}"));
        }
        Ok(())
    }

    /// Refuses when the part has more than one group of holes: "the holes"
    /// could mean any of them.
    fn one_hole_group(&self) -> Result<(), String> {
        let groups: Vec<String> = self
            .spec
            .features
            .iter()
            .filter_map(|f| match f {
                Feature::Hole { name, diameter, at, .. } if name != "bore" => {
                    Some(format!("{} × Ø{} mm", at.count(), human(*diameter)))
                }
                _ => None,
            })
            .collect();
        if groups.len() > 1 {
            return Err(format!(
                "The part has {} groups of holes ({}); I cannot tell which ones you mean.",
                groups.len(),
                groups.join(", ")
            ));
        }
        Ok(())
    }

    /// The first hole feature that is not a bore, or the bore.
    fn hole_index(&self) -> Option<usize> {
        let holes = |bore: bool| {
            self.spec
                .features
                .iter()
                .position(|f| matches!(f, Feature::Hole { name, .. } if (name == "bore") == bore))
        };
        holes(false).or_else(|| holes(true))
    }

    fn moves(&mut self) -> Result<(), String> {
        let dir = [
            (Flag::Left, [-1.0, 0.0]),
            (Flag::Right, [1.0, 0.0]),
            (Flag::Up, [0.0, 1.0]),
            (Flag::Down, [0.0, -1.0]),
        ]
        .into_iter()
        .find(|(flag, _)| self.facts.take_flag(*flag))
        .map(|(_, d)| d);
        let said_move = self.facts.take_flag(Flag::Move);
        let Some([dx, dy]) = dir else {
            if said_move {
                return Err(
                    "I read \"move\" but not which way; say left, right, up (back) or down (forward) and how far."
                        .into(),
                );
            }
            return Ok(());
        };
        let distance = self
            .facts
            .take(&[Role::Hole])
            .or_else(|| self.facts.take_bare())
            .ok_or("I read a direction but no distance to move by.")?;
        let holes = self.facts.take_count(Counted::Holes).is_some() || self.facts.keys.contains(&Role::Bore);
        if holes && !self.facts.keys.contains(&Role::Bore) {
            self.one_hole_group()?;
        }
        if holes {
            let i = self.hole_index().ok_or("The part has no hole to move.")?;
            if let Feature::Hole { at, .. } = &mut self.spec.features[i] {
                at.translate(dx * distance, dy * distance);
            }
            self.done.push(format!("moved the holes {} mm", human(distance)));
        } else {
            let o = &mut self.spec.placement.offset;
            o[0] += dx * distance;
            o[1] += dy * distance;
            self.done.push(format!("moved the part {} mm", human(distance)));
        }
        Ok(())
    }

    fn more_holes(&mut self) -> Result<(), String> {
        if !self.facts.take_flag(Flag::More) {
            return Ok(());
        }
        let extra = match self.facts.take_count(Counted::Holes) {
            Some(Some(n)) => n,
            Some(None) => return Err("I read \"more holes\" but not how many.".into()),
            None => return Err("I read \"more\" but not more of what.".into()),
        };
        self.one_hole_group()?;
        let i = self
            .hole_index()
            .ok_or("The part has no holes to add to; describe the new holes.")?;
        let (ds, dd) = self.diameter_spacing(i);
        let Feature::Hole { at, .. } = &mut self.spec.features[i] else {
            unreachable!("hole_index finds holes")
        };
        match at {
            Positions::Circular { count, .. } => *count += extra,
            Positions::Linear { start, step, count } => {
                let n = *count;
                *count += extra;
                regrow_row(start, step, n, *count);
            }
            Positions::Points { points } if points.len() == 1 => {
                // One hole becomes a row centred where it was, along X.
                let [x, y] = points[0];
                let m = 1 + extra;
                let pitch = ds.max(dd * 3.0);
                *at = Positions::Linear {
                    start: [x - pitch * f64::from(m - 1) / 2.0, y],
                    step: [pitch, 0.0],
                    count: m,
                };
            }
            _ => return Err("These holes are placed one by one or in a grid; give the new holes' positions.".into()),
        }
        self.done.push(format!("added {extra} holes"));
        Ok(())
    }

    /// A sensible pitch for a row grown from one hole: a fifth of the
    /// part's length, and the hole's diameter.
    fn diameter_spacing(&self, i: usize) -> (f64, f64) {
        let d = match &self.spec.features[i] {
            Feature::Hole { diameter, .. } => *diameter,
            _ => 0.0,
        };
        let span = match self.spec.base {
            Base::Box { length, .. } => length / 5.0,
            Base::Cylinder { diameter, .. } => diameter / 5.0,
            _ => 3.0 * d,
        };
        (span, d)
    }

    /// "add a 6 mm hole at the centre": a new hole feature.
    fn add_holes(&mut self) -> Result<(), String> {
        let adding = self.facts.has(Flag::Add) || self.hole_index().is_none();
        let mentioned = self.facts.take_count(Counted::Holes);
        let Some(count) = mentioned else { return Ok(()) };
        if !self.facts.has(Flag::Add) && count.is_none() && self.hole_index().is_none() {
            return Err("The part has no holes to change; to add some, say e.g. \"add 4 holes 6 mm\".".into());
        }
        if !adding {
            // Not new holes: put the count back for set_dimensions.
            self.pending_hole_count = Some(count);
            return Ok(());
        }
        self.facts.take_flag(Flag::Add);
        self.facts.restore_hole_count(count);
        let (feature, defaults) = crate::read::new_holes(self.facts, self.spec).map_err(|e| e.reason)?;
        let feature = feature.ok_or("I read holes but not where to put them.")?;
        let n = match &feature {
            Feature::Hole { at, .. } => at.count(),
            _ => 0,
        };
        self.spec.features.push(feature);
        let mut text = format!("added {}", crate::compile::counted(n, "hole", "holes"));
        if !defaults.is_empty() {
            text.push_str(&format!(" (defaults: {})", defaults.join(", ")));
        }
        self.done.push(text);
        Ok(())
    }

    fn shell(&mut self) -> Result<(), String> {
        if self.spec.part == "rect_tube" {
            return self.tube_wall();
        }
        let hollow = self.facts.take_flag(Flag::Open);
        let wall = self.facts.take(&[Role::Wall]);
        if !hollow && wall.is_none() {
            return Ok(());
        }
        let existing = self.spec.features.iter_mut().find_map(|f| match f {
            Feature::Shell { wall, .. } => Some(wall),
            _ => None,
        });
        match (existing, wall) {
            (Some(w), Some(new)) => *w = new,
            (Some(_), None) => {}
            (None, wall) => {
                let wall = wall.unwrap_or(2.0);
                self.spec.features.insert(0, Feature::Shell { wall, floor: None });
                self.done.push(format!("added a shell with {} mm walls", human(wall)));
                return Ok(());
            }
        }
        self.done.push("changed the wall".into());
        Ok(())
    }

    /// "holes 10 mm from the edges": corner holes move to the new inset.
    fn inset(&mut self) -> Result<(), String> {
        if !self.facts.has_role(&[Role::Inset]) {
            return Ok(());
        }
        let Base::Box { length, width, .. } = self.spec.base else {
            return Ok(());
        };
        let corner_holes = self.spec.features.iter_mut().find_map(|f| match f {
            Feature::Hole {
                at: Positions::Grid { start, step, counts },
                ..
            } if *counts == [2, 2] => Some((start, step)),
            _ => None,
        });
        let Some((start, step)) = corner_holes else {
            return Ok(());
        };
        let inset = self.facts.take(&[Role::Inset]).unwrap_or_default();
        if inset <= 0.0 || 2.0 * inset >= length.min(width) {
            return Err(format!(
                "Corner holes {} mm from the edges do not fit a {} × {} mm face.",
                human(inset),
                human(length),
                human(width)
            ));
        }
        *start = [inset, inset];
        *step = [length - 2.0 * inset, width - 2.0 * inset];
        self.done.push(format!("hole inset = {}", human(inset)));
        Ok(())
    }

    /// "a 3 mm wall" on a rectangular tube: its bore, from the outside in.
    fn tube_wall(&mut self) -> Result<(), String> {
        let Some(t) = self.facts.take(&[Role::Wall, Role::Thickness]) else {
            return Ok(());
        };
        let Base::Box { length, width, .. } = self.spec.base else {
            return Ok(());
        };
        if t <= 0.0 || 2.0 * t >= length.min(width) {
            return Err(format!(
                "A {} mm wall leaves no inside in a {} × {} mm tube.",
                human(t),
                human(length),
                human(width)
            ));
        }
        for feature in &mut self.spec.features {
            if let Feature::Pocket { loops, .. } = feature {
                for l in loops.iter_mut() {
                    if let Loop::Rectangle { corner, size } = l {
                        *corner = [t, t];
                        *size = [length - 2.0 * t, width - 2.0 * t];
                    }
                }
            }
        }
        self.done.push(format!("wall = {}", human(t)));
        Ok(())
    }

    fn edges(&mut self) -> Result<(), String> {
        let fillet = self.facts.take(&[Role::Fillet]);
        let chamfer = self.facts.take(&[Role::Chamfer]);
        let set = if self.facts.take_flag(Flag::VerticalEdges) || self.facts.take_flag(Flag::Corners) {
            Some(Edges::Vertical)
        } else if self.facts.take_flag(Flag::TopEdges) {
            Some(Edges::Top)
        } else if self.facts.take_flag(Flag::BottomEdges) {
            Some(Edges::Bottom)
        } else if self.facts.take_flag(Flag::AllEdges) | self.facts.take_flag(Flag::Edges) {
            Some(Edges::All)
        } else {
            None
        };
        for (size, is_fillet) in [(fillet, true), (chamfer, false)] {
            let Some(size) = size else { continue };
            let existing = self.spec.features.iter_mut().find(|f| {
                matches!(
                    (f, is_fillet),
                    (Feature::Fillet { .. }, true) | (Feature::Chamfer { .. }, false)
                )
            });
            match existing {
                Some(Feature::Fillet { radius, edges }) | Some(Feature::Chamfer { size: radius, edges }) => {
                    *radius = size;
                    if let Some(s) = set {
                        *edges = s;
                    }
                    self.done.push("changed the edge treatment".into());
                }
                _ => {
                    // One edge treatment at a time: a new one replaces the other kind.
                    self.spec
                        .features
                        .retain(|f| !matches!(f, Feature::Fillet { .. } | Feature::Chamfer { .. }));
                    let edges = set.unwrap_or(Edges::All);
                    let (feature, word) = if is_fillet {
                        (Feature::Fillet { radius: size, edges }, "fillet")
                    } else {
                        (Feature::Chamfer { size, edges }, "chamfer")
                    };
                    self.spec.features.insert(0, feature);
                    self.done
                        .push(format!("added a {} mm {word} on the {}", human(size), edges.describe()));
                }
            }
        }
        Ok(())
    }

    /// The spec parameter a prompt role means for this part.
    fn parameter_for(&self, role: Role) -> Option<String> {
        let names: Vec<String> = self.spec.parameters().into_iter().map(|p| p.name).collect();
        let bracket = self.spec.part == "l_bracket";
        // A rectangular tube stands along Z: its length is the box's height,
        // its section the box's length (wide) and width (high).
        if self.spec.part == "rect_tube" {
            let name = match role {
                Role::Length | Role::Depth => "height",
                Role::Width => "length",
                Role::Height => "width",
                _ => return None,
            };
            return Some(name.to_string());
        }
        let hole_prefix = || {
            self.spec.features.iter().find_map(|f| match f {
                Feature::Hole { name, .. } if name != "bore" => Some(if name.is_empty() {
                    "hole".to_string()
                } else {
                    name.clone()
                }),
                _ => None,
            })
        };
        let candidates: Vec<String> = match role {
            Role::Length if bracket => vec!["width".into()],
            Role::Width if bracket => vec!["length".into()],
            Role::Length => vec!["length".into(), "height".into()],
            Role::Width => vec!["width".into()],
            Role::Height => vec!["height".into(), "thickness".into()],
            Role::Thickness => vec!["thickness".into(), "height".into()],
            Role::Depth => vec!["hole_depth".into(), "height".into()],
            Role::Diameter | Role::OuterDiameter => {
                vec!["diameter".into(), "outer_diameter".into(), "bottom_diameter".into()]
            }
            Role::InnerDiameter => vec!["inner_diameter".into(), "bore_diameter".into()],
            Role::TopDiameter => vec!["top_diameter".into()],
            Role::BottomDiameter => vec!["bottom_diameter".into()],
            Role::Hole => hole_prefix().map(|p| vec![format!("{p}_diameter")]).unwrap_or_default(),
            Role::Bore => vec!["bore_diameter".into()],
            Role::BoltCircle => hole_prefix()
                .map(|p| vec![format!("{p}_circle_diameter")])
                .unwrap_or_default(),
            Role::Wall => vec!["shell_wall".into()],
            Role::Floor => vec!["shell_floor".into()],
            Role::Module => vec!["module".into()],
            Role::AcrossFlats => vec!["across_flats".into()],
            Role::Size => vec!["length".into()],
            Role::TubeDiameter => vec!["tube_diameter".into()],
            Role::RingDiameter => vec!["ring_diameter".into()],
            _ => vec![],
        };
        candidates.into_iter().find(|c| names.contains(c))
    }

    fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let before = self.spec.clone();
        self.spec
            .set_parameter(name, value)
            .map(drop)
            .map_err(|e| e.to_string())?;
        if let Err(e) = carry_positions(&before, self.spec).and_then(|()| self.redistribute(&before)) {
            *self.spec = before;
            return Err(e);
        }
        self.done.push(format!("{} = {}", name.replace('_', " "), human(value)));
        Ok(())
    }

    /// A new count for a row of holes keeps the row where it was, evenly
    /// spaced over the same span ("6 holes" on a row of 4).
    fn redistribute(&mut self, before: &PartSpec) -> Result<(), String> {
        for (new, old) in self.spec.features.iter_mut().zip(&before.features) {
            if let (
                Feature::Hole {
                    at: at @ Positions::Linear { .. },
                    ..
                },
                Feature::Hole {
                    at: Positions::Linear { count: n, .. },
                    ..
                },
            ) = (new, old)
            {
                if at.count() != *n {
                    if let Positions::Linear { start, step, count } = at {
                        regrow_row(start, step, *n, *count);
                    }
                }
            }
        }
        Ok(())
    }

    /// A torus's outside and inside diameters, and the ring and tube
    /// radii: each sets the ring or tube diameter. A plain "diameter"
    /// could be the ring or the outside and is refused.
    fn torus_dimensions(&mut self) -> Result<(), String> {
        if !matches!(self.spec.base, Base::Torus { .. }) {
            return Ok(());
        }
        if let Some(d) = self
            .facts
            .take(&[Role::Diameter])
            .or_else(|| self.facts.take(&[Role::Radius]).map(|r| 2.0 * r))
        {
            return Err(format!(
                "For a torus I cannot tell whether the diameter {d} mm is the ring diameter (through the \
                 tube's centre) or the outer diameter; say \"ring diameter {d} mm\" or \"{d} mm across\".",
                d = human(d)
            ));
        }
        // The tube first: "60 mm across with a 12 mm tube" keeps 60 mm outside.
        if let Some(t) = self.facts.take_diameter(&[Role::TubeDiameter], &[Role::TubeRadius]) {
            self.set("tube_diameter", t)?;
        }
        let tube = self.spec.parameter("tube_diameter").unwrap_or(0.0);
        if let Some(o) = self
            .facts
            .take_diameter(&[Role::OuterDiameter], &[Role::OuterRadius])
            .or_else(|| self.facts.take(&[Role::Width]))
        {
            self.set("ring_diameter", o - tube)?;
        }
        if let Some(i) = self.facts.take_diameter(&[Role::InnerDiameter], &[Role::InnerRadius]) {
            self.set("ring_diameter", i + tube)?;
        }
        if let Some(r) = self.facts.take(&[Role::RingRadius]) {
            self.set("ring_diameter", 2.0 * r)?;
        }
        Ok(())
    }

    fn set_dimensions(&mut self) -> Result<(), String> {
        self.torus_dimensions()?;
        // "20 mm wider", "5 mm thinner": changes to the current value.
        for role in [Role::Length, Role::Width, Role::Height, Role::Thickness, Role::Depth] {
            while let Some(d) = self.facts.take_change(role) {
                let name = self.parameter_for(role).ok_or_else(|| {
                    format!(
                        "This {} has no {} to change.",
                        self.spec.part.replace('_', " "),
                        role.describe()
                    )
                })?;
                let old = self.spec.parameter(&name).unwrap_or(0.0);
                self.set(&name, old + d)?;
            }
        }
        // "make the holes M6": the M6 clearance hole.
        if let Some(size) = self.facts.take_thread() {
            self.one_hole_group()?;
            let tapped = self.facts.take_flag(Flag::Tapped);
            let m = crate::read::metric_size(size)
                .ok_or_else(|| format!("M{} is not a metric size I know.", human(size)))?;
            let name = self
                .parameter_for(Role::Hole)
                .ok_or("I read an M size but the part has no holes to size by it.")?;
            self.set(&name, if tapped { m.tap_drill } else { m.clearance })?;
        }
        let roles = [
            Role::Length,
            Role::Width,
            Role::Height,
            Role::Thickness,
            Role::Depth,
            Role::Diameter,
            Role::OuterDiameter,
            Role::InnerDiameter,
            Role::TopDiameter,
            Role::BottomDiameter,
            Role::Hole,
            Role::Bore,
            Role::BoltCircle,
            Role::Floor,
            Role::Module,
            Role::AcrossFlats,
            Role::Size,
            Role::TubeDiameter,
            Role::RingDiameter,
        ];
        for role in roles {
            while let Some(v) = self.facts.take(&[role]) {
                if matches!(role, Role::Hole | Role::BoltCircle) {
                    self.one_hole_group()?;
                }
                let name = self.parameter_for(role).ok_or_else(|| {
                    format!(
                        "This {} has no {} to set.",
                        self.spec.part.replace('_', " "),
                        role.describe()
                    )
                })?;
                self.set(&name, v)?;
            }
        }
        for (diameter, radius) in [(Role::Diameter, Role::Radius), (Role::OuterDiameter, Role::OuterRadius)] {
            while let Some(r) = self.facts.take(&[radius]) {
                let name = self
                    .parameter_for(diameter)
                    .ok_or_else(|| format!("This {} has no radius to set.", self.spec.part.replace('_', " ")))?;
                self.set(&name, 2.0 * r)?;
            }
        }
        if let Some(Some(n)) = self.facts.take_count(Counted::Teeth) {
            self.set("teeth", f64::from(n))?;
        }
        if let Some(count) = self
            .pending_hole_count
            .take()
            .or_else(|| self.facts.take_count(Counted::Holes))
        {
            let Some(n) = count else {
                // "the holes" next to a size was a hole-diameter keyword only.
                return Ok(());
            };
            self.one_hole_group()?;
            // "make the hole 30 mm": the singular names the hole, it is no new count.
            let current = self.hole_index().and_then(|i| match &self.spec.features[i] {
                Feature::Hole { at, .. } => Some(at.count()),
                _ => None,
            });
            if current == Some(n) {
                return Ok(());
            }
            let prefix = self
                .parameter_for(Role::Hole)
                .map(|p| p.trim_end_matches("_diameter").to_string());
            let name = prefix
                .map(|p| format!("{p}_count"))
                .filter(|n| self.spec.parameter(n).is_some())
                .ok_or("I can change the number of holes in a row or on a circle only.")?;
            self.set(&name, f64::from(n))?;
        }
        Ok(())
    }

    /// "twice as long", "half as thick".
    fn scale(&mut self) -> Result<(), String> {
        let factors = std::mem::take(&mut self.facts.factors);
        for (f, role) in factors {
            let role =
                role.ok_or_else(|| format!("I read the factor {} but not which dimension it scales.", human(f)))?;
            let name = self
                .parameter_for(role)
                .ok_or_else(|| format!("This part has no {} to scale.", role.describe()))?;
            let old = self.spec.parameter(&name).unwrap_or(0.0);
            self.set(&name, old * f)?;
        }
        Ok(())
    }
}

/// A row of `n` holes re-spaced for `m`: same centre, the same span per
/// hole (a row laid out evenly over a length stays evenly laid out).
fn regrow_row(start: &mut [f64; 2], step: &mut [f64; 2], n: u32, m: u32) {
    let (n, m) = (f64::from(n), f64::from(m));
    let centre = [
        start[0] + (n - 1.0) / 2.0 * step[0],
        start[1] + (n - 1.0) / 2.0 * step[1],
    ];
    *step = [step[0] * n / m, step[1] * n / m];
    *start = [
        centre[0] - (m - 1.0) / 2.0 * step[0],
        centre[1] - (m - 1.0) / 2.0 * step[1],
    ];
}

/// When a block's length, width or height changes, its holes, pockets and
/// bosses keep their place as a person would expect: what was centred stays
/// centred, corner holes stay at the same inset from the corners, a row
/// spread symmetrically over the part stretches with it. A position that
/// is none of these (holes at given coordinates off the centre) cannot be
/// carried sensibly and is refused, naming it.
fn carry_positions(before: &PartSpec, after: &mut PartSpec) -> Result<(), String> {
    let (
        Base::Box {
            length: l0,
            width: w0,
            height: h0,
        },
        Base::Box {
            length: l1,
            width: w1,
            height: h1,
        },
    ) = (&before.base, &after.base)
    else {
        return Ok(());
    };
    let old = [*l0, *w0, *h0];
    let new = [*l1, *w1, *h1];
    let names = ["length", "width", "height"];
    for (k, name) in names.iter().enumerate() {
        if same(old[k], new[k]) {
            continue;
        }
        for feature in &mut after.features {
            let kind = feature.kind_name();
            match feature {
                Feature::Hole { at, axis, .. } => {
                    // Which box axis each position coordinate runs along.
                    let axes = match axis {
                        Axis::Z => [0, 1],
                        Axis::X => [1, 2],
                        Axis::Y => [0, 2],
                    };
                    for (index, box_axis) in axes.into_iter().enumerate() {
                        if box_axis == k {
                            carry(at, index, old[k], new[k]).map_err(|what| {
                                format!(
                                    "{what} sit where I cannot tell how they should move when the {name} \
                                     changes from {} to {} mm; give their new positions, or remove them first.",
                                    human(old[k]),
                                    human(new[k])
                                )
                            })?;
                        }
                    }
                }
                // A tube's bore grows with its section: the wall stays.
                Feature::Pocket { loops, .. } if k < 2 && before.part == "rect_tube" => {
                    for l in loops.iter_mut() {
                        if let Loop::Rectangle { size, .. } = l {
                            size[k] += new[k] - old[k];
                            if size[k] <= 0.0 {
                                return Err(format!(
                                    "A {} of {} mm leaves no inside in the tube.",
                                    name,
                                    human(new[k])
                                ));
                            }
                        }
                    }
                }
                Feature::Pocket { loops, .. } | Feature::Boss { loops, .. } if k < 2 => {
                    shift_loops(loops, k, old[k], new[k]).map_err(|()| {
                        format!(
                            "The {kind} is not centred along the {name}, so I cannot tell where it should go \
                             when the {name} changes from {} to {} mm; move it or remove it first.",
                            human(old[k]),
                            human(new[k])
                        )
                    })?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Carries coordinate `index` of `at` from a part `old` long to `new`.
/// Errors with a description of the holes that cannot be carried.
fn carry(at: &mut Positions, index: usize, old: f64, new: f64) -> Result<(), String> {
    let centred = |x: f64| same(x, old / 2.0);
    let points_text = |pts: &[[f64; 2]]| {
        let list: Vec<String> = pts
            .iter()
            .map(|p| format!("({}, {})", human(p[0]), human(p[1])))
            .collect();
        format!("The holes at {} mm", list.join(", "))
    };
    match at {
        Positions::Points { points } => {
            if !points.iter().all(|p| centred(p[index])) {
                return Err(points_text(points));
            }
            for p in points.iter_mut() {
                p[index] = new / 2.0;
            }
        }
        Positions::Circular { center, .. } => {
            if !centred(center[index]) {
                return Err("The holes on a circle off the centre".into());
            }
            center[index] = new / 2.0;
        }
        Positions::Linear { start, step, count } => {
            let n = f64::from(count.saturating_sub(1));
            // Symmetric about the centre: the row stretches with the part.
            if !centred(start[index] + step[index] * n / 2.0) {
                return Err("The row of holes, not centred,".into());
            }
            let f = new / old;
            start[index] = new / 2.0 - (old / 2.0 - start[index]) * f;
            step[index] *= f;
        }
        Positions::Grid { start, step, counts } => {
            let n = f64::from(counts[index].saturating_sub(1));
            if !centred(start[index] + step[index] * n / 2.0) {
                return Err("The grid of holes, not centred,".into());
            }
            // Corner holes keep their inset from the ends.
            if counts[index] > 1 {
                step[index] = (new - 2.0 * start[index]) / n;
            } else {
                start[index] = new / 2.0;
            }
        }
    }
    Ok(())
}

/// Moves loops centred along axis `k` to the new centre; refuses others.
fn shift_loops(loops: &mut [Loop], k: usize, old: f64, new: f64) -> Result<(), ()> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut see = |p: [f64; 2]| {
        lo = lo.min(p[k]);
        hi = hi.max(p[k]);
    };
    for l in loops.iter() {
        match l {
            Loop::Circle { center, diameter } => {
                let mut a = *center;
                let mut b = *center;
                a[k] -= diameter / 2.0;
                b[k] += diameter / 2.0;
                see(a);
                see(b);
            }
            Loop::Rectangle { corner, size } => {
                see(*corner);
                see([corner[0] + size[0], corner[1] + size[1]]);
            }
            Loop::Path { start, segments } => {
                see(*start);
                for s in segments {
                    match s {
                        Segment::Line { to } => see(*to),
                        Segment::Arc { through, to } => {
                            see(*through);
                            see(*to);
                        }
                    }
                }
            }
        }
    }
    if !same((lo + hi) / 2.0, old / 2.0) {
        return Err(());
    }
    let d = (new - old) / 2.0;
    let mv = |p: &mut [f64; 2]| p[k] += d;
    for l in loops.iter_mut() {
        match l {
            Loop::Circle { center, .. } => mv(center),
            Loop::Rectangle { corner, .. } => mv(corner),
            Loop::Path { start, segments } => {
                mv(start);
                for s in segments {
                    match s {
                        Segment::Line { to } => mv(to),
                        Segment::Arc { through, to } => {
                            mv(through);
                            mv(to);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use domain::spec::{Base, Feature, Positions};

    use super::follow_up;
    use crate::read::generate;

    fn after(prompt: &str, message: &str) -> Result<crate::Generated, String> {
        let g = generate(prompt).unwrap_or_else(|e| panic!("{prompt}: {}", e.reason));
        follow_up(&g.spec, message).map_err(|e| e.reason)
    }

    fn positions(g: &crate::Generated) -> Vec<[f64; 2]> {
        g.spec
            .features
            .iter()
            .flat_map(|f| match f {
                Feature::Hole { at, .. } => at.points(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn longer_parts_keep_centred_and_corner_holes_in_place() {
        let g = after("plate 100x60x5 with a 10 mm hole in the centre", "twice as long").unwrap();
        assert_eq!(positions(&g), vec![[100.0, 30.0]]);
        let g = after("plate 100x60x5 with four 5 mm holes at the corners", "twice as long").unwrap();
        // Inset 7.5 mm (1.5 hole diameters) from every edge, before and after.
        assert_eq!(
            positions(&g),
            vec![[7.5, 7.5], [192.5, 7.5], [7.5, 52.5], [192.5, 52.5]]
        );
        let g = after("plate 100x60x5 with four 5 mm holes at the corners", "make it 80 wide").unwrap();
        assert_eq!(positions(&g)[3], [92.5, 72.5]);
        // A row spread over the length stretches with it.
        let g = after("plate 100 x 60 x 5 mm with 4 holes 6 mm", "120 mm long").unwrap();
        assert_eq!(
            positions(&g),
            vec![[15.0, 30.0], [45.0, 30.0], [75.0, 30.0], [105.0, 30.0]]
        );
        // Holes across the part stay at mid-height.
        let mut spec = generate("block 60 x 40 x 20").unwrap().spec;
        spec.features.push(Feature::Hole {
            name: String::new(),
            diameter: 6.0,
            depth: None,
            counterbore: None,
            axis: domain::spec::Axis::X,
            at: Positions::Points {
                points: vec![[20.0, 10.0]],
            },
        });
        let g = follow_up(&spec, "make it 30 mm tall").unwrap();
        assert_eq!(positions(&g), vec![[20.0, 15.0]]);
    }

    #[test]
    fn holes_placed_by_coordinates_are_not_guessed() {
        let e = after("plate 100x60x5 with holes at (10, 10) and (50, 30)", "twice as long").unwrap_err();
        assert!(e.contains("(10, 10)") && e.contains("length"), "{e}");
        // Only the length changes; the hole is centred across the width.
        let g = after("plate 100x60x5 with a hole at (20, 30)", "80 wide").unwrap();
        assert_eq!(positions(&g), vec![[20.0, 40.0]]);
    }

    #[test]
    fn a_new_count_keeps_a_row_evenly_spread() {
        let g = after("plate 100 x 60 x 5 mm with 4 holes 6 mm", "6 holes").unwrap();
        let xs: Vec<f64> = positions(&g).iter().map(|p| (p[0] * 1e6).round() / 1e6).collect();
        let pitch = 100.0 / 6.0;
        let want: Vec<f64> = (0..6)
            .map(|i| ((pitch / 2.0 + pitch * f64::from(i)) * 1e6).round() / 1e6)
            .collect();
        assert_eq!(xs, want);
    }

    #[test]
    fn comparatives_change_by_the_amount() {
        let base = "plate 100 x 60 x 5 with 4 holes 6 mm";
        let size = |g: &crate::Generated| match g.spec.base {
            Base::Box { length, width, height } => [length, width, height],
            _ => panic!("not a box"),
        };
        assert_eq!(size(&after(base, "make it 20 mm wider").unwrap()), [100.0, 80.0, 5.0]);
        assert_eq!(size(&after(base, "2 mm thinner").unwrap()), [100.0, 60.0, 3.0]);
        assert_eq!(size(&after(base, "10 mm shorter").unwrap()), [90.0, 60.0, 5.0]);
        // The row of holes stays on the middle line.
        let g = after(base, "make it 20 mm wider").unwrap();
        assert!(positions(&g).iter().all(|p| p[1] == 40.0));
    }

    #[test]
    fn moves_need_a_direction_and_m_sizes_size_holes() {
        let base = "plate 100x60x5 with four M5 holes in the corners";
        let e = after(base, "move the holes 5 mm inwards").unwrap_err();
        assert!(e.contains("not which way"), "{e}");
        let g = after(base, "make the holes M6").unwrap();
        assert!(matches!(g.spec.features[0], Feature::Hole { diameter, .. } if diameter == 6.6));
        let g = after(base, "make the holes M6 tapped").unwrap();
        assert!(matches!(g.spec.features[0], Feature::Hole { diameter, .. } if diameter == 5.0));
    }

    #[test]
    fn factors_and_hole_groups() {
        let base = "plate 100x60x5 with 4 holes 6 mm";
        let length = |g: &crate::Generated| match g.spec.base {
            Base::Box { length, .. } => length,
            _ => panic!("not a box"),
        };
        assert_eq!(length(&after(base, "make it 2x longer").unwrap()), 200.0);
        assert_eq!(length(&after(base, "make it 50% longer").unwrap()), 150.0);
        assert_eq!(length(&after(base, "20% shorter").unwrap()), 80.0);
        let two = "plate 100 x 60 x 5 with four 5 mm holes at the corners and a 20 mm hole in the centre";
        assert!(after(two, "holes 8 mm").unwrap_err().contains("2 groups of holes"));
        assert!(after("plate 100x60x5", "make the holes bigger")
            .unwrap_err()
            .contains("no holes"));
    }

    #[test]
    fn some_holes_are_not_guessed_and_the_hole_is_not_a_count() {
        let corners = "plate 100x60x5 with four M5 holes in the corners";
        assert!(after(corners, "remove 2 holes").unwrap_err().contains("which 2"));
        assert!(after(corners, "remove the holes").is_ok());
        let g = after(
            "plate 100 x 60 x 5 with a 20 mm hole in the centre",
            "make the hole 30 mm",
        )
        .unwrap();
        assert!(matches!(g.spec.features[0], Feature::Hole { diameter, .. } if diameter == 30.0));
        let g = after("box 30x20x10", "halve the length").unwrap();
        assert!(matches!(g.spec.base, Base::Box { length, .. } if length == 15.0));
    }

    #[test]
    fn torus_sizes_by_outside_inside_and_radii() {
        let torus = |g: &crate::Generated| match g.spec.base {
            Base::Torus {
                ring_diameter,
                tube_diameter,
            } => (ring_diameter, tube_diameter),
            _ => panic!("not a torus"),
        };
        let base = "torus ring diameter 60 mm tube diameter 10 mm";
        assert_eq!(torus(&after(base, "make it 80 mm across").unwrap()), (70.0, 10.0));
        assert_eq!(torus(&after(base, "minor radius 6").unwrap()), (60.0, 12.0));
        assert_eq!(
            torus(&after(base, "make it 80 mm across with a tube diameter of 12").unwrap()),
            (68.0, 12.0)
        );
        assert!(after(base, "diameter 80").unwrap_err().contains("ring diameter"));
    }
}
