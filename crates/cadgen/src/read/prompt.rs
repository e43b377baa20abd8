//! Prompt reader: turns lexed tokens into [`Facts`] — the part nouns, the
//! lengths (each with the keyword it belongs to, if any), dimension chains
//! like `40 x 20 x 10`, counts, thread sizes, points and flags.
//!
//! Keywords pair with an adjacent number on either side ("diameter 20",
//! "10 mm dia", "5 mm thick"). Which side is decided for the whole prompt at
//! once by a maximum matching over the sequence, so "washer 20 mm outer
//! 8.4 mm inner 2 mm thick" and "cone bottom diameter 40 top diameter 10
//! height 30" both come out right.

use super::lexer::{lex, Lexed, Token};
use super::vocab::{is_unsupported_unit, lookup, Counted, Family, Flag, Meaning, PartNoun, Role, Side, Unit, CIRCLE};
use crate::compile::human;

/// A number as written, before unit resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Qty {
    value: f64,
    unit: Option<Unit>,
    integral: bool,
    /// Preceded by `Ø`.
    diameter_sign: bool,
}

impl Qty {
    /// A whole number with no unit: may be a count ("4 holes").
    fn as_count(&self) -> Option<u32> {
        let bare = self.unit.is_none() && !self.diameter_sign && self.integral;
        (bare && self.value >= 1.0 && self.value <= f64::from(u32::MAX)).then_some(self.value as u32)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Qty(Qty),
    Chain(Vec<Qty>),
    Point(Qty, Qty),
    Key(Role, Side),
    /// A counted noun as written ("holes"), before its count is found.
    Count {
        what: Counted,
        plural: bool,
    },
    /// A counted noun with its count; hole nouns also key the hole diameter.
    Counted {
        what: Counted,
        count: Option<u32>,
    },
    NumberWord(u32),
    Factor(f64),
    /// `A = factor × B`: "height is half its diameter".
    Relation(Role, f64, Role),
    Part(PartNoun),
    /// Metric thread size, `M6`.
    Thread(f64),
    /// "3 x 4 grid": holes in rows × columns.
    GridCounts(u32, u32),
    /// A unit the generator does not support, right after a number.
    UnsupportedUnit(String),
    Block,
}

/// What a single fact holds once units are resolved (all lengths in mm).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Length {
        role: Option<Role>,
        mm: f64,
    },
    /// "20 mm wider" (+20) or "5 mm thinner" (−5): a change, for follow-ups.
    Change {
        role: Role,
        mm: f64,
    },
    Chain(Vec<f64>),
    Point(f64, f64),
    Count {
        what: Counted,
        count: Option<u32>,
    },
    Thread(f64),
    /// Holes in a grid of this many along the length × the width.
    Grid(u32, u32),
}

#[derive(Debug, Clone, PartialEq)]
struct Fact {
    value: Value,
    used: bool,
    /// The phrase it was read in: phrases are separated by "with", "and",
    /// "at", commas… (see [`Meaning::Block`](super::vocab::Meaning)).
    clause: usize,
}

/// A flag as read: which one, in which phrase, and whether it was used.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FlagFact {
    flag: Flag,
    clause: usize,
    used: bool,
}

/// Everything read from a prompt. Part generators `take_*` what they need;
/// whatever is left over is reported instead of being silently ignored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub parts: Vec<PartNoun>,
    /// Units like "km" that were used but are not supported.
    pub unsupported_units: Vec<String>,
    /// Whether some length had no unit and was read in the default one.
    pub bare_numbers: Option<Unit>,
    /// Relations whose other dimension the prompt does not give.
    pub unresolved: Vec<String>,
    /// Factors ("twice", "half") not part of a relation: follow-ups scale by them.
    pub factors: Vec<(f64, Option<Role>)>,
    /// Every keyword mentioned, with or without a number ("remove the fillet").
    pub keys: Vec<Role>,
    /// Words the reader has no meaning for, in order ("a", "with", "dragon").
    pub unknown_words: Vec<String>,
    /// "a hole in each corner": one hole per corner, four in all.
    pub each_corner: bool,
    /// Numbers joined by a hyphen ("1/4-20", "10-20"): a thread or a range,
    /// never a size; reported as not understood.
    hyphenated: Vec<String>,
    /// Flags and whether a part generator used them.
    flags: Vec<FlagFact>,
    facts: Vec<Fact>,
    /// Phrases that name a fillet or chamfer: "corners" there are rounded
    /// corners, not corner holes.
    edge_clauses: Vec<usize>,
    /// While reading one group of holes among several: the phrases it
    /// owns (first, last). Takes and flag tests see only those.
    scope: Option<(usize, usize)>,
}

