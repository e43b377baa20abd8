//! Fastener-like parts sized from metric tables: the hex nut and the hex or
//! round standoff. The thread itself is not modelled: a nut's hole is the
//! nominal diameter, a standoff's hole the tap-drill diameter.

use crate::template::catalogue;
use crate::template::metric::{self, Metric};
use crate::template::script::{human, Script};
use crate::template::vocab::{Flag, Role};
use crate::template::{Generated, NotUnderstood};

use super::shapes::{circle_area, hexagon_area, hexagon_with_hole, ring};
use super::{Ctx, MIN_WEB_MM};

/// The metric size named in the prompt ("M8"), if any.
fn standard(cx: &mut Ctx) -> Result<Option<Metric>, NotUnderstood> {
    match cx.facts.take_thread() {
        Some(size) => metric::lookup(size).map(Some).ok_or_else(|| cx.unknown_thread(size)),
        None => Ok(None),
    }
}

fn thread_name(m: Option<Metric>) -> String {
    m.map_or(String::new(), |m| format!(" M{}", human(m.size)))
}

/// Hex nut: DIN 934 sizes for "M8", each overridable; or across flats,
/// thickness and hole given explicitly.
pub(crate) fn hex_nut(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
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
    cx.take_single_hole()?;
    let af = cx.need(af, "across-flats size (or an M size like M8)")?;
    let thickness = cx.need(thickness, "thickness")?;
    let hole = cx.need(hole, "hole diameter")?;
    cx.ensure(hole + 2.0 * MIN_WEB_MM <= af, || {
        format!(
            "A Ø{} mm hole does not fit in a {} mm across-flats hexagon.",
            human(hole),
            human(af)
        )
    })?;

    let mut s = Script::new(catalogue::HEX_NUT.name);
    s.length("ACROSS_FLATS", af, "wrench size")
        .length("THICKNESS", thickness, "along Z")
        .length("HOLE_DIAMETER", hole, "thread not modelled");
    hexagon_with_hole(&mut s, "ACROSS_FLATS", "THICKNESS", "HOLE_DIAMETER");
    let summary = cx.summary(format!(
        "Hex nut{}: {} mm across flats, {} mm thick, Ø{} mm hole",
        thread_name(std),
        human(af),
        human(thickness),
        human(hole)
    ));
    Ok(s.finish(summary, (hexagon_area(af) - circle_area(hole)) * thickness))
}

/// Standoff: hex unless a diameter is given or it is called round. An M
/// size gives the tap-drill hole and, for hex ones, the nut's
/// across-flats size.
pub(crate) fn standoff(cx: &mut Ctx) -> Result<Generated, NotUnderstood> {
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
    cx.take_single_hole()?;
    let length = cx.need(length, "length")?;
    let hole = cx.need(hole, "hole diameter (or an M size like M3)")?;

    let mut s = Script::new(catalogue::STANDOFF.name);
    let (outer, area, shape_text) = if is_round {
        let d = round.or(std.map(|m| m.nut_across_flats));
        let d = cx.need(d, "outer diameter")?;
        s.length("OUTER_DIAMETER", d, "");
        (
            d,
            circle_area(d),
            format!("Round{} standoff Ø{} mm", thread_name(std), human(d)),
        )
    } else {
        let af = cx.need(
            af.or(std.map(|m| m.nut_across_flats)),
            "across-flats size (or an M size)",
        )?;
        s.length("ACROSS_FLATS", af, "wrench size");
        (
            af,
            hexagon_area(af),
            format!("Hex{} standoff {} mm across flats", thread_name(std), human(af)),
        )
    };
    cx.ensure(hole + 2.0 * MIN_WEB_MM <= outer, || {
        format!(
            "A Ø{} mm hole does not fit in a {} mm standoff.",
            human(hole),
            human(outer)
        )
    })?;
    s.length("LENGTH", length, "along Z")
        .length("HOLE_DIAMETER", hole, "through hole");
    if is_round {
        ring(&mut s, "OUTER_DIAMETER", "HOLE_DIAMETER", "LENGTH");
    } else {
        hexagon_with_hole(&mut s, "ACROSS_FLATS", "LENGTH", "HOLE_DIAMETER");
    }
    let summary = cx.summary(format!(
        "{shape_text}, {} mm long, with a Ø{} mm through hole",
        human(length),
        human(hole)
    ));
    Ok(s.finish(summary, (area - circle_area(hole)) * length))
}
