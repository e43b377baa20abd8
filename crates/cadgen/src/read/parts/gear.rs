//! Involute spur gear from module (or pitch diameter) and teeth, with a
//! thickness and an optional bore.

use domain::spec::{Axis, Base, Feature, PartSpec, Positions};

use super::Ctx;
use crate::compile::{DEFAULT_FACE_WIDTH_MODULES, MAX_TEETH, MIN_TEETH};
use crate::read::parts::round::single_hole;
use crate::read::vocab::{Counted, Role};
use crate::NotUnderstood;

pub(crate) fn spur_gear(cx: &mut Ctx) -> Result<PartSpec, NotUnderstood> {
    let teeth = cx.facts.take_count(Counted::Teeth).flatten();
    let teeth = teeth.ok_or_else(|| cx.refuse("A spur gear needs its number of teeth, e.g. \"20 teeth\"."))?;
    cx.ensure((MIN_TEETH..=MAX_TEETH).contains(&teeth), || {
        format!("I make gears with {MIN_TEETH} to {MAX_TEETH} teeth, not {teeth}.")
    })?;
    let f = &mut *cx.facts;
    let module = f
        .take(&[Role::Module])
        .or_else(|| f.take(&[Role::PitchDiameter]).map(|d| d / f64::from(teeth)))
        // "m1", "m2": the usual shorthand for a gear's module.
        .or_else(|| f.take_thread());
    let thickness = f.take(&[Role::Thickness, Role::Height, Role::Length, Role::Width]);
    let bore = f.take_diameter(&[Role::Bore, Role::Hole, Role::InnerDiameter], &[Role::InnerRadius]);
    single_hole(cx)?;
    let module = cx.need(module, "module (or pitch diameter)")?;
    let thickness = cx.or_default(thickness, DEFAULT_FACE_WIDTH_MODULES * module, "thickness")?;
    let mut spec = PartSpec::new(
        "spur_gear",
        Base::SpurGear {
            module,
            teeth,
            thickness,
        },
    );
    if let Some(b) = bore {
        spec.features.push(Feature::Hole {
            name: "bore".into(),
            diameter: cx.need(Some(b), "bore")?,
            depth: None,
            counterbore: None,
            axis: Axis::Z,
            at: Positions::Points {
                points: vec![[0.0, 0.0]],
            },
        });
    }
    Ok(spec)
}