impl Facts {
    pub fn read(prompt: &str) -> Facts {
        let (lexed, hyphenated) = hyphenated(prompt, lex(prompt));
        let lexed = number_words(lexed);
        let mut flags = Vec::new();
        let mut unknown_words = Vec::new();
        let items = items(&lexed, &mut flags, &mut unknown_words);
        let items = hole_circles(extract_counts(grids(items)));
        let (items, factors) = relations(items);
        let mut pairs = pair_keywords(&items);
        material_thickness(&items, &mut pairs);
        let default_unit = default_unit(&items);
        let mm = |q: &Qty| round_mm(q.unit.unwrap_or(default_unit).to_mm(q.value));

        let flags = flags
            .into_iter()
            .map(|(flag, clause)| FlagFact {
                flag,
                clause,
                used: false,
            })
            .collect();
        let lower = prompt.to_lowercase();
        let each_corner = [
            "each corner",
            "every corner",
            "each of the",
            "all four corners",
            "all corners",
        ]
        .iter()
        .any(|p| lower.contains(p) && (*p != "each of the" || lower.contains("corners")));
        let mut facts = Facts {
            hyphenated,
            flags,
            factors,
            unknown_words,
            each_corner,
            ..Facts::default()
        };
        let bare = items.iter().any(|item| match item {
            Item::Qty(q) => q.unit.is_none(),
            Item::Chain(qs) => qs.iter().all(|q| q.unit.is_none()),
            Item::Point(x, y) => x.unit.is_none() || y.unit.is_none(),
            _ => false,
        });
        if bare {
            facts.bare_numbers = Some(default_unit);
        }
        let mut relations_found = Vec::new();
        let mut keys = Vec::new();
        let mut clause = 0;
        let mut edge_clauses = Vec::new();
        let mut key_clauses = Vec::new();
        let mut push = |value, clause| {
            facts.facts.push(Fact {
                value,
                used: false,
                clause,
            })
        };
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Qty(q) => {
                    let side = pairs[i].map(|(_, side)| side);
                    let role = pairs[i]
                        .map(|(role, _)| role)
                        .or(q.diameter_sign.then_some(Role::Diameter));
                    // Gear modules are millimetres whatever unit the rest uses.
                    let mm = match (role, q.unit) {
                        (Some(Role::Module), None) => round_mm(q.value),
                        _ => mm(q),
                    };
                    match (role, side) {
                        (Some(role), Some(Side::More)) => push(Value::Change { role, mm }, clause),
                        (Some(role), Some(Side::Less)) => push(Value::Change { role, mm: -mm }, clause),
                        _ => push(Value::Length { role, mm }, clause),
                    }
                }
                Item::Chain(qs) => {
                    // Bare members take the chain's own unit: "2 by 3 by 4 cm".
                    let unit = qs.iter().rev().find_map(|q| q.unit).unwrap_or(default_unit);
                    let dims = qs
                        .iter()
                        .map(|q| round_mm(q.unit.unwrap_or(unit).to_mm(q.value)))
                        .collect();
                    push(Value::Chain(dims), clause);
                }
                Item::Point(x, y) => push(Value::Point(mm(x), mm(y)), clause),
                Item::Counted { what, count } => push(
                    Value::Count {
                        what: *what,
                        count: *count,
                    },
                    clause,
                ),
                Item::Thread(d) => push(Value::Thread(*d), clause),
                Item::GridCounts(a, b) => push(Value::Grid(*a, *b), clause),
                Item::Part(noun) => facts.parts.push(*noun),
                Item::UnsupportedUnit(unit) => facts.unsupported_units.push(unit.clone()),
                Item::Relation(a, f, b) => relations_found.push((*a, *f, *b)),
                Item::Key(role, _) => {
                    if matches!(role, Role::Fillet | Role::Chamfer) {
                        edge_clauses.push(clause);
                    }
                    key_clauses.push((clause, *role));
                    keys.push(*role)
                }
                Item::Block => clause += 1,
                Item::Count { .. } | Item::NumberWord(_) | Item::Factor(_) => {}
            }
        }
        facts.keys = keys;
        // "5 mm radius corners": a radius said with corners rounds them.
        for (clause, role) in key_clauses {
            let with_corners = facts
                .flags
                .iter()
                .any(|f| f.flag == Flag::Corners && f.clause == clause);
            if role == Role::Radius && with_corners {
                edge_clauses.push(clause);
            }
        }
        facts.edge_clauses = edge_clauses;
        for (a, f, b) in relations_found {
            match facts.known(b) {
                Some(v) => facts.facts.push(Fact {
                    value: Value::Length {
                        role: Some(a),
                        mm: round_mm(f * v),
                    },
                    used: false,
                    clause: 0,
                }),
                None => facts.unresolved.push(format!(
                    "the {} as {} the {}",
                    a.describe(),
                    factor_words(f),
                    b.describe()
                )),
            }
        }
        facts
    }

    /// The value of a dimension the prompt gives, without using it: a
    /// length with this role, or its place in an `l × w × h` chain.
    fn known(&self, role: Role) -> Option<f64> {
        let direct = self.facts.iter().find_map(|f| match f.value {
            Value::Length { role: Some(r), mm } if r == role => Some(mm),
            _ => None,
        });
        let synonyms = |r: Role| match r {
            Role::Diameter | Role::OuterDiameter => Some(Role::Diameter),
            Role::Height | Role::Thickness | Role::Depth => Some(Role::Height),
            _ => None,
        };
        let via_synonym = || {
            let want = synonyms(role)?;
            self.facts.iter().find_map(|f| match f.value {
                Value::Length { role: Some(r), mm } if synonyms(r) == Some(want) => Some(mm),
                _ => None,
            })
        };
        let chain = || {
            let index = match role {
                Role::Length => 0,
                Role::Width => 1,
                Role::Height | Role::Thickness | Role::Depth => 2,
                _ => return None,
            };
            self.facts.iter().find_map(|f| match &f.value {
                Value::Chain(dims) => dims.get(index).copied(),
                _ => None,
            })
        };
        direct.or_else(via_synonym).or_else(chain)
    }

    /// The first negative length, described with its role.
    pub fn negative(&self) -> Option<String> {
        self.facts.iter().find_map(|f| {
            let negative = match &f.value {
                Value::Length { mm, .. } | Value::Thread(mm) => *mm < 0.0,
                Value::Chain(dims) => dims.iter().any(|d| *d < 0.0),
                Value::Point(..) | Value::Count { .. } | Value::Change { .. } | Value::Grid(..) => false,
            };
            negative.then(|| match &f.value {
                Value::Length { role: Some(role), mm } => {
                    format!("The {} must be positive, not {} mm.", role.describe(), human(*mm))
                }
                other => format!("Dimensions must be positive, not {}.", describe(other)),
            })
        })
    }

    /// The first length that is not finite or exceeds `max_mm`, described.
    pub fn out_of_range(&self, max_mm: f64) -> Option<String> {
        let bad = |mm: &f64| !mm.is_finite() || mm.abs() > max_mm;
        self.facts.iter().map(|f| &f.value).find_map(|value| {
            let is_bad = match value {
                Value::Length { mm, .. } | Value::Thread(mm) | Value::Change { mm, .. } => bad(mm),
                Value::Chain(dims) => dims.iter().any(bad),
                Value::Point(x, y) => bad(x) || bad(y),
                Value::Count { .. } | Value::Grid(..) => false,
            };
            is_bad.then(|| describe(value))
        })
    }

    fn in_scope(&self, clause: usize) -> bool {
        self.scope.is_none_or(|(lo, hi)| (lo..=hi).contains(&clause))
    }

    /// Whether the prompt says `flag` and it is not used yet.
    /// Whether the prompt gives anything a part or a change could use: a
    /// number, a keyword, a factor or a flag ("make it 15 mm thick",
    /// "twice as long", "remove the fillet", "undo").
    pub fn says_something(&self) -> bool {
        !(self.facts.is_empty() && self.flags.is_empty() && self.factors.is_empty() && self.keys.is_empty())
    }

    pub fn has(&self, flag: Flag) -> bool {
        self.flags
            .iter()
            .any(|f| f.flag == flag && !f.used && self.in_scope(f.clause))
    }

    /// Whether the prompt says `flag`; marks it as used.
    pub fn take_flag(&mut self, flag: Flag) -> bool {
        self.take_flag_where(flag, |_| true)
    }

    fn take_flag_where(&mut self, flag: Flag, pick: impl Fn(usize) -> bool) -> bool {
        let scope = self.scope;
        let mut found = false;
        for f in self.flags.iter_mut().filter(|f| f.flag == flag && !f.used) {
            if scope.is_none_or(|(lo, hi)| (lo..=hi).contains(&f.clause)) && pick(f.clause) {
                f.used = true;
                found = true;
            }
        }
        found
    }

    /// "at the corners" said of holes, not in a phrase that rounds or
    /// chamfers ("rounded corners 5 mm").
    pub fn has_hole_corners(&self) -> bool {
        self.flags.iter().any(|f| {
            f.flag == Flag::Corners && !f.used && self.in_scope(f.clause) && !self.edge_clauses.contains(&f.clause)
        })
    }

    /// Takes an unused radius said in the same phrase as corners or edges
    /// ("5 mm radius corners"), for a fillet.
    pub fn take_edge_radius(&mut self) -> Option<f64> {
        let edge_flags = [
            Flag::Corners,
            Flag::VerticalEdges,
            Flag::TopEdges,
            Flag::BottomEdges,
            Flag::AllEdges,
            Flag::Edges,
        ];
        let clauses: Vec<usize> = self
            .flags
            .iter()
            .filter(|f| !f.used && edge_flags.contains(&f.flag))
            .map(|f| f.clause)
            .collect();
        let fact = self.facts.iter_mut().find(|f| {
            !f.used
                && clauses.contains(&f.clause)
                && matches!(
                    f.value,
                    Value::Length {
                        role: Some(Role::Radius),
                        ..
                    }
                )
        })?;
        fact.used = true;
        match fact.value {
            Value::Length { mm, .. } => Some(mm),
            _ => None,
        }
    }

    /// Takes the "at the corners" of [`has_hole_corners`](Self::has_hole_corners).
    pub fn take_hole_corners(&mut self) -> bool {
        let edges = self.edge_clauses.clone();
        self.take_flag_where(Flag::Corners, |c| !edges.contains(&c))
    }

    /// The phrase of each unused mention of holes that starts a group of
    /// holes: the first, and every later one with a count ("… and a 20 mm
    /// hole"); "the holes" without a count refers back.
    pub fn hole_groups(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for f in self.facts.iter().filter(|f| !f.used) {
            if let Value::Count {
                what: Counted::Holes,
                count,
            } = f.value
            {
                if out.is_empty() || count.is_some() {
                    out.push(f.clause);
                }
            }
        }
        out
    }

    /// Limits what is taken to the phrases `first..=last` (`None`: all).
    pub fn set_scope(&mut self, scope: Option<(usize, usize)>) {
        self.scope = scope;
    }

    /// The first unused length with one of `roles`, wherever it was said,
    /// left unused.
    pub fn peek_any(&self, roles: &[Role]) -> Option<f64> {
        self.facts.iter().filter(|f| !f.used).find_map(|f| match f.value {
            Value::Length { role: Some(r), mm } if roles.contains(&r) => Some(mm),
            _ => None,
        })
    }

    /// Takes the first unused "rows × columns" of a grid of holes.
    pub fn take_grid(&mut self) -> Option<(u32, u32)> {
        self.take_where(|v| match v {
            Value::Grid(a, b) => Some((*a, *b)),
            _ => None,
        })
    }

    /// Takes the first unused change ("20 mm wider": +20) of `role`.
    pub fn take_change(&mut self, role: Role) -> Option<f64> {
        self.take_where(|v| match v {
            Value::Change { role: r, mm } if *r == role => Some(*mm),
            _ => None,
        })
    }

    /// Takes the first unused length with one of `roles`.
    pub fn take(&mut self, roles: &[Role]) -> Option<f64> {
        self.take_where(|v| match v {
            Value::Length { role: Some(r), mm } if roles.contains(r) => Some(*mm),
            _ => None,
        })
    }

    /// A diameter given either as a diameter or as a radius.
    pub fn take_diameter(&mut self, diameters: &[Role], radii: &[Role]) -> Option<f64> {
        self.take(diameters).or_else(|| self.take(radii).map(|r| 2.0 * r))
    }

    /// Takes the first unused length that had no keyword.
    pub fn take_bare(&mut self) -> Option<f64> {
        self.take_where(|v| match v {
            Value::Length { role: None, mm } => Some(*mm),
            _ => None,
        })
    }

    /// Takes the first unused chain of exactly `len` dimensions.
    pub fn take_chain(&mut self, len: usize) -> Option<Vec<f64>> {
        self.take_where(|v| match v {
            Value::Chain(dims) if dims.len() == len => Some(dims.clone()),
            _ => None,
        })
    }

    pub fn has_chain(&self) -> bool {
        self.facts.iter().any(|f| !f.used && matches!(f.value, Value::Chain(_)))
    }

    pub fn take_points(&mut self) -> Vec<(f64, f64)> {
        std::iter::from_fn(|| {
            self.take_where(|v| match v {
                Value::Point(x, y) => Some((*x, *y)),
                _ => None,
            })
        })
        .collect()
    }

    /// The first unused thread size, left unused.
    pub fn peek_thread(&self) -> Option<f64> {
        self.facts
            .iter()
            .filter(|f| !f.used && self.in_scope(f.clause))
            .find_map(|f| match f.value {
                Value::Thread(d) => Some(d),
                _ => None,
            })
    }

    pub fn take_thread(&mut self) -> Option<f64> {
        self.take_where(|v| match v {
            Value::Thread(d) => Some(*d),
            _ => None,
        })
    }

    /// Whether a counted noun ("holes") is mentioned and not yet taken.
    pub fn has_count(&self, what: Counted) -> bool {
        self.facts
            .iter()
            .any(|f| !f.used && matches!(f.value, Value::Count { what: w, .. } if w == what))
    }

    /// Takes every mention of a counted noun; returns the count if one was
    /// given (`Some(None)` when mentioned without a number).
    pub fn take_count(&mut self, what: Counted) -> Option<Option<u32>> {
        let mut found: Option<Option<u32>> = None;
        let scope = self.scope;
        let in_scope = |c: usize| scope.is_none_or(|(lo, hi)| (lo..=hi).contains(&c));
        for fact in self.facts.iter_mut().filter(|f| !f.used && in_scope(f.clause)) {
            if let Value::Count { what: w, count } = fact.value {
                if w == what {
                    fact.used = true;
                    found = Some(found.flatten().or(count));
                }
            }
        }
        found
    }

    /// Puts back a hole count taken by mistake, so another reader can take it.
    pub fn restore_hole_count(&mut self, count: Option<u32>) {
        self.facts.push(Fact {
            value: Value::Count {
                what: Counted::Holes,
                count,
            },
            used: false,
            clause: 0,
        });
    }

    /// Whether a length with this role is still unused.
    pub fn has_role(&self, roles: &[Role]) -> bool {
        self.facts.iter().any(|f| {
            !f.used
                && self.in_scope(f.clause)
                && matches!(f.value, Value::Length { role: Some(r), .. } if roles.contains(&r))
        })
    }

    /// Descriptions of everything not taken, for "did not understand" errors.
    pub fn leftovers(&self) -> Vec<String> {
        let values = self.facts.iter().filter(|f| !f.used).map(|f| describe(&f.value));
        // "round" and "through" fit any part; these change what is built.
        let flags = self.flags.iter().filter(|f| !f.used).filter_map(|f| match f.flag {
            Flag::Corners => Some("at the corners".to_string()),
            Flag::Hex => Some("hex".to_string()),
            Flag::Open => Some("open / hollow".to_string()),
            Flag::Centre => Some("at the centre".to_string()),
            Flag::VerticalEdges => Some("the vertical edges".to_string()),
            Flag::TopEdges => Some("the top edges".to_string()),
            Flag::BottomEdges => Some("the bottom edges".to_string()),
            Flag::AllEdges | Flag::Edges => Some("the edges".to_string()),
            Flag::Counterbored => Some("counterbored".to_string()),
            Flag::EachLeg => Some("in each leg".to_string()),
            Flag::RectCut => Some("a rectangular cutout".to_string()),
            Flag::SquareCut => Some("a square cutout".to_string()),
            Flag::Tapped => Some("tapped".to_string()),
            Flag::Move => Some("move".to_string()),
            Flag::Across | Flag::Lengthwise | Flag::FrontToBack => Some("a hole across the part".to_string()),
            Flag::Unsupported(what) => Some(what.to_string()),
            Flag::More => Some("more".to_string()),
            Flag::Remove => Some("remove".to_string()),
            Flag::Undo => Some("undo".to_string()),
            Flag::Left | Flag::Right | Flag::Up | Flag::Down => Some("a direction".to_string()),
            Flag::Round | Flag::Through | Flag::Add => None,
        });
        let odd = self.hyphenated.iter().map(|h| format!("\"{h}\""));
        let mut all: Vec<String> = odd.chain(values).chain(flags).collect();
        all.dedup();
        all
    }

    fn take_where<T>(&mut self, mut pick: impl FnMut(&Value) -> Option<T>) -> Option<T> {
        let scope = self.scope;
        let in_scope = |c: usize| scope.is_none_or(|(lo, hi)| (lo..=hi).contains(&c));
        self.facts
            .iter_mut()
            .filter(|f| !f.used && in_scope(f.clause))
            .find_map(|fact| {
                let picked = pick(&fact.value)?;
                fact.used = true;
                Some(picked)
            })
    }
}

