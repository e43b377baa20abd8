//! Fastener-like parts sized from metric tables: the hex nut and the hex or
//! round standoff. The thread itself is not modelled: a nut's hole is the
//! nominal diameter, a standoff's hole the tap-drill diameter.

use domain::spec::{Axis, Base, Feature, PartSpec, Positions};

use super::Ctx;
use crate::compile::human;
use crate::read::metric::{self, Metric};
use crate::read::parts::round::single_hole;
use crate::read::vocab::{Flag, Role};
use crate::NotUnderstood;

/// The metric size named in the prompt ("M8"), if any.
fn standard(cx: &mut Ctx) -> Result<Option<Metric>, NotUnderstood> {
    match cx.facts.take_thread() {
        Some(size) => metric::lookup(size).map(Some).ok_or_else(|| cx.unknown_thread(size)),
        None => Ok(None),
    }
}

fn centre_hole(d: f64) -> Feature {
    Feature::Hole {
        name: "hole".into(),
        diameter: d,
        depth: None,
        counterbore: None,
        axis: Axis::Z,
        at: Positions::Points {
            points: vec![[0.0, 0.0]],
        },
    }
}

/// Hex nut: DIN 934 sizes for "M8", each overridable; or across flats,
/// thickness and hole given explicitly.
pub(crate) fn hex_nut(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    cx.facts.take_flag(Flag::Hex);
    let std = standard(cx)?;
    let f = &mut *cx.facts;
    let af = f.take(&[Role::AcrossFlats]).or(std.map(|m| m.nut_across_flats));
    let thickness = f.take(&[Role::Thickness, Role::Height]).or(std.map(|m| m.nut_height));
    let hole = f
        .take_diameter(
            &[Role::Hole, Role::Bore, Role::InnerDiameter, Role::Diameter],
            &[Role::InnerRadius],
        )
        .or(std.map(|m| m.size));
    single_hole(cx)?;
    let af = cx.need(af, "across-flats size (or an M size like M8)")?;
    let thickness = cx.need(thickness, "thickness")?;
    let hole = cx.need(hole, "hole diameter")?;
    let mut spec = PartSpec::new(
        "hex_nut",
        Base::Prism {
            sides: 6,
            across_flats: af,
            height: thickness,
        },
    );
    spec.features.push(centre_hole(hole));
    Ok(spec)
}

/// Standoff: hex unless a diameter is given or it is called round. An M
/// size gives the tap-drill hole and, for hex ones, the nut's
/// across-flats size.
pub(crate) fn standoff(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let std = standard(cx)?;
    let f = &mut *cx.facts;
    let length = f.take(&[Role::Height, Role::Length]).or_else(|| f.take_bare());
    let hole = f
        .take_diameter(&[Role::Hole, Role::Bore, Role::InnerDiameter], &[Role::InnerRadius])
        .or(std.map(|m| m.tap_drill));
    let af = f.take(&[Role::AcrossFlats]);
    let round = f.take_diameter(
        &[Role::Diameter, Role::OuterDiameter],
        &[Role::Radius, Role::OuterRadius],
    );
    let said_hex = cx.facts.take_flag(Flag::Hex);
    let said_round = cx.facts.take_flag(Flag::Round);
    let both = (said_hex || af.is_some()) && (said_round || round.is_some());
    cx.ensure(!both, || {
        "A standoff is either hex (across flats) or round (diameter), not both.".into()
    })?;
    let is_round = !said_hex && af.is_none() && (round.is_some() || said_round);
    single_hole(cx)?;
    let length = cx.need(length, "length")?;
    let hole = cx.need(hole, "hole diameter (or an M size like M3)")?;
    let base = if is_round {
        let d = cx.need(round.or(std.map(|m| m.nut_across_flats)), "outer diameter")?;
        cx.ensure(hole < d, || {
            format!(
                "A Ø{} mm hole does not fit in a Ø{} mm standoff.",
                human(hole),
                human(d)
            )
        })?;
        Base::Cylinder {
            diameter: d,
            height: length,
        }
    } else {
        let af = cx.need(
            af.or(std.map(|m| m.nut_across_flats)),
            "across-flats size (or an M size)",
        )?;
        Base::Prism {
            sides: 6,
            across_flats: af,
            height: length,
        }
    };
    let mut spec = PartSpec::new("standoff", base);
    spec.features.push(centre_hole(hole));
    Ok(spec)
}
