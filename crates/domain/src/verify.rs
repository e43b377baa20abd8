//! Verification: what a generator promises about the model it asked for
//! ([`Expectations`]), and the comparison of those promises with what the
//! worker measured ([`Verification`]).
//!
//! The expectations travel with the job from the generator to the output
//! watcher; the watcher completes a job only when every check passes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::messages::ModelMetrics;

/// Default relative volume tolerance (0.5 %).
pub const VOLUME_TOLERANCE: f64 = 0.005;
/// Default bounding-box tolerance per extent, in mm.
pub const BBOX_TOLERANCE_MM: f64 = 0.05;

/// What the built model must measure. Produced by the part-spec compiler
/// (exact where the volume is analytic, with a stated tolerance where it is
/// computed, e.g. fillets or gears), or extracted from a prompt as
/// requirements for a raw script (then only some fields are known).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Expectations {
    /// Expected volume in mm³.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mm3: Option<f64>,
    /// Relative tolerance of the volume check (0.005 = 0.5 %).
    #[serde(default = "default_volume_tolerance")]
    pub volume_tolerance: f64,
    /// Extents of the bounding box along x, y and z, in mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox_mm: Option<[f64; 3]>,
    /// Tolerance of each extent, in mm.
    #[serde(default = "default_bbox_tolerance")]
    pub bbox_tolerance_mm: f64,
    /// Number of solids (normally 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solids: Option<u32>,
    /// Number of through holes (the genus of the solid), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_holes: Option<u32>,
    /// Compare the bounding box's extents sorted, whatever the axes: set for
    /// requirements read from a prompt, which a script may meet with the
    /// part built in any orientation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orientation_free: bool,
}

fn default_volume_tolerance() -> f64 {
    VOLUME_TOLERANCE
}

fn default_bbox_tolerance() -> f64 {
    BBOX_TOLERANCE_MM
}

impl Default for Expectations {
    fn default() -> Self {
        Self {
            volume_mm3: None,
            volume_tolerance: VOLUME_TOLERANCE,
            bbox_mm: None,
            bbox_tolerance_mm: BBOX_TOLERANCE_MM,
            solids: None,
            through_holes: None,
            orientation_free: false,
        }
    }
}

/// One comparison of an expectation with a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// `valid_solid`, `solids`, `volume`, `bbox_x`, `bbox_y`, `bbox_z` (or
    /// `bbox_smallest`, `bbox_middle`, `bbox_largest` when orientation-free),
    /// `through_holes`.
    pub name: String,
    /// The expected value, as a person reads it ("44 108 mm³ ± 0.5 %").
    pub expected: String,
    /// What the worker measured.
    pub measured: String,
    pub passed: bool,
}

/// The outcome of comparing a built model with its expectations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    pub checks: Vec<Check>,
    pub passed: bool,
}

impl Verification {
    /// Compares `metrics` with `expected`. A closed, valid single solid is
    /// always checked; the other checks run where an expectation exists.
    pub fn of(expected: &Expectations, metrics: &ModelMetrics) -> Self {
        let mut checks = vec![Check {
            name: "valid_solid".into(),
            expected: "a valid closed solid".into(),
            measured: if metrics.valid {
                "valid".into()
            } else {
                "invalid or open".into()
            },
            passed: metrics.valid && metrics.volume > 0.0,
        }];
        let solids = expected.solids.unwrap_or(1);
        checks.push(Check {
            name: "solids".into(),
            expected: solids.to_string(),
            measured: metrics.solids.to_string(),
            passed: metrics.solids == solids,
        });
        if let Some(volume) = expected.volume_mm3 {
            let tolerance = expected.volume_tolerance.max(0.0);
            let passed = (metrics.volume - volume).abs() <= tolerance * volume.abs().max(1e-9);
            checks.push(Check {
                name: "volume".into(),
                expected: format!("{} mm³ ± {}", grouped(volume), percent(tolerance)),
                measured: format!("{} mm³", grouped(metrics.volume)),
                passed,
            });
        }
        if let Some(extents) = expected.bbox_mm {
            let b = metrics.bounding_box;
            let mut measured = [b[3] - b[0], b[4] - b[1], b[5] - b[2]];
            let mut extents = extents;
            let axes = if expected.orientation_free {
                // Smallest to largest on both sides: a part built lying on
                // another face measures the same.
                extents.sort_by(f64::total_cmp);
                measured.sort_by(f64::total_cmp);
                ["smallest", "middle", "largest"]
            } else {
                ["x", "y", "z"]
            };
            for (axis, (want, got)) in axes.iter().zip(extents.iter().zip(measured)) {
                checks.push(Check {
                    name: format!("bbox_{axis}"),
                    expected: format!("{} mm ± {}", short(*want), short(expected.bbox_tolerance_mm)),
                    measured: format!("{} mm", short(got)),
                    passed: (got - want).abs() <= expected.bbox_tolerance_mm,
                });
            }
        }
        if let (Some(want), Some(got)) = (expected.through_holes, metrics.through_holes) {
            checks.push(Check {
                name: "through_holes".into(),
                expected: want.to_string(),
                measured: got.to_string(),
                passed: want == got,
            });
        }
        let passed = checks.iter().all(|c| c.passed);
        Self { checks, passed }
    }