/// Rounds to a micrometre so that unit conversions print cleanly
/// (`1/4 in` is 6.35, not 6.3500000000000005).
fn round_mm(mm: f64) -> f64 {
    (mm * 1e6).round() / 1e6
}

fn factor_words(f: f64) -> String {
    match f {
        f if (f - 0.5).abs() < 1e-12 => "half".into(),
        f if (f - 0.25).abs() < 1e-12 => "a quarter of".into(),
        f if (f - 1.0 / 3.0).abs() < 1e-12 => "a third of".into(),
        f if (f - 2.0).abs() < 1e-12 => "twice".into(),
        f => format!("{} times", human(f)),
    }
}

/// Folds "A is <factor> B", "<factor> as A as B" and "holes <factor> of
/// the B" into relations; returns the other factors on their own, with the
/// dimension they stand next to ("twice as long").
fn relations(items: Vec<Item>) -> (Vec<Item>, Vec<(f64, Option<Role>)>) {
    let mut out: Vec<Item> = Vec::new();
    let mut factors = Vec::new();
    let mut i = 0;
    let key = |item: Option<&Item>| match item {
        Some(Item::Key(r, _)) => Some(*r),
        Some(Item::Counted {
            what: Counted::Holes, ..
        }) => Some(Role::Hole),
        _ => None,
    };
    while i < items.len() {
        if let Item::Factor(f) = items[i] {
            let (next, after) = (key(items.get(i + 1)), key(items.get(i + 2)));
            match (out.last(), next) {
                // "a hole a quarter of the width": the holes keep their noun.
                (
                    Some(Item::Counted {
                        what: Counted::Holes, ..
                    }),
                    Some(b),
                ) => {
                    out.push(Item::Relation(Role::Hole, f, b));
                    i += 2;
                    continue;
                }
                // "height is half its diameter"
                (Some(Item::Key(a, _)), Some(b)) => {
                    let a = *a;
                    out.pop();
                    out.push(Item::Relation(a, f, b));
                    i += 2;
                    continue;
                }
                _ => {}
            }
            // "twice as long as wide"
            if let (Some(a), Some(b)) = (next, after) {
                out.push(Item::Relation(a, f, b));
                i += 3;
                continue;
            }
            factors.push((f, next));
        }
        out.push(items[i].clone());
        i += 1;
    }
    out.retain(|item| !matches!(item, Item::Factor(_)));
    (out, factors)
}

