//! FreeCAD script emission shared by every part generator: the comment
//! header, the named parameter constants, the geometry body and the footer
//! that puts exactly one solid into the active document.
//!
//! Parameters are recorded once here and feed both the script text and
//! [`Generated::parameters`](super::Generated::parameters), so the two can
//! never disagree.

use std::collections::BTreeMap;

use super::Generated;

/// A script under construction for one catalogue part.
pub(crate) struct Script {
    part: &'static str,
    params: Vec<(&'static str, String, String)>,
    values: BTreeMap<String, f64>,
    body: Vec<String>,
}

impl Script {
    pub fn new(part: &'static str) -> Self {
        Script {
            part,
            params: Vec::new(),
            values: BTreeMap::new(),
            body: Vec::new(),
        }
    }

    /// A length constant in millimetres.
    pub fn length(&mut self, name: &'static str, mm: f64, what: &str) -> &mut Self {
        self.values.insert(name.to_lowercase(), mm);
        let comment = if what.is_empty() {
            "mm".to_string()
        } else {
            format!("{what}, mm")
        };
        self.params.push((name, python_float(mm), comment));
        self
    }

    /// A whole-number constant (counts).
    pub fn count(&mut self, name: &'static str, n: u32, what: &str) -> &mut Self {
        self.values.insert(name.to_lowercase(), f64::from(n));
        self.params.push((name, n.to_string(), what.to_string()));
        self
    }

    /// A dimensionless constant such as an angle in degrees.
    pub fn number(&mut self, name: &'static str, value: f64, what: &str) -> &mut Self {
        self.values.insert(name.to_lowercase(), value);
        self.params.push((name, python_float(value), what.to_string()));
        self
    }

    /// A constant whose value is a Python expression (e.g. a point list);
    /// it is not a scalar, so it is not reported in the parameter map.
    pub fn expression(&mut self, name: &'static str, python: String, what: &str) -> &mut Self {
        self.params.push((name, python, what.to_string()));
        self
    }

    /// Appends geometry code; `shape` must hold the part at the end.
    pub fn body(&mut self, code: &str) -> &mut Self {
        self.body.push(code.trim_matches('\n').to_string());
        self
    }

    /// Renders the script and packages the result.
    pub fn finish(&self, summary: String, expected_volume_mm3: f64) -> Generated {
        let object = object_name(self.part);
        let body = self.body.join("\n\n");
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, value, what)| format!("{name} = {value}  # {what}"))
            .collect();
        let params = params.join("\n");
        let uses = |s: &str| body.contains(s) || params.contains(s);

        let mut imports = Vec::new();
        if uses("math.") {
            imports.push("import math\n\n");
        }
        imports.push("import FreeCAD as App\nimport Part");
        if uses("Vector(") {
            imports.push("\nfrom FreeCAD import Vector");
        }
        let summary_line = one_line(&summary);
        let script = format!(
            "# CADScribe part template: {part}\n\
             # {summary_line}\n\
             #\n\
             # FreeCAD script, units in millimetres. Edit the parameters below to\n\
             # change the part; the result is one solid named \"{object}\".\n\
             \n\
             {imports}\n\
             \n\
             # --- Parameters ---\n\
             {params}\n\
             \n\
             # --- Geometry ---\n\
             {body}\n\
             \n\
             # --- Result: exactly one solid in the active document ---\n\
             if len(shape.Solids) != 1:\n    \
                 raise ValueError(\"expected one solid, got %d\" % len(shape.Solids))\n\
             doc = App.ActiveDocument or App.newDocument(\"Model\")\n\
             doc.addObject(\"Part::Feature\", \"{object}\").Shape = shape.Solids[0]\n\
             doc.recompute()\n",
            part = self.part,
            imports = imports.concat(),
        );
        Generated {
            part: self.part,
            parameters: self.values.clone(),
            script,
            expected_volume_mm3,
            summary,
        }
    }
}

/// `plate_with_holes` → `PlateWithHoles`.
fn object_name(part: &str) -> String {
    part.split('_')
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        })
        .collect()
}

fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A float literal Python reads back exactly (`8.0`, `25.4`).
pub(crate) fn python_float(value: f64) -> String {
    format!("{value:?}")
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

/// `[40, 20, 10]` → `40 × 20 × 10 mm`.
pub(crate) fn dims(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| human(*v)).collect();
    format!("{} mm", parts.join(" × "))
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

/// Appends the defaults that were filled in, so the user sees every guess.
pub(crate) fn with_defaults(summary: String, defaults: &[String]) -> String {
    if defaults.is_empty() {
        summary
    } else {
        format!("{summary} (defaults: {})", defaults.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(human(6.0), "6");
        assert_eq!(human(8.4), "8.4");
        assert_eq!(human(1.0 / 3.0), "0.333");
        assert_eq!(python_float(8.0), "8.0");
        assert_eq!(python_float(25.4), "25.4");
        assert_eq!(dims(&[40.0, 20.0, 10.0]), "40 × 20 × 10 mm");
        assert_eq!(counted(1, "hole", "holes"), "one hole");
        assert_eq!(counted(24, "hole", "holes"), "24 holes");
        assert_eq!(object_name("plate_with_holes"), "PlateWithHoles");
    }
}