    /// The failed checks in one line, for errors and repair prompts.
    /// A failed verification as a diagnosis: an invalid solid (or more
    /// than one) when that check failed, a mismatch of sizes otherwise.
    pub fn diagnosis(&self) -> crate::Diagnosis {
        use crate::FailureClass;
        let shape = self
            .checks
            .iter()
            .any(|c| !c.passed && (c.name == "valid_solid" || c.name == "solids"));
        let class = if shape {
            FailureClass::InvalidSolid
        } else {
            FailureClass::Verification
        };
        crate::Diagnosis::new(class, self.failures())
    }

    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: expected {}, measured {}", c.name, c.expected, c.measured))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One line for people: "Verified · volume 44 108 mm³ ✓ · 80 × 80 × 10 mm ✓".
    pub fn summary(&self, metrics: &ModelMetrics) -> String {
        let mark = |ok: bool| if ok { "✓" } else { "✗" };
        let head = if self.passed { "Verified" } else { "Verification failed" };
        let mut parts = vec![head.to_string()];
        if let Some(v) = self.checks.iter().find(|c| c.name == "volume") {
            parts.push(format!("volume {} mm³ {}", grouped(metrics.volume), mark(v.passed)));
        }
        let boxes: Vec<&Check> = self.checks.iter().filter(|c| c.name.starts_with("bbox_")).collect();
        if !boxes.is_empty() {
            let b = metrics.bounding_box;
            parts.push(format!(
                "{} × {} × {} mm {}",
                short(b[3] - b[0]),
                short(b[4] - b[1]),
                short(b[5] - b[2]),
                mark(boxes.iter().all(|c| c.passed))
            ));
        }
        if let Some(h) = self.checks.iter().find(|c| c.name == "through_holes") {
            parts.push(format!("{} through holes {}", h.measured, mark(h.passed)));
        }
        parts.join(" · ")
    }
}

/// 44108.3 → "44 108" (thin-space free grouping by plain spaces).
fn grouped(v: f64) -> String {
    let rounded = v.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if rounded < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// 10.0 → "10", 12.345 → "12.35".
fn short(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn percent(tolerance: f64) -> String {
    format!("{} %", short(tolerance * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(volume: f64, extents: [f64; 3]) -> ModelMetrics {
        ModelMetrics {
            volume,
            surface_area: 0.0,
            bounding_box: [0.0, 0.0, 0.0, extents[0], extents[1], extents[2]],
            solids: 1,
            valid: true,
            through_holes: Some(1),
            center_of_mass: None,
            inertia: None,
        }
    }

    #[test]
    fn a_matching_model_passes_every_check() {
        let e = Expectations {
            volume_mm3: Some(44_108.0),
            bbox_mm: Some([80.0, 80.0, 10.0]),
            through_holes: Some(1),
            ..Expectations::default()
        };
        let v = Verification::of(&e, &metrics(44_150.0, [80.0, 80.02, 10.0]));
        assert!(v.passed, "{v:?}");
        assert_eq!(v.checks.len(), 7);
        assert_eq!(
            v.summary(&metrics(44_108.0, [80.0, 80.0, 10.0])),
            "Verified · volume 44 108 mm³ ✓ · 80 × 80 × 10 mm ✓ · 1 through holes ✓"
        );
    }

    #[test]
    fn volume_and_extent_outside_tolerance_fail_and_are_named() {
        let e = Expectations {
            volume_mm3: Some(1000.0),
            bbox_mm: Some([10.0, 10.0, 10.0]),
            ..Expectations::default()
        };
        let v = Verification::of(&e, &metrics(1006.0, [10.0, 10.0, 10.1]));
        assert!(!v.passed);
        let failures = v.failures();
        assert!(failures.contains("volume"), "{failures}");
        assert!(failures.contains("bbox_z"), "{failures}");
        assert!(!failures.contains("bbox_x"), "{failures}");
    }

    #[test]
    fn orientation_free_extents_are_compared_sorted() {
        let mut e = Expectations {
            bbox_mm: Some([40.0, 20.0, 10.0]),
            ..Expectations::default()
        };
        let standing = metrics(1000.0, [10.0, 40.0, 20.0]);
        assert!(!Verification::of(&e, &standing).passed);
        e.orientation_free = true;
        let v = Verification::of(&e, &standing);
        assert!(v.passed, "{v:?}");
        assert!(v.checks.iter().any(|c| c.name == "bbox_largest"), "{v:?}");
        let wrong = Verification::of(&e, &metrics(1000.0, [10.0, 40.0, 25.0]));
        assert!(wrong.failures().contains("bbox_middle"), "{}", wrong.failures());
    }

    #[test]
    fn an_invalid_solid_never_passes() {
        let mut m = metrics(1000.0, [10.0, 10.0, 10.0]);
        m.valid = false;
        let v = Verification::of(&Expectations::default(), &m);
        assert!(!v.passed);
    }
}
