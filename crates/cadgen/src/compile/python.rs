//! Emission of the FreeCAD script: the header, the named parameters (as
//! constants and as the `Parameters` spreadsheet a person can read in
//! desktop FreeCAD), the geometry and the footer that puts exactly one
//! solid into the active document.

use domain::spec::{Parameter, ParameterKind};

/// A float literal Python reads back exactly (`8.0`, `25.4`).
pub fn py(value: f64) -> String {
    // Normalise -0.0 and round away binary noise from unit conversions.
    let v = (value * 1e9).round() / 1e9;
    let v = if v == 0.0 { 0.0 } else { v };
    format!("{v:?}")
}

/// Geometry code under construction.
pub struct Script {
    constants: Vec<String>,
    body: Vec<String>,
}

impl Script {
    pub fn new() -> Self {
        Script {
            constants: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A constant the geometry code refers to by name.
    pub fn constant(&mut self, name: &str, value: f64, what: &str) {
        self.constants.push(format!("{name} = {}  # {what}", py(value)));
    }

    /// A whole-number constant.
    pub fn count(&mut self, name: &str, value: u32, what: &str) {
        self.constants.push(format!("{name} = {value}  # {what}"));
    }

    /// Appends geometry code; `shape` must hold the part at the end.
    pub fn line(&mut self, code: &str) {
        self.body.push(code.trim_matches('\n').to_string());
    }

    pub fn render(&self, part: &str, description: &str, params: &[Parameter]) -> String {
        let body = self.body.join("\n");
        let constants = self.constants.join("\n");
        let uses = |s: &str| body.contains(s) || constants.contains(s);
        let mut imports = String::new();
        if uses("math.") {
            imports.push_str("import math\n\n");
        }
        imports.push_str("import FreeCAD as App\nimport Part\nfrom FreeCAD import Vector\n");
        let rows: Vec<String> = params
            .iter()
            .map(|p| {
                let unit = match p.kind {
                    ParameterKind::Length | ParameterKind::Position => "mm",
                    ParameterKind::Angle => "deg",
                    ParameterKind::Count => "",
                };
                format!("    ({:?}, {}, {:?}, {:?}),", p.name, py(p.value), unit, p.label)
            })
            .collect();
        let object = object_name(part);
        let summary = one_line(description);
        let constants = if constants.is_empty() {
            String::new()
        } else {
            format!("{constants}\n\n")
        };
        format!(
            "# CADScribe part: {part}\n\
             # {summary}\n\
             #\n\
             # FreeCAD script, units in millimetres, compiled from the part spec. The\n\
             # named dimensions are listed in the \"Parameters\" spreadsheet; the\n\
             # result is one solid named \"{object}\".\n\
             \n\
             {imports}\n\
             doc = App.ActiveDocument or App.newDocument(\"Model\")\n\
             \n\
             # --- Parameters: (name, value, unit, label) ---\n\
             PARAMETERS = [\n{rows}\n]\n\
             sheet = doc.addObject(\"Spreadsheet::Sheet\", \"Parameters\")\n\
             for row, (name, value, unit, label) in enumerate(PARAMETERS, start=1):\n    \
                 sheet.set(\"A%d\" % row, label)\n    \
                 sheet.set(\"B%d\" % row, (\"%s %s\" % (value, unit)).strip())\n    \
                 sheet.setAlias(\"B%d\" % row, name)\n\
             \n\
             # --- Geometry ---\n\
             {constants}{body}\n\
             \n\
             # --- Result: exactly one solid in the active document ---\n\
             if len(shape.Solids) != 1:\n    \
                 raise ValueError(\"expected one solid, got %d\" % len(shape.Solids))\n\
             doc.addObject(\"Part::Feature\", \"{object}\").Shape = shape.Solids[0]\n\
             doc.recompute()\n",
            rows = rows.join("\n"),
        )
    }
}

/// `plate_with_holes` → `PlateWithHoles`.
fn object_name(part: &str) -> String {
    let name: String = part
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("Part{name}")
    } else {
        name
    }
}

fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_names() {
        assert_eq!(py(8.0), "8.0");
        assert_eq!(py(25.4), "25.4");
        assert_eq!(py(-0.0), "0.0");
        assert_eq!(py(6.3500000000000005), "6.35");
        assert_eq!(object_name("plate_with_holes"), "PlateWithHoles");
        assert_eq!(object_name("l-bracket"), "LBracket");
    }
}