fn describe(value: &Value) -> String {
    let len = human;
    match value {
        Value::Length { role: Some(role), mm } => format!("{} mm ({})", len(*mm), role.describe()),
        Value::Length { role: None, mm } => format!("{} mm", len(*mm)),
        Value::Change { role, mm } => format!(
            "{} mm {} ({})",
            len(mm.abs()),
            if *mm < 0.0 { "less" } else { "more" },
            role.describe()
        ),
        Value::Chain(dims) => {
            let parts: Vec<String> = dims.iter().map(|d| len(*d)).collect();
            format!("{} mm", parts.join(" × "))
        }
        Value::Point(x, y) => format!("the point ({}, {}) mm", len(*x), len(*y)),
        Value::Count { what, count } => {
            let noun = match what {
                Counted::Holes => "holes",
                Counted::Teeth => "teeth",
            };
            match count {
                Some(n) => format!("{n} {noun}"),
                None => noun.to_string(),
            }
        }
        Value::Thread(d) => format!("M{}", len(*d)),
        Value::Grid(a, b) => format!("a {a} × {b} grid"),
    }
}

/// Bare numbers take the prompt's unit when it uses exactly one, else mm.
fn default_unit(items: &[Item]) -> Unit {
    let mut units: Vec<Unit> = items
        .iter()
        .flat_map(|item| match item {
            Item::Qty(q) => vec![q.unit],
            Item::Chain(qs) => qs.iter().map(|q| q.unit).collect(),
            Item::Point(x, y) => vec![x.unit, y.unit],
            _ => vec![],
        })
        .flatten()
        .collect();
    units.sort();
    units.dedup();
    // "a square tube 40x40x3, 1 metre long": bare numbers that the only
    // unit would make longer than any part are millimetres.
    let bare = items.iter().flat_map(|item| match item {
        Item::Qty(q) => vec![q],
        Item::Chain(qs) => qs.iter().collect(),
        Item::Point(x, y) => vec![x, y],
        _ => vec![],
    });
    let mut bare = bare.filter(|q| q.unit.is_none()).map(|q| q.value);
    match units.as_slice() {
        [only] if bare.all(|v| only.to_mm(v) <= super::MAX_LENGTH_MM) => *only,
        _ => Unit::Mm,
    }
}

