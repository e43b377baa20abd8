//! Numbers that may follow the `Parameters` spreadsheet: a value for the
//! compiler's own checks and, when a spec parameter determines it, the
//! FreeCAD expression that recomputes it from the spreadsheet's aliases.
//!
//! The compiler builds each dimension of a document object as an [`X`]:
//! from a named cell ([`X::cell`]) or a literal ([`X::mm`], [`X::num`]),
//! combined with sums and constant factors. A property whose number is
//! bound gets `setExpression`, so changing the cell in desktop FreeCAD and
//! recomputing rebuilds the part as the compiler would from the edited spec.

use super::python::py;

/// The spreadsheet object every expression refers to.
pub const SHEET: &str = "Parameters";

/// A length (mm) or a plain number, literal or bound to spreadsheet cells.
#[derive(Debug, Clone, PartialEq)]
pub struct X {
    pub value: f64,
    /// FreeCAD expression; `None` for a literal.
    expr: Option<String>,
    /// Millimetres, else a plain number (counts, factors).
    length: bool,
    /// The expression is a sum or difference at the top.
    sum: bool,
    /// Aliases the expression reads.
    names: Vec<String>,
}

impl X {
    pub fn mm(value: f64) -> X {
        X {
            value,
            expr: None,
            length: true,
            sum: false,
            names: Vec::new(),
        }
    }

    pub fn num(value: f64) -> X {
        X {
            length: false,
            ..X::mm(value)
        }
    }

    /// The cell aliased `name` holding `value`.
    pub fn cell(name: &str, value: f64, length: bool) -> X {
        X {
            value,
            expr: Some(format!("{SHEET}.{name}")),
            length,
            sum: false,
            names: vec![name.to_string()],
        }
    }

    pub fn is_bound(&self) -> bool {
        self.expr.is_some()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The expression, literals with their unit (`5.0 mm`).
    pub fn text(&self) -> String {
        match &self.expr {
            Some(e) => e.clone(),
            None if self.length => format!("{} mm", py(self.value)),
            None => py(self.value),
        }
    }

    fn operand(&self) -> String {
        if self.sum || (self.expr.is_none() && self.value < 0.0) {
            format!("({})", self.text())
        } else {
            self.text()
        }
    }

    fn joined(&self, other: &X, value: f64, expr: String) -> X {
        let mut names = self.names.clone();
        names.extend(other.names.iter().filter(|n| !self.names.contains(n)).cloned());
        X {
            value,
            expr: Some(expr),
            length: self.length,
            sum: true,
            names,
        }
    }

    pub fn plus(&self, other: &X) -> X {
        let value = self.value + other.value;
        match (self.is_bound(), other.is_bound()) {
            (false, false) => X { value, ..self.clone() },
            (true, false) if other.value == 0.0 => X { value, ..self.clone() },
            (false, true) if self.value == 0.0 => X { value, ..other.clone() },
            (true, false) if other.value < 0.0 => {
                let e = format!(
                    "{} - {}",
                    self.text(),
                    X::mm(-other.value).with_unit(other.length).text()
                );
                self.joined(other, value, e)
            }
            _ => match other.text().strip_prefix('-') {
                // `a + -k * b` reads as `a - k * b`.
                Some(rest) if other.is_bound() && !other.sum => {
                    self.joined(other, value, format!("{} - {rest}", self.text()))
                }
                _ => self.joined(other, value, format!("{} + {}", self.text(), other.text())),
            },
        }
    }

    pub fn minus(&self, other: &X) -> X {
        if !other.is_bound() {
            return self.plus(&X {
                value: -other.value,
                ..other.clone()
            });
        }
        let value = self.value - other.value;
        if !self.is_bound() && self.value == 0.0 {
            return other.times(-1.0);
        }
        self.joined(other, value, format!("{} - {}", self.text(), other.operand()))
    }

    /// Adds a literal length.
    pub fn plus_mm(&self, mm: f64) -> X {
        self.plus(&X::mm(mm))
    }

    /// Multiplies by a constant.
    pub fn times(&self, k: f64) -> X {
        // cos 90° is 6e-17, not 0: such a factor leaves a plain zero.
        if k.abs() < 1e-12 {
            return X {
                value: 0.0,
                expr: None,
                sum: false,
                names: Vec::new(),
                ..self.clone()
            };
        }
        let value = self.value * k;
        if !self.is_bound() {
            return X { value, ..self.clone() };
        }
        if k == 1.0 {
            return self.clone();
        }
        let expr = if k == -1.0 {
            format!("-{}", self.operand())
        } else {
            // Full precision: a factor such as cos 45° must not be rounded.
            format!("{k:?} * {}", self.operand())
        };
        X {
            value,
            expr: Some(expr),
            sum: false,
            ..self.clone()
        }
    }

    fn with_unit(self, length: bool) -> X {
        X { length, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_1_SQRT_2;

    #[test]
    fn literals_stay_literal_and_cells_make_expressions() {
        let h = X::cell("height", 10.0, true);
        assert_eq!(X::mm(2.0).plus_mm(3.0), X::mm(5.0));
        assert_eq!(h.plus_mm(2.0).text(), "Parameters.height + 2.0 mm");
        assert_eq!(h.plus_mm(-1.0).text(), "Parameters.height - 1.0 mm");
        assert_eq!(X::mm(0.0).plus(&h).text(), "Parameters.height");
        let d = X::cell("hole_diameter", 6.0, true);
        assert_eq!(d.times(0.5).text(), "0.5 * Parameters.hole_diameter");
        let w = X::cell("shell_wall", 2.0, true);
        let inner = X::cell("length", 100.0, true).minus(&w.times(2.0));
        assert_eq!(inner.text(), "Parameters.length - 2.0 * Parameters.shell_wall");
        assert_eq!(inner.value, 96.0);
        assert_eq!(inner.names(), ["length", "shell_wall"]);
        assert_eq!(
            h.minus(&h.plus_mm(1.0)).text(),
            "Parameters.height - (Parameters.height + 1.0 mm)"
        );
        assert_eq!(
            X::mm(3.0).minus(&h).times(2.0).text(),
            "2.0 * (3.0 mm - Parameters.height)"
        );
        assert_eq!(X::num(4.0).text(), "4.0");
        let circle = X::cell("circle_diameter", 95.0, true);
        let x = X::mm(0.0).plus(&circle.times(-0.5));
        assert_eq!(x.text(), "-0.5 * Parameters.circle_diameter");
        let x = X::cell("circle_x", 0.0, true).plus(&circle.times(-0.5));
        assert_eq!(x.text(), "Parameters.circle_x - 0.5 * Parameters.circle_diameter");
        let y = X::cell("circle_y", 0.0, true).plus(&circle.times(1e-17));
        assert_eq!(y.text(), "Parameters.circle_y");
        assert_eq!(
            circle.times(FRAC_1_SQRT_2 / 2.0).text(),
            "0.3535533905932738 * Parameters.circle_diameter"
        );
    }
}
