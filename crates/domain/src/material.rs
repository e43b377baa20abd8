//! What a part is made of, and so what it weighs.
//!
//! A project may name its [`Material`]; the mass of each of its models is
//! then the measured volume times the material's density. A project without
//! one shows no mass at all: a guessed default would print a number that
//! looks measured and is not.
//!
//! Densities are typical values at room temperature, in g/cm³:
//!
//! | material | key | g/cm³ | taken as |
//! | --- | --- | --- | --- |
//! | Steel | `steel` | 7.85 | carbon steel (S235, 1018) |
//! | Stainless steel | `stainless_steel` | 7.93 | 304 / 1.4301 |
//! | Aluminium | `aluminium` | 2.70 | 6061 / 6082 |
//! | Brass | `brass` | 8.50 | CuZn37 / C27200 |
//! | Titanium | `titanium` | 4.43 | Ti-6Al-4V (grade 5) |
//! | PLA | `pla` | 1.24 | solid, as printed at 100 % infill |
//! | ABS | `abs` | 1.04 | solid |
//! | PETG | `petg` | 1.27 | solid |
//! | Nylon | `nylon` | 1.14 | PA6 / PA66 |
//! | Wood | `wood` | 0.70 | a medium hardwood, dry (varies 0.4–0.9) |
//!
//! A printed part with less than full infill weighs less than this says.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A material from the density table, named by its key (`"pla"`,
/// `"stainless_steel"`…) in the API and in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Material {
    Steel,
    StainlessSteel,
    Aluminium,
    Brass,
    Titanium,
    Pla,
    Abs,
    Petg,
    Nylon,
    Wood,
}

impl Material {
    /// Every material, in the order of the table above.
    pub const ALL: [Material; 10] = [
        Material::Steel,
        Material::StainlessSteel,
        Material::Aluminium,
        Material::Brass,
        Material::Titanium,
        Material::Pla,
        Material::Abs,
        Material::Petg,
        Material::Nylon,
        Material::Wood,
    ];

    /// The key the API and the database use.
    pub fn key(self) -> &'static str {
        match self {
            Material::Steel => "steel",
            Material::StainlessSteel => "stainless_steel",
            Material::Aluminium => "aluminium",
            Material::Brass => "brass",
            Material::Titanium => "titanium",
            Material::Pla => "pla",
            Material::Abs => "abs",
            Material::Petg => "petg",
            Material::Nylon => "nylon",
            Material::Wood => "wood",
        }
    }

    /// What a person reads.
    pub fn name(self) -> &'static str {
        match self {
            Material::Steel => "Steel",
            Material::StainlessSteel => "Stainless steel",
            Material::Aluminium => "Aluminium",
            Material::Brass => "Brass",
            Material::Titanium => "Titanium",
            Material::Pla => "PLA",
            Material::Abs => "ABS",
            Material::Petg => "PETG",
            Material::Nylon => "Nylon",
            Material::Wood => "Wood",
        }
    }

    /// Density in g/cm³.
    pub fn density_g_cm3(self) -> f64 {
        match self {
            Material::Steel => 7.85,
            Material::StainlessSteel => 7.93,
            Material::Aluminium => 2.70,
            Material::Brass => 8.50,
            Material::Titanium => 4.43,
            Material::Pla => 1.24,
            Material::Abs => 1.04,
            Material::Petg => 1.27,
            Material::Nylon => 1.14,
            Material::Wood => 0.70,
        }
    }

    /// The mass in grams of `volume_mm3` of this material
    /// (1 cm³ = 1000 mm³).
    pub fn mass_g(self, volume_mm3: f64) -> f64 {
        volume_mm3 * self.density_g_cm3() / 1000.0
    }
}

impl fmt::Display for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A name that is not in the density table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown material {given:?}; expected one of {}", valid_keys())]
pub struct UnknownMaterial {
    pub given: String,
}

fn valid_keys() -> String {
    Material::ALL.map(Material::key).join(", ")
}

impl FromStr for Material {
    type Err = UnknownMaterial;

    /// The key, case and surrounding space aside (`"PLA"`, `" pla "`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Material::ALL
            .into_iter()
            .find(|m| m.key() == wanted)
            .ok_or_else(|| UnknownMaterial { given: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_material_reads_back_from_its_key_and_its_serde_name() {
        for m in Material::ALL {
            assert_eq!(m.key().parse::<Material>(), Ok(m));
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(m.key()));
            assert_eq!(m.to_string(), m.key());
        }
        assert_eq!(" PLA ".parse::<Material>(), Ok(Material::Pla));
    }

    #[test]
    fn densities_are_the_documented_ones() {
        let table: Vec<(&str, f64)> = Material::ALL.iter().map(|m| (m.name(), m.density_g_cm3())).collect();
        assert_eq!(
            table,
            [
                ("Steel", 7.85),
                ("Stainless steel", 7.93),
                ("Aluminium", 2.70),
                ("Brass", 8.50),
                ("Titanium", 4.43),
                ("PLA", 1.24),
                ("ABS", 1.04),
                ("PETG", 1.27),
                ("Nylon", 1.14),
                ("Wood", 0.70),
            ]
        );
        // Metals sink, plastics barely, wood floats.
        assert!(Material::ALL.iter().all(|m| m.density_g_cm3() > 0.0));
        assert!(Material::Wood.density_g_cm3() < 1.0);
    }

    #[test]
    fn mass_is_volume_times_density() {
        // A 10 mm steel cube: 1 cm³ of steel.
        assert!((Material::Steel.mass_g(1000.0) - 7.85).abs() < 1e-12);
        // 40 × 20 × 10 mm of aluminium: 8 cm³.
        assert!((Material::Aluminium.mass_g(8000.0) - 21.6).abs() < 1e-12);
        assert_eq!(Material::Pla.mass_g(0.0), 0.0);
    }

    #[test]
    fn an_unknown_material_names_every_valid_one() {
        let err = "unobtainium".parse::<Material>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"unobtainium\""), "{text}");
        for m in Material::ALL {
            assert!(text.contains(m.key()), "{text} lacks {}", m.key());
        }
        assert!("".parse::<Material>().is_err());
    }
}
