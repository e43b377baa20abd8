//! File types recorded in `files`, and the model formats the worker exports.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// An exported model format. The extension is exactly as it appears in the
/// key (`MyHeadlessModel.FCStd`); parsing from the API is case-insensitive.
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
}

impl ModelFormat {
    pub const ALL: [ModelFormat; 6] = [Self::FcStd, Self::Step, Self::Stl, Self::Obj, Self::Glb, Self::ThreeMf];

    pub const fn extension(self) -> &'static str {
        match self {
            Self::FcStd => "FCStd",
            Self::Step => "STEP",
            Self::Stl => "STL",
            Self::Obj => "OBJ",
            Self::Glb => "GLB",
            Self::ThreeMf => "3MF",
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
