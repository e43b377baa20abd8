//! File types recorded in `files`, and the model formats the worker exports.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ProjectSlug;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Input,
    /// The part spec of a version (`input/{slug}/{slug}_v{n}.json`).
    Spec,
    Output,
    Log,
    Processed,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Spec => "spec",
            Self::Output => "output",
            Self::Log => "log",
            Self::Processed => "processed",
        }
    }
}

impl FromStr for FileType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "input" => Ok(Self::Input),
            "spec" => Ok(Self::Spec),
            "output" => Ok(Self::Output),
            "log" => Ok(Self::Log),
            "processed" => Ok(Self::Processed),
            other => Err(format!(
                "unknown file type {other:?}; expected input, spec, output, log or processed"
            )),
        }
    }
}

/// A file of a built version: the model in one exchange format, or its
/// picture. The extension is exactly as it appears in the key
/// (`MyHeadlessModel.FCStd`); parsing from the API is case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum ModelFormat {
    #[serde(rename = "FCStd")]
    FcStd,
    #[serde(rename = "STEP")]
    Step,
    #[serde(rename = "STL")]
    Stl,
    #[serde(rename = "OBJ")]
    Obj,
    /// Binary glTF 2.0: one mesh, positions in metres as glTF defines them.
    #[serde(rename = "GLB")]
    Glb,
    /// 3D Manufacturing Format, in millimetres, for slicers.
    #[serde(rename = "3MF")]
    ThreeMf,
    /// The picture: an isometric, shaded view with its edges drawn, 512 ×
    /// 512 pixels over a transparent background, drawn by the worker from the
    /// STL (not exported by FreeCAD).
    #[serde(rename = "PNG")]
    Png,
}

impl ModelFormat {
    /// Every file a built version has.
    pub const ALL: [ModelFormat; 7] = [
        Self::FcStd,
        Self::Step,
        Self::Stl,
        Self::Obj,
        Self::Glb,
        Self::ThreeMf,
        Self::Png,
    ];

    /// The formats FreeCAD exports; the worker draws the rest (the picture)
    /// from them.
    pub const EXPORTED: [ModelFormat; 6] = [Self::FcStd, Self::Step, Self::Stl, Self::Obj, Self::Glb, Self::ThreeMf];

    /// Whether FreeCAD exports this format (else the worker draws it).
    pub fn is_exported(self) -> bool {
        Self::EXPORTED.contains(&self)
    }

    pub const fn extension(self) -> &'static str {
        match self {
            Self::FcStd => "FCStd",
            Self::Step => "STEP",
            Self::Stl => "STL",
            Self::Obj => "OBJ",
            Self::Glb => "GLB",
            Self::ThreeMf => "3MF",
            Self::Png => "PNG",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::FcStd => "application/vnd.freecad",
            Self::Step => "model/step",
            Self::Stl => "model/stl",
            Self::Obj => "model/obj",
            Self::Glb => "model/gltf-binary",
            Self::ThreeMf => "model/3mf",
            Self::Png => "image/png",
        }
    }

    /// Exact extension as written in keys.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }
}

impl fmt::Display for ModelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// The name a model carries inside its files: the STEP product, the label
/// of the FreeCAD document and of its part, the glTF node. Derived from the
/// project's name in printable ASCII, so any prompt's project (Japanese,
/// emoji, quotes) exports cleanly: a STEP string holds ASCII only, and the
/// name never needs escaping in one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelName(String);

impl ModelName {
    pub const MAX_LEN: usize = 64;

    /// Letters, digits and `- _ . ( ) + #` of the project's name are kept
    /// (`×` read as `x`), every other run of characters becomes one space,
    /// and the result is trimmed to [`Self::MAX_LEN`]. A name with no ASCII
    /// letter or digit left (a name all in Japanese) is the slug instead.
    pub fn derive(project_name: &str, slug: &ProjectSlug) -> Self {
        let mut out = String::new();
        let mut gap = false;
        for c in project_name.chars() {
            let c = if c == '×' { 'x' } else { c };
            if c.is_ascii_alphanumeric() || "-_.()+#".contains(c) {
                if gap && !out.is_empty() {
                    out.push(' ');
                }
                gap = false;
                out.push(c);
            } else {
                gap = true;
            }
            if out.len() >= Self::MAX_LEN {
                break;
            }
        }
        out.truncate(Self::MAX_LEN);
        let name = out.trim_end();
        if name.chars().any(|c| c.is_ascii_alphanumeric()) {
            Self(name.to_owned())
        } else {
            Self(slug.as_str().to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ModelFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.extension()).collect();
                format!("unknown format {s:?}; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_printable_ascii_from_the_project_name() {
        let slug = ProjectSlug::parse("project-7").unwrap();
        let name = |s: &str| ModelName::derive(s, &slug).to_string();
        assert_eq!(name("Mounting plate 40 × 20"), "Mounting plate 40 x 20");
        assert_eq!(name("  a 'quoted'\\ name\n"), "a quoted name");
        assert_eq!(name("取付板 40mm"), "40mm");
        assert_eq!(name("取付板"), "project-7");
        assert_eq!(name("🚀✨"), "project-7");
        assert_eq!(name("flange (DN50) #2"), "flange (DN50) #2");
        let long = name(&"gear ".repeat(40));
        assert!(long.len() <= ModelName::MAX_LEN && !long.ends_with(' '), "{long:?}");
        for s in ["é", "a\u{200b}b", "x'y", "\u{0}z"] {
            assert!(name(s).chars().all(|c| c.is_ascii_graphic() || c == ' '), "{s:?}");
        }
    }

    #[test]
    fn the_picture_is_a_file_of_every_version_but_not_an_export() {
        assert!(ModelFormat::ALL.contains(&ModelFormat::Png));
        assert!(!ModelFormat::Png.is_exported());
        assert_eq!("png".parse::<ModelFormat>(), Ok(ModelFormat::Png));
        assert_eq!(ModelFormat::from_extension("PNG"), Some(ModelFormat::Png));
        assert!(ModelFormat::EXPORTED
            .iter()
            .all(|f| ModelFormat::ALL.contains(f) && f.is_exported()));
    }
}
