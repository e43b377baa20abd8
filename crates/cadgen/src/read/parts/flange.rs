//! Round flange: a disc with bolt holes evenly spaced on a bolt circle and
//! an optional centre bore.

use domain::spec::{Axis, Base, Feature, PartSpec, Positions};

use super::{Ctx, Face};
use crate::read::vocab::{Counted, Role};
use crate::NotUnderstood;

/// Flange thickness when the prompt gives none.
const DEFAULT_THICKNESS_MM: f64 = 10.0;

/// Bolt holes when the prompt mentions none or gives no count.
const DEFAULT_HOLE_COUNT: u32 = 4;

pub(crate) fn flange(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let f = &mut *cx.facts;
    let outer = f
        .take_diameter(
            &[Role::OuterDiameter, Role::Diameter],
            &[Role::OuterRadius, Role::Radius],
        )
        .or_else(|| f.take(&[Role::Width]))
        .or_else(|| f.take_bare());
    let mut thickness = f.take(&[Role::Thickness, Role::Height, Role::Length]);
    // "cylinder 50 x 10 with 6 holes on a 35 mm bolt circle": diameter × thickness.
    let outer = match (outer, thickness) {
        (None, None) => match f.take_chain(2) {
            Some(c) => {
                thickness = Some(c[1]);
                Some(c[0])
            }
            None => None,
        },
        _ => outer,
    };
    let bore = f.take_diameter(&[Role::Bore, Role::InnerDiameter], &[Role::InnerRadius]);
    let outer = cx.need(outer, "outer diameter")?;
    let thickness = cx.or_default(thickness, DEFAULT_THICKNESS_MM, "thickness")?;
    // "with a 20 mm hole through the centre and 4 M5 holes on a 45 mm bolt
    // circle": each group of holes in its own phrase, read as on any disc.
    if bore.is_none() && cx.facts.hole_groups().len() > 1 {
        let mut spec = PartSpec::new(
            "flange",
            Base::Cylinder {
                diameter: outer,
                height: thickness,
            },
        );
        spec.features
            .extend(cx.all_holes(Face::Round { d: outer }, "bolt_hole")?);
        return Ok(spec);
    }
    let circle = cx.facts.take(&[Role::BoltCircle]);
    let bore = bore.map(|b| cx.need(Some(b), "bore")).transpose()?;
    let count = match cx.facts.take_count(Counted::Holes) {
        Some(Some(n)) => n,
        _ => {
            cx.defaults.push(format!("{DEFAULT_HOLE_COUNT} holes"));
            DEFAULT_HOLE_COUNT
        }
    };
    let d = cx.hole_diameter(false)?;
    let circle = cx.or_default(circle, (outer + bore.unwrap_or(0.0)) / 2.0, "bolt circle")?;
    let mut spec = PartSpec::new(
        "flange",
        Base::Cylinder {
            diameter: outer,
            height: thickness,
        },
    );
    if let Some(b) = bore {
        spec.features.push(Feature::Hole {
            name: "bore".into(),
            diameter: b,
            depth: None,
            counterbore: None,
            axis: Axis::Z,
            at: Positions::Points {
                points: vec![[0.0, 0.0]],
            },
        });
    }
    spec.features.push(Feature::Hole {
        name: "bolt_hole".into(),
        diameter: d,
        depth: None,
        counterbore: None,
        axis: Axis::Z,
        at: Positions::Circular {
            center: [0.0, 0.0],
            diameter: circle,
            count,
            start_angle_deg: 0.0,
        },
    });
    Ok(spec)
}