/// Builds the item sequence: numbers with units, chains, points, phrases.
fn items(lexed: &[Lexed], flags: &mut Vec<(Flag, usize)>, unknown: &mut Vec<String>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lexed.len() {
        if let Some((item, used)) = factor(lexed, i) {
            out.push(item);
            i += used;
            continue;
        }
        if let Some((item, used)) = quantity_or_chain(lexed, i).or_else(|| point(lexed, i)) {
            out.push(item);
            i += used;
            continue;
        }
        match &lexed[i].token {
            Token::Word(w) if w == "m" && thread_after(lexed, i).is_some() => {
                if let Some(d) = thread_after(lexed, i) {
                    out.push(Item::Thread(d));
                }
                i += 2;
            }
            Token::Word(_) => {
                let words = word_run(lexed, i);
                let single_letter_key = single_letter_key(lexed, i);
                match (single_letter_key, lookup(&words)) {
                    (Some(role), _) => {
                        out.push(Item::Key(role, Side::Either));
                        i += 1;
                    }
                    (None, Some((meaning, used))) => {
                        match meaning {
                            Meaning::Key(role, side) => out.push(Item::Key(role, side)),
                            Meaning::Count { what, plural } => out.push(Item::Count { what, plural }),
                            Meaning::NumberWord(n) => match word_unit(lexed, i + used) {
                                Some(unit) => {
                                    out.push(Item::Qty(Qty {
                                        value: f64::from(n),
                                        unit: Some(unit),
                                        integral: false,
                                        diameter_sign: false,
                                    }));
                                    i += 1;
                                }
                                None => out.push(Item::NumberWord(n)),
                            },
                            // "half an inch"
                            Meaning::Factor(f)
                                if word_unit(lexed, i + used).is_none()
                                    && matches!(lexed.get(i + used).map(|l| &l.token), Some(Token::Word(w)) if w == "a" || w == "an")
                                    && word_unit(lexed, i + used + 1).is_some() =>
                            {
                                let unit = word_unit(lexed, i + used + 1);
                                out.push(Item::Qty(Qty {
                                    value: f,
                                    unit,
                                    integral: false,
                                    diameter_sign: false,
                                }));
                                i += 2;
                            }
                            Meaning::Factor(f) => match word_unit(lexed, i + used) {
                                // "half-inch", "a quarter inch"
                                Some(unit) => {
                                    out.push(Item::Qty(Qty {
                                        value: f,
                                        unit: Some(unit),
                                        integral: false,
                                        diameter_sign: false,
                                    }));
                                    i += 1;
                                }
                                None => out.push(Item::Factor(f)),
                            },
                            Meaning::Part(noun) => out.push(Item::Part(noun)),
                            Meaning::Flag(flag) => {
                                let clause = out.iter().filter(|item| matches!(item, Item::Block)).count();
                                flags.push((flag, clause))
                            }
                            Meaning::Block => out.push(Item::Block),
                            // "x" / "by" outside a chain mean nothing.
                            Meaning::Times => {}
                        }
                        i += used;
                    }
                    (None, None) => {
                        let after_number = i > 0 && matches!(lexed[i - 1].token, Token::Number { .. });
                        if after_number && is_unsupported_unit(words[0]) {
                            out.push(Item::UnsupportedUnit(words[0].to_string()));
                        } else {
                            unknown.push(words[0].to_string());
                        }
                        i += 1;
                    }
                }
            }
            Token::Comma => {
                out.push(Item::Block);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The unit named by the word at `i`, if it is one (after a number word).
fn word_unit(lexed: &[Lexed], i: usize) -> Option<Unit> {
    match lexed.get(i).map(|l| &l.token) {
        Some(Token::Word(w)) if w == "m" && thread_after(lexed, i).is_some() => None,
        Some(Token::Word(w)) => Unit::from_word(w),
        Some(Token::InchMark) => Some(Unit::In),
        _ => None,
    }
}

/// Up to four consecutive words starting at `i`, for phrase lookup.
fn word_run(lexed: &[Lexed], i: usize) -> Vec<&str> {
    lexed[i..]
        .iter()
        .map_while(|l| match &l.token {
            Token::Word(w) => Some(w.as_str()),
            _ => None,
        })
        .take(4)
        .collect()
}

/// `d=20`, `h: 50` — single letters only count as keywords before `=`/`:`.
fn single_letter_key(lexed: &[Lexed], i: usize) -> Option<Role> {
    let Token::Word(w) = &lexed[i].token else {
        return None;
    };
    if lexed.get(i + 1).map(|l| &l.token) != Some(&Token::Equals) {
        return None;
    }
    Some(match w.as_str() {
        "d" => Role::Diameter,
        "r" => Role::Radius,
        "h" => Role::Height,
        "l" => Role::Length,
        "w" => Role::Width,
        "t" => Role::Thickness,
        "m" => Role::Module,
        _ => return None,
    })
}

/// `M6`: the letter m glued to a following number.
fn thread_after(lexed: &[Lexed], i: usize) -> Option<f64> {
    let next = lexed.get(i + 1)?;
    match next.token {
        Token::Number { value, .. } if lexed[i].glued_to(next) => Some(value),
        _ => None,
    }
}

/// A number with optional `Ø` before and unit after. Returns the tokens used.
fn quantity(lexed: &[Lexed], i: usize) -> Option<(Qty, usize)> {
    let (diameter_sign, at) = match lexed.get(i)?.token {
        Token::DiameterSign => (true, i + 1),
        _ => (false, i),
    };
    let Token::Number { value, integral } = lexed.get(at)?.token else {
        return None;
    };
    let (unit, used) = match lexed.get(at + 1).map(|l| &l.token) {
        Some(Token::InchMark) => (Some(Unit::In), 2),
        // `6m6` would be odd, but "m" glued to a number after it is a thread.
        Some(Token::Word(w)) if !(w == "m" && thread_after(lexed, at + 1).is_some()) => match Unit::from_word(w) {
            Some(unit) => (Some(unit), 2),
            None => (None, 1),
        },
        _ => (None, 1),
    };
    let qty = Qty {
        value,
        unit,
        integral: integral && unit.is_none(),
        diameter_sign,
    };
    Some((qty, at - i + used))
}

/// "2x", "3 times" (a bare number then a times sign or word, no number
/// after it) and "50%": factors. A percentage before a comparative is the
/// change: "50% longer" is 1.5 times as long, "20% shorter" 0.8 times.
fn factor(lexed: &[Lexed], i: usize) -> Option<(Item, usize)> {
    let Token::Number { value, .. } = lexed.get(i)?.token else {
        return None;
    };
    let next = lexed.get(i + 1).map(|l| &l.token);
    // "2x longer", "3 times as long", "2 times the width" — not "4x M5 holes".
    let relation_after = match lexed.get(i + 2).map(|l| &l.token) {
        Some(Token::Word(w)) if w == "as" || w == "the" || w == "its" => true,
        Some(Token::Word(_)) => matches!(
            lookup(&word_run(lexed, i + 2)),
            Some((Meaning::Key(_, Side::More | Side::Less), _))
        ),
        _ => false,
    };
    let number_after = !relation_after;
    match next {
        Some(Token::Percent) => {
            let f = value / 100.0;
            let f = match lookup(&word_run(lexed, i + 2)) {
                Some((Meaning::Key(_, Side::More), _)) => 1.0 + f,
                Some((Meaning::Key(_, Side::Less), _)) => 1.0 - f,
                _ => f,
            };
            Some((Item::Factor(f), 2))
        }
        Some(Token::Times) if !number_after => Some((Item::Factor(value), 2)),
        Some(Token::Word(w)) if (w == "x" || w == "times") && !number_after => Some((Item::Factor(value), 2)),
        _ => None,
    }
}

/// A quantity, or a chain of them joined by `x`, `×`, `*` or "by".
fn quantity_or_chain(lexed: &[Lexed], i: usize) -> Option<(Item, usize)> {
    let (first, mut used) = quantity(lexed, i)?;
    let mut chain = vec![first];
    loop {
        let is_times = match lexed.get(i + used).map(|l| &l.token) {
            Some(Token::Times) => true,
            Some(Token::Word(w)) => w == "x" || w == "by",
            _ => false,
        };
        match quantity(lexed, i + used + 1) {
            Some((next, n)) if is_times => {
                chain.push(next);
                used += 1 + n;
            }
            _ => break,
        }
    }
    let item = match chain.as_slice() {
        [single] => Item::Qty(*single),
        _ => Item::Chain(chain),
    };
    Some((item, used))
}

/// `(10, 15)` or `(10 mm, 15 mm)`.
fn point(lexed: &[Lexed], i: usize) -> Option<(Item, usize)> {
    if lexed.get(i)?.token != Token::Open {
        return None;
    }
    let (x, nx) = quantity(lexed, i + 1)?;
    if lexed.get(i + 1 + nx)?.token != Token::Comma {
        return None;
    }
    let (y, ny) = quantity(lexed, i + 2 + nx)?;
    if lexed.get(i + 2 + nx + ny)?.token != Token::Close {
        return None;
    }
    Some((Item::Point(x, y), 3 + nx + ny))
}

/// "four holes on a 60 mm circle": after holes, a sized circle is their
/// bolt circle, not a part.
fn hole_circles(mut items: Vec<Item>) -> Vec<Item> {
    let mut holes_before = false;
    for i in 0..items.len() {
        match &items[i] {
            Item::Counted {
                what: Counted::Holes, ..
            } => holes_before = true,
            Item::Part(noun)
                if noun.word == CIRCLE
                    && holes_before
                    && matches!(items.get(i.wrapping_sub(1)), Some(Item::Qty(_))) =>
            {
                items[i] = Item::Key(Role::BoltCircle, Side::After);
            }
            _ => {}
        }
    }
    items
}

/// "3 x 4 grid", "grid of 3 x 4": two counts and the grid keyword fold into
/// one item, so that neither count is read as a length or a hole count.
fn grids(items: Vec<Item>) -> Vec<Item> {
    let counts = |item: &Item| match item {
        Item::Chain(qs) => match qs.as_slice() {
            [a, b] => Some((a.as_count()?, b.as_count()?)),
            _ => None,
        },
        _ => None,
    };
    let is_grid = |item: Option<&Item>| matches!(item, Some(Item::Key(Role::Grid, _)));
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        match counts(&items[i]) {
            Some((a, b)) if is_grid(items.get(i + 1)) => {
                out.push(Item::GridCounts(a, b));
                i += 2;
            }
            Some((a, b)) if is_grid(out.last()) => {
                out.pop();
                out.push(Item::GridCounts(a, b));
                i += 1;
            }
            _ => {
                out.push(items[i].clone());
                i += 1;
            }
        }
    }
    out
}

/// Takes out numbers joined by a hyphen — "1/4-20" (an imperial thread),
/// "10-20" (a range) — so that neither half is read as a size or a count.
fn hyphenated(prompt: &str, lexed: Vec<Lexed>) -> (Vec<Lexed>, Vec<String>) {
    let chars: Vec<char> = prompt.chars().collect();
    let is_number = |l: &Lexed| matches!(l.token, Token::Number { .. });
    let mut out = Vec::with_capacity(lexed.len());
    let mut found = Vec::new();
    let mut i = 0;
    while i < lexed.len() {
        let joined = lexed.get(i + 1).is_some_and(|next| {
            is_number(&lexed[i])
                && is_number(next)
                && next.start == lexed[i].end + 1
                && chars.get(lexed[i].end) == Some(&'-')
        });
        if joined {
            found.push(chars[lexed[i].start..lexed[i + 1].end].iter().collect());
            i += 2;
        } else {
            out.push(lexed[i].clone());
            i += 1;
        }
    }
    (out, found)
}

/// Number words read as numbers, so that they take units and chains like
/// digits do: "ten by twenty by thirty mm", "six inches", "twenty-five
/// mm", "two hundred and fifty". "a", "an" and "single" stay words: they
/// only count ("a hole").
fn number_words(lexed: Vec<Lexed>) -> Vec<Lexed> {
    let value_at = |i: usize| -> Option<(u32, usize)> {
        match &lexed.get(i)?.token {
            Token::Word(w) if matches!(w.as_str(), "a" | "an" | "single") => None,
            Token::Word(_) => match lookup(&word_run(&lexed, i)) {
                Some((Meaning::NumberWord(n), used)) => Some((n, used)),
                _ => None,
            },
            _ => None,
        }
    };
    let is_word = |i: usize, word: &str| matches!(lexed.get(i).map(|l| &l.token), Some(Token::Word(w)) if w == word);
    let mut out = Vec::with_capacity(lexed.len());
    let mut i = 0;
    while i < lexed.len() {
        // "all four vertical edges", "four corners": a flag, not a number.
        let before_flag = |used: usize| matches!(lookup(&word_run(&lexed, i + used)), Some((Meaning::Flag(_), _)));
        let Some((mut n, mut used)) = value_at(i).filter(|&(_, used)| !before_flag(used)) else {
            out.push(lexed[i].clone());
            i += 1;
            continue;
        };
        // "two hundred [and] fifty"
        if n < 10 && is_word(i + used, "hundred") {
            n *= 100;
            used += 1;
            let and = usize::from(is_word(i + used, "and"));
            if let Some((m, u)) = value_at(i + used + and).filter(|(m, _)| *m < 100) {
                n += m;
                used += and + u;
            }
        }
        // "thirty five", "twenty-five"
        if n % 10 == 0 && (20..100).contains(&(n % 100)) {
            if let Some((m, u)) = value_at(i + used).filter(|(m, _)| *m < 10) {
                n += m;
                used += u;
            }
        }
        out.push(Lexed {
            token: Token::Number {
                value: f64::from(n),
                integral: true,
            },
            start: lexed[i].start,
            end: lexed[i + used - 1].end,
        });
        i += used;
    }
    out
}

/// Finds the number that counts each counted noun ("six 8 mm holes",
/// "4 x M6 holes", "20 teeth", "teeth 20") and folds it into the noun.
fn extract_counts(mut items: Vec<Item>) -> Vec<Item> {
    // "rounded … of radius 5", "chamfer size 2": the second keyword only
    // repeats the first.
    let mut j = 1;
    while j < items.len() {
        let repeats = matches!(
            (&items[j - 1], &items[j]),
            (Item::Key(Role::Fillet, _), Item::Key(Role::Radius, _))
        );
        if repeats {
            items.remove(j);
        } else {
            j += 1;
        }
    }
    let mut i = 0;
    while i < items.len() {
        if let Item::Count { what, plural } = items[i] {
            let found = count_before(&mut items, i, what, plural).or_else(|| count_after(&mut items, i, what));
            let (count, at) = match found {
                Some((n, at)) => (Some(n), at),
                // "a hole" is one hole; bare "holes" leaves the count open.
                None => ((!plural).then_some(1), i),
            };
            items[at] = Item::Counted { what, count };
            i = at + 1;
        } else {
            i += 1;
        }
    }
    // Number words that count nothing ("a 40 mm cube") carry no meaning.
    items.retain(|item| !matches!(item, Item::NumberWord(_)));
    items
}

/// Only teeth take their count after them: "holes 6" is a hole diameter.
fn count_after(items: &mut Vec<Item>, i: usize, what: Counted) -> Option<(u32, usize)> {
    let n = match (what, items.get(i + 1)?) {
        (Counted::Teeth, Item::Qty(q)) => q.as_count()?,
        (Counted::Teeth, Item::NumberWord(n)) => *n,
        _ => return None,
    };
    items.remove(i + 1);
    Some((n, i))
}

/// Looks back from the noun at `i` for its count; removes the count item and
/// returns it with the noun's new index.
fn count_before(items: &mut Vec<Item>, i: usize, what: Counted, plural: bool) -> Option<(u32, usize)> {
    let count_of = |item: &Item| match item {
        Item::NumberWord(n) => Some(*n),
        Item::Qty(q) => q.as_count(),
        _ => None,
    };
    let prev = i.checked_sub(1).map(|p| &items[p]);
    // "a 6 hole" is a 6 mm hole, not six of them.
    // "a 4 hole flange": a count, the noun used as an adjective.
    let adjectival = matches!(items.get(i + 1), Some(Item::Part(_)));
    let sized_singular = !plural
        && !adjectival
        && what == Counted::Holes
        && matches!(prev, Some(Item::Qty(q)) if q.as_count() != Some(1))
        && i >= 2
        && items[i - 2] == Item::NumberWord(1);
    if let Some(n) = prev.and_then(count_of).filter(|_| !sized_singular) {
        items.remove(i - 1);
        return Some((n, i - 1));
    }
    // "six 8 mm holes", "4 M6 holes": count, size, noun.
    let sized = matches!(prev, Some(Item::Qty(_) | Item::Thread(_)));
    if sized && what == Counted::Holes && i >= 2 {
        if let Some(n) = count_of(&items[i - 2]) {
            items.remove(i - 2);
            return Some((n, i - 1));
        }
    }
    // "4 x 6 mm holes", "4x Ø6 holes": a two-element chain led by a count.
    if let Some(Item::Chain(chain)) = prev {
        if let [first, size] = chain.as_slice() {
            if let (Some(n), Counted::Holes) = (first.as_count(), what) {
                items[i - 1] = Item::Qty(*size);
                return Some((n, i));
            }
        }
    }
    None
}

/// "an L-bracket of 6 mm plate", "an enclosure from 2 mm sheet": a number
/// right before a plate noun is the stock's thickness when the prompt names
/// another part, made from it, or gives the plate's outline as a chain of
/// two; else a plate is sized as usual ("a 100 mm square plate").
fn material_thickness(items: &[Item], pairs: &mut [Option<(Role, Side)>]) {
    let is_stock = |item: &Item| matches!(item, Item::Part(noun) if noun.family == Family::Plate);
    let other_part = items.iter().any(
        |item| matches!(item, Item::Part(noun) if !matches!(noun.family, Family::Plate | Family::Box | Family::Cube)),
    );
    // "a 3 mm plate 100 x 50": the outline is the chain, so the number is
    // the thickness.
    let outline = items
        .iter()
        .any(|item| matches!(item, Item::Chain(qs) if qs.len() == 2));
    if !other_part && !outline {
        return;
    }
    for i in 0..items.len().saturating_sub(1) {
        if matches!(items[i], Item::Qty(_)) && pairs[i].is_none() && is_stock(&items[i + 1]) {
            pairs[i] = Some((Role::Thickness, Side::Either));
        }
    }
}

/// Pairs each keyword with an adjacent quantity; returns, per item, the role
/// its quantity was given. A maximum matching over adjacent pairs decides
/// between "10 mm dia 100 mm long" (keywords after) and "diameter 10 height
/// 100" (keywords before); on a tie the earlier pair wins.
fn pair_keywords(items: &[Item]) -> Vec<Option<(Role, Side)>> {
    let n = items.len();
    let key = |item: &Item| match item {
        Item::Key(role, side) => Some((*role, *side)),
        Item::Counted {
            what: Counted::Holes, ..
        } => Some((Role::Hole, Side::Either)),
        _ => None,
    };
    let edge = |i: usize| -> Option<(usize, (Role, Side))> {
        let (a, b) = (items.get(i)?, items.get(i + 1)?);
        match (a, key(a), b, key(b)) {
            (Item::Qty(_), _, _, Some(role)) => Some((i, role)),
            // "extrude a 30 mm circle": a number right before a part noun sizes the part.
            (_, Some((role, Side::Either)), Item::Qty(_), _) if !matches!(items.get(i + 2), Some(Item::Part(_))) => {
                Some((i + 1, (role, Side::Either)))
            }
            _ => None,
        }
    };
    // best[i]: most pairs that can be made from items[i..].
    let mut best = vec![0usize; n + 2];
    for i in (0..n).rev() {
        let take = edge(i).map_or(0, |_| 1 + best[i + 2]);
        best[i] = take.max(best[i + 1]);
    }
    let mut roles = vec![None; n];
    let mut i = 0;
    // A number between a keyword and an adjective goes to the adjective when
    // both pairings make as many pairs: "holes 8 mm deep" is a depth.
    let adjective_next = |i: usize, qty: usize| {
        qty == i + 1
            && matches!(
                items.get(i + 2).and_then(key),
                Some((_, Side::After | Side::More | Side::Less))
            )
            && 1 + best[i + 2] == best[i + 1]
    };
    while i < n {
        match edge(i) {
            Some((qty, role)) if 1 + best[i + 2] >= best[i + 1] && !adjective_next(i, qty) => {
                roles[qty] = Some(role);
                i += 2;
            }
            _ => i += 1,
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(prompt: &str) -> Vec<(Option<Role>, f64)> {
        Facts::read(prompt)
            .facts
            .into_iter()
            .filter_map(|f| match f.value {
                Value::Length { role, mm } => Some((role, mm)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keywords_pair_on_whichever_side_fits_the_whole_prompt() {
        use Role::*;
        assert_eq!(
            roles("rod 10 mm dia 100 mm long"),
            vec![(Some(Diameter), 10.0), (Some(Length), 100.0)]
        );
        assert_eq!(
            roles("cylinder diameter 20 height 50"),
            vec![(Some(Diameter), 20.0), (Some(Height), 50.0)]
        );
        assert_eq!(
            roles("washer 20 mm outer 8.4 mm inner 2 mm thick"),
            vec![
                (Some(OuterDiameter), 20.0),
                (Some(InnerDiameter), 8.4),
                (Some(Thickness), 2.0)
            ]
        );
        assert_eq!(
            roles("pipe 1 in OD wall 2 mm 100 mm long"),
            vec![(Some(OuterDiameter), 25.4), (Some(Wall), 2.0), (Some(Length), 100.0)]
        );
        // Adjectives only follow their number; the comma ends a phrase.
        assert_eq!(roles("thick 5 mm"), vec![(None, 5.0)]);
        assert_eq!(roles("diameter, 20 mm"), vec![(None, 20.0)]);
        assert_eq!(roles("Ø6"), vec![(Some(Diameter), 6.0)]);
        assert_eq!(roles("d=20 h=5"), vec![(Some(Diameter), 20.0), (Some(Height), 5.0)]);
    }

    #[test]
    fn counts_attach_to_their_nouns() {
        let mut f = Facts::read("flange with six 8 mm holes");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(6)));
        assert_eq!(f.take(&[Role::Hole]), Some(8.0));

        let mut f = Facts::read("plate with 4 x M6 holes");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(4)));
        assert_eq!(f.take_thread(), Some(6.0));

        let mut f = Facts::read("plate with a 6 hole");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(1)));
        assert_eq!(f.take(&[Role::Hole]), Some(6.0));

        let mut f = Facts::read("gear teeth 20 module 2");
        assert_eq!(f.take_count(Counted::Teeth), Some(Some(20)));
        assert_eq!(f.take(&[Role::Module]), Some(2.0));

        let mut f = Facts::read("plate with holes");
        assert_eq!(f.take_count(Counted::Holes), Some(None));
    }

    #[test]
    fn bare_numbers_take_the_prompts_only_unit() {
        let mut f = Facts::read("box 2 by 3 by 4 cm");
        assert_eq!(f.take_chain(3), Some(vec![20.0, 30.0, 40.0]));
        assert_eq!(
            roles("cone top 1 height 2 in"),
            vec![(Some(Role::TopDiameter), 25.4), (Some(Role::Height), 50.8)]
        );
        // Mixed units: bare numbers are millimetres; modules always are.
        assert_eq!(
            roles("pipe 1 in od 20 long 3 cm"),
            vec![
                (Some(Role::OuterDiameter), 25.4),
                (Some(Role::Length), 20.0),
                (None, 30.0)
            ]
        );
        assert_eq!(
            roles("gear module 2 20 mm thick 1 in bore")[0],
            (Some(Role::Module), 2.0)
        );
    }

    #[test]
    fn number_words_are_numbers() {
        let mut f = Facts::read("a box ten by twenty by thirty mm");
        assert_eq!(f.take_chain(3), Some(vec![10.0, 20.0, 30.0]));
        assert_eq!(roles("a twenty-five mm cube"), vec![(None, 25.0)]);
        assert_eq!(
            roles("two hundred and fifty mm long"),
            vec![(Some(Role::Length), 250.0)]
        );
        assert_eq!(roles("six inches long"), vec![(Some(Role::Length), 152.4)]);
        let mut f = Facts::read("plate with a pair of 6 mm holes");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(2)));
        // Factors and flags that start with a number word stay what they are.
        assert_eq!(
            Facts::read("three times as long").factors,
            vec![(3.0, Some(Role::Length))]
        );
        let mut f = Facts::read("holes at the four corners");
        assert!(f.take_flag(Flag::Corners));
    }

    #[test]
    fn comparatives_threads_ranges_and_grids() {
        let mut f = Facts::read("make it 20 mm wider and 2 mm thinner");
        assert_eq!(f.take_change(Role::Width), Some(20.0));
        assert_eq!(f.take_change(Role::Thickness), Some(-2.0));
        assert_eq!(f.take(&[Role::Width]), None);
        // A thread or a range is neither a size nor a count.
        let mut f = Facts::read("a 1/4-20 tapped hole");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(1)));
        assert_eq!(f.leftovers(), vec!["\"1/4-20\"".to_string(), "tapped".to_string()]);
        let mut f = Facts::read("9 holes in a 3 x 3 grid");
        assert_eq!(f.take_grid(), Some((3, 3)));
        assert_eq!(f.take_count(Counted::Holes), Some(Some(9)));
        let mut f = Facts::read("a grid of 2 x 4 holes");
        assert_eq!(f.take_grid(), Some((2, 4)));
        assert_eq!(f.take_count(Counted::Holes), Some(None));
    }

    #[test]
    fn factors_by_times_and_percent() {
        assert_eq!(
            Facts::read("make it 2x longer").factors,
            vec![(2.0, Some(Role::Length))]
        );
        assert_eq!(
            Facts::read("3 times as thick").factors,
            vec![(3.0, Some(Role::Thickness))]
        );
        assert_eq!(Facts::read("50% longer").factors, vec![(1.5, Some(Role::Length))]);
        assert_eq!(Facts::read("20% thinner").factors, vec![(0.8, Some(Role::Thickness))]);
        // "4x M5 holes" is a count.
        let mut f = Facts::read("4x M5 holes");
        assert!(f.factors.is_empty());
        assert_eq!(f.take_count(Counted::Holes), Some(Some(4)));
    }

    #[test]
    fn unmade_features_are_named_not_dropped() {
        let f = Facts::read("plate with a slot and a keyway");
        assert_eq!(f.leftovers(), vec!["a slot".to_string(), "a keyway".to_string()]);
    }

    #[test]
    fn a_count_before_teeth_is_a_count() {
        let mut f = Facts::read("a 20 tooth gear");
        assert_eq!(f.take_count(Counted::Teeth), Some(Some(20)));
        // "a 4 hole flange" counts holes; "a 6 hole" is a 6 mm hole.
        let mut f = Facts::read("a 4 hole flange");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(4)));
        let mut f = Facts::read("plate with a 6 hole");
        assert_eq!(f.take_count(Counted::Holes), Some(Some(1)));
    }

    #[test]
    fn a_number_before_a_part_noun_sizes_the_part() {
        assert_eq!(roles("extrude a 30mm circle by 5mm"), vec![(None, 30.0), (None, 5.0)]);
        // An adjective wins a number between it and a keyword.
        assert_eq!(roles("holes 8 mm deep"), vec![(Some(Role::Depth), 8.0)]);
    }

    #[test]
    fn phrases_keep_hole_groups_and_rounded_corners_apart() {
        let f = Facts::read("with four 5 mm holes in the corners and a 20 mm hole in the centre");
        assert_eq!(f.hole_groups(), vec![1, 2]);
        // "the holes" without a count refers back to the group before.
        let f = Facts::read("with four holes at the corners, the holes 5 mm");
        assert_eq!(f.hole_groups().len(), 1);
        let mut f = Facts::read("with 4 holes at the corners and rounded corners 5 mm");
        assert!(f.has_hole_corners());
        assert!(f.take_hole_corners());
        assert!(f.has(Flag::Corners), "the rounded corners stay for the fillet");
        let mut f = Facts::read("plate with 5 mm radius corners");
        assert_eq!(f.take_edge_radius(), Some(5.0));
        assert!(!f.has_hole_corners());
    }

    #[test]
    fn tells_threads_from_metres_and_refuses_odd_units() {
        let mut f = Facts::read("M6 nut");
        assert_eq!(f.take_thread(), Some(6.0));
        assert_eq!(roles("rod 2 m long"), vec![(Some(Role::Length), 2000.0)]);
        assert_eq!(Facts::read("cube 3 km").unsupported_units, vec!["km".to_string()]);
    }

    #[test]
    fn reports_what_was_not_used() {
        let mut f = Facts::read("sphere radius 15 mm 20 mm wide at the corners");
        assert_eq!(f.take(&[Role::Radius]), Some(15.0));
        assert_eq!(
            f.leftovers(),
            vec!["20 mm (width)".to_string(), "at the corners".to_string()]
        );
    }
}
