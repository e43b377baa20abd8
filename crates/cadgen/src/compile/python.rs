//! Emission of the FreeCAD script: the header, the named parameters (the
//! `Parameters` spreadsheet a person can edit in desktop FreeCAD), the
//! model as parametric document objects whose properties are expressions on
//! the spreadsheet's aliases, and the footer that checks exactly one solid
//! is left at the top of the document.

use std::collections::{BTreeMap, BTreeSet};

use domain::spec::{Parameter, ParameterKind};

use super::expr::X;

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
    /// Aliases some property's expression reads.
    drivers: BTreeSet<String>,
    /// Python names given so far, for unique ones.
    names: BTreeMap<String, u32>,
    /// What the spreadsheet cannot change, for its note cell.
    fixed: Vec<String>,
}

impl Script {
    pub fn new() -> Self {
        Script {
            constants: Vec::new(),
            body: Vec::new(),
            drivers: BTreeSet::new(),
            names: BTreeMap::new(),
            fixed: Vec::new(),
        }
    }

    /// Adds a document object; returns the Python variable holding it.
    pub fn object(&mut self, type_id: &str, name: &str) -> String {
        let n = self.names.entry(name.to_string()).or_insert(0);
        *n += 1;
        let mut var = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                var.push('_');
            }
            var.push(c.to_ascii_lowercase());
        }
        if *n > 1 {
            var = format!("{var}_{n}");
        }
        self.line(&format!("{var} = doc.addObject({type_id:?}, {name:?})"));
        var
    }

    /// Sets a numeric property, bound to the spreadsheet when `x` is.
    pub fn set(&mut self, var: &str, property: &str, x: &X) {
        self.line(&format!("{var}.{property} = {}", py(x.value)));
        self.bind(var, property, x);
    }

    fn bind(&mut self, var: &str, path: &str, x: &X) {
        if x.is_bound() {
            self.line(&format!("{var}.setExpression({path:?}, {:?})", x.text()));
            self.drivers.extend(x.names().iter().cloned());
        }
    }

    /// Places an object at `base`, turned by `rotation` (a Python
    /// `App.Rotation`) if given; each bound coordinate follows the
    /// spreadsheet.
    pub fn place(&mut self, var: &str, base: &[X; 3], rotation: Option<&str>) {
        let at = format!(
            "Vector({}, {}, {})",
            py(base[0].value),
            py(base[1].value),
            py(base[2].value)
        );
        match rotation {
            Some(r) => self.line(&format!("{var}.Placement = App.Placement({at}, {r})")),
            None if base.iter().all(|x| !x.is_bound() && x.value == 0.0) => return,
            None => self.line(&format!("{var}.Placement.Base = {at}")),
        }
        for (axis, x) in ["x", "y", "z"].iter().zip(base) {
            self.bind(var, &format!("Placement.Base.{axis}"), x);
        }
    }

    /// Binds a path such as `Placement.Rotation.Angle` to an expression
    /// over the spreadsheet's aliases.
    pub fn expression(&mut self, var: &str, path: &str, expression: &str, names: &[&str]) {
        self.line(&format!("{var}.setExpression({path:?}, {expression:?})"));
        self.drivers.extend(names.iter().map(|n| n.to_string()));
    }

    /// Records something the spreadsheet does not change, for its note.
    pub fn fixed(&mut self, what: &str) {
        if !self.fixed.iter().any(|f| f == what) {
            self.fixed.push(what.to_string());
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

    /// The whole script; `result` is the variable of the object holding
    /// the finished part.
    pub fn render(&self, part: &str, description: &str, params: &[Parameter], result: &str) -> String {
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
                let role = if self.drivers.contains(&p.name) {
                    DRIVES
                } else {
                    RECORDED
                };
                format!(
                    "    ({:?}, {}, {:?}, {:?}, {role:?}),",
                    p.name,
                    py(p.value),
                    unit,
                    p.label
                )
            })
            .collect();
        let mut note = String::from(
            "Cells marked \"drives the model\" are bound to the features: change one and recompute. \
             Cells marked \"recorded only\" do not move the model; change them through CADScribe.",
        );
        if params.iter().any(|p| p.kind == ParameterKind::Position) {
            note.push_str(" Type a negative value with an equals sign: =-5 mm.");
        }
        if !self.fixed.is_empty() {
            note.push_str(&format!(" Fixed in this model: {}.", self.fixed.join("; ")));
        }
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
             # named dimensions are in the \"Parameters\" spreadsheet and the features\n\
             # are document objects whose dimensions are expressions on its cells:\n\
             # edit a cell in FreeCAD and recompute. The result is one solid labelled\n\
             # \"{object}\".\n\
             \n\
             {imports}\n\
             doc = App.ActiveDocument or App.newDocument(\"Model\")\n\
             \n\
             # --- Parameters: (name, value, unit, label, role) ---\n\
             PARAMETERS = [\n{rows}\n]\n\
             sheet = doc.addObject(\"Spreadsheet::Sheet\", \"Parameters\")\n\
             for row, (name, value, unit, label, role) in enumerate(PARAMETERS, start=1):\n    \
                 sheet.set(\"A%d\" % row, label)\n    \
                 # FreeCAD reads \"-5 mm\" as text, \"=-5 mm\" as a length.\n    \
                 sheet.set(\"B%d\" % row, (\"=\" if value < 0 else \"\") + (\"%s %s\" % (value, unit)).strip())\n    \
                 sheet.setAlias(\"B%d\" % row, name)\n    \
                 sheet.set(\"C%d\" % row, role)\n\
             sheet.set(\"A%d\" % (len(PARAMETERS) + 2), \"Note\")\n\
             sheet.set(\"B%d\" % (len(PARAMETERS) + 2), {note:?})\n\
             doc.recompute()\n\
             \n\
             # --- Geometry ---\n\
             {constants}{body}\n\
             \n\
             # --- Result: exactly one solid at the top of the document ---\n\
             doc.recompute()\n\
             {result}.Label = \"{object}\"\n\
             if \"Invalid\" in {result}.State or {result}.Shape.isNull():\n    \
                 raise ValueError(\"FreeCAD could not build the model: %s\" % {result}.State)\n\
             if len({result}.Shape.Solids) != 1:\n    \
                 raise ValueError(\"expected one solid, got %d\" % len({result}.Shape.Solids))\n",
            rows = rows.join("\n"),
        )
    }
}

/// The spreadsheet's third column: whether a cell moves the model.
const DRIVES: &str = "drives the model";
const RECORDED: &str = "recorded only";

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
