//! Part generators: choosing the catalogue part for a prompt, and the
//! context every generator uses to take dimensions, fill documented
//! defaults and refuse what it cannot build.

mod bracket;
mod flange;
mod gear;
mod hex;
mod prism;
mod round;
mod shapes;

use super::catalogue::{self, CatalogueEntry};
use super::prompt::Facts;
use super::script::human;
use super::vocab::{Counted, Family, Flag, PartNoun, Role};
use super::{Generated, NotUnderstood};

/// Minimum material left between holes, and between a hole and an edge, so
/// that the generated solid never has zero-thickness walls.
pub(crate) const MIN_WEB_MM: f64 = 0.5;

/// Hole diameter used when a prompt counts holes but gives no size: the
/// ISO 273 medium clearance hole for an M5 screw.
pub(crate) const DEFAULT_HOLE_DIAMETER_MM: f64 = 5.5;

/// Picks the part: the most specific noun wins (a "gear" beats a "disc"),
/// and a box or cylinder turns into its holed or hollow variant when the
/// prompt asks for holes, walls or a bore.
pub(crate) fn detect(facts: &Facts) -> Option<PartNoun> {
    const PRIORITY: [Family; 14] = [
        Family::Gear,
        Family::Nut,
        Family::Standoff,
        Family::Flange,
        Family::Washer,
        Family::Bracket,
        Family::Enclosure,
        Family::Tube,
        Family::Cone,
        Family::Sphere,
        Family::Cylinder,
        Family::Plate,
        Family::Cube,
        Family::Box,
    ];
    let noun = PRIORITY
        .iter()
        .find_map(|family| facts.parts.iter().find(|n| n.family == *family))
        .copied()?;
    let walls = facts.has_role(&[Role::Wall, Role::Floor]) || facts.has(Flag::Open);
    let family = match noun.family {
        Family::Box | Family::Plate | Family::Cube if walls => Family::Enclosure,
        Family::Cylinder if facts.has_role(&[Role::BoltCircle]) => Family::Flange,
        Family::Cylinder if walls || facts.has_role(&[Role::InnerDiameter, Role::InnerRadius]) => Family::Tube,
        other => other,
    };
    Some(PartNoun { family, ..noun })
}

/// Runs the generator for `noun`; returns its output and catalogue entry.
pub(crate) fn build(noun: PartNoun, facts: &mut Facts) -> Result<(Generated, &'static CatalogueEntry), NotUnderstood> {
    let holes = facts.mentions(Counted::Holes) || facts.has(Flag::Corners);
    let entry: &'static CatalogueEntry = match noun.family {
        Family::Box | Family::Plate | Family::Cube if holes => &catalogue::PLATE_WITH_HOLES,
        Family::Box | Family::Plate | Family::Cube => &catalogue::BOX,
        Family::Cylinder => &catalogue::CYLINDER,
        Family::Tube => &catalogue::TUBE,
        Family::Sphere => &catalogue::SPHERE,
        Family::Cone => &catalogue::CONE,
        Family::Washer => &catalogue::WASHER,
        Family::Flange => &catalogue::FLANGE,
        Family::Bracket => &catalogue::L_BRACKET,
        Family::Gear => &catalogue::SPUR_GEAR,
        Family::Nut => &catalogue::HEX_NUT,
        Family::Standoff => &catalogue::STANDOFF,
        Family::Enclosure => &catalogue::ENCLOSURE,
    };
    let mut cx = Ctx {
        facts,
        noun,
        entry,
        defaults: Vec::new(),
    };
    let generated = match entry.name {
        "plate_with_holes" => prism::plate_with_holes(&mut cx),
        "box" => prism::block(&mut cx),
        "enclosure" => prism::enclosure(&mut cx),
        "cylinder" => round::cylinder(&mut cx),
        "tube" => round::tube(&mut cx),
        "sphere" => round::sphere(&mut cx),
        "cone" => round::cone(&mut cx),
        "washer" => round::washer(&mut cx),
        "flange" => flange::flange(&mut cx),
        "l_bracket" => bracket::l_bracket(&mut cx),
        "spur_gear" => gear::spur_gear(&mut cx),
        "hex_nut" => hex::hex_nut(&mut cx),
        _ => hex::standoff(&mut cx),
    }?;
    Ok((generated, entry))
}

/// What a part generator works with.
pub(crate) struct Ctx<'a> {
    pub facts: &'a mut Facts,
    /// The noun as the user wrote it ("Rod", "Plate"), for the summary.
    pub noun: PartNoun,
    pub entry: &'static CatalogueEntry,
    /// Defaults filled in so far, e.g. "thickness 10 mm".
    pub defaults: Vec<String>,
}

impl Ctx<'_> {
    /// A refusal for this part with the given reason.
    pub fn refuse(&self, reason: impl Into<String>) -> NotUnderstood {
        NotUnderstood {
            reason: reason.into(),
            part: Some(self.entry.name),
        }
    }

    /// A required dimension: must be present and positive.
    pub fn need(&self, value: Option<f64>, what: &str) -> Result<f64, NotUnderstood> {
        match value {
            Some(v) if v > 0.0 => Ok(v),
            Some(v) => Err(self.refuse(format!("The {what} must be positive, not {} mm.", human(v)))),
            None => Err(self.refuse(format!(
                "A {} needs its {what}; for example: \"{}\".",
                self.entry.name.replace('_', " "),
                self.entry.example
            ))),
        }
    }

    /// An optional dimension with a documented default, recorded for the summary.
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

    /// The number of holes: given, or `default` when holes are mentioned
    /// (or implied) without a count. `None` when there are none.
    pub fn hole_count(&mut self, default: u32, max: u32) -> Result<Option<u32>, NotUnderstood> {
        let count = match self.facts.take_count(Counted::Holes) {
            None => return Ok(None),
            Some(Some(n)) => n,
            Some(None) => {
                self.defaults.push(format!("{default} holes"));
                default
            }
        };
        self.ensure(count <= max, || {
            format!("At most {max} holes are supported, not {count}.")
        })?;
        Ok(Some(count))
    }

    /// The hole diameter: "6 mm holes", "Ø6", an M size (clearance hole),
    /// else the documented default.
    pub fn hole_diameter(&mut self) -> Result<f64, NotUnderstood> {
        if let Some(d) = self.facts.take(&[Role::Hole]) {
            return self.need(Some(d), "hole diameter");
        }
        if let Some(size) = self.facts.take_thread() {
            let metric = super::metric::lookup(size).ok_or_else(|| self.unknown_thread(size))?;
            return Ok(metric.clearance);
        }
        let d = self.facts.take(&[Role::Diameter]);
        self.or_default(d, DEFAULT_HOLE_DIAMETER_MM, "hole diameter")
    }

    /// Parts with one centre hole accept "a hole" / "an 8 mm hole"; any
    /// other hole count is refused rather than ignored.
    pub fn take_single_hole(&mut self) -> Result<(), NotUnderstood> {
        match self.facts.take_count(Counted::Holes) {
            None | Some(None | Some(1)) => Ok(()),
            Some(Some(n)) => Err(self.refuse(format!(
                "A {} has one centre hole, not {n}.",
                self.entry.name.replace('_', " ")
            ))),
        }
    }

    pub fn unknown_thread(&self, size: f64) -> NotUnderstood {
        self.refuse(format!(
            "M{} is not a metric size I know; I know {}.",
            human(size),
            super::metric::known_sizes()
        ))
    }

    /// The summary with the defaults used appended.
    pub fn summary(&self, text: String) -> String {
        super::script::with_defaults(text, &self.defaults)
    }
}
