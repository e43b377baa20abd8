//! The parts the prompt reader knows by name, with one example prompt each;
//! shown to users when a prompt is not understood.

/// One catalogue part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// Value of [`Generated::part`](crate::Generated::part).
    pub name: &'static str,
    /// What the part is and which words select it.
    pub description: &'static str,
    /// A prompt that produces it.
    pub example: &'static str,
}

const fn entry(name: &'static str, description: &'static str, example: &'static str) -> CatalogueEntry {
    CatalogueEntry {
        name,
        description,
        example,
    }
}

pub(crate) const BOX: CatalogueEntry = entry(
    "box",
    "box, block, cube or plate (length × width × height)",
    "box 2 by 3 by 4 cm",
);
pub(crate) const PLATE_WITH_HOLES: CatalogueEntry = entry(
    "plate",
    "plate with holes in a row, at the corners, at the centre or at given (x, y) points",
    "plate 100 x 50 x 5 mm with 4 holes 6 mm at the corners",
);
pub(crate) const CYLINDER: CatalogueEntry = entry(
    "cylinder",
    "cylinder, rod, shaft or disc",
    "cylinder diameter 20mm height 50mm",
);
pub(crate) const TUBE: CatalogueEntry = entry(
    "tube",
    "tube or pipe (outer diameter with inner diameter or wall)",
    "tube outer diameter 30 mm inner diameter 24 mm length 80 mm",
);
pub(crate) const RECT_TUBE: CatalogueEntry = entry(
    "rect_tube",
    "rectangular or square tube (box section): outside width × height, wall, length",
    "rectangular tube 40 x 20 mm, 2 mm wall, 500 mm long",
);
pub(crate) const SPHERE: CatalogueEntry = entry("sphere", "sphere or ball", "sphere radius 15 mm");
pub(crate) const CONE: CatalogueEntry = entry(
    "cone",
    "cone or frustum (bottom and top diameter, height)",
    "cone bottom diameter 40 top diameter 10 height 30 mm",
);
pub(crate) const WASHER: CatalogueEntry = entry(
    "washer",
    "flat washer or ring (or an ISO 7089 size like M8)",
    "washer 20 mm outer 8.4 mm inner 2 mm thick",
);
pub(crate) const FLANGE: CatalogueEntry = entry(
    "flange",
    "round flange with bolt holes on a bolt circle and an optional centre bore",
    "a flange 80 mm across with six 8 mm holes on a 60 mm bolt circle",
);
pub(crate) const L_BRACKET: CatalogueEntry = entry(
    "l_bracket",
    "L-bracket (length × height × width, or legs, width and thickness) with holes in its legs",
    "L-bracket 50 x 40 x 30 mm 5 mm thick with 2 holes 5 mm",
);
pub(crate) const SPUR_GEAR: CatalogueEntry = entry(
    "spur_gear",
    "involute spur gear (module, teeth, thickness, bore)",
    "spur gear module 2 with 20 teeth 10 mm thick bore 8 mm",
);
pub(crate) const HEX_NUT: CatalogueEntry = entry(
    "hex_nut",
    "hex nut (M size, or across flats, thickness and hole)",
    "M8 hex nut",
);
pub(crate) const STANDOFF: CatalogueEntry = entry(
    "standoff",
    "hex or round standoff with a through hole",
    "standoff 20 mm tall 6 mm diameter M3",
);
pub(crate) const ENCLOSURE: CatalogueEntry = entry(
    "enclosure",
    "open-top enclosure or open box with a wall thickness",
    "enclosure 100 x 60 x 40 mm wall 2 mm",
);

pub(crate) const TORUS: CatalogueEntry = entry(
    "torus",
    "torus (ring diameter through the tube's centre, tube diameter)",
    "torus ring diameter 60 mm tube diameter 10 mm",
);
pub(crate) const PRISM: CatalogueEntry = entry(
    "prism",
    "regular prism (hexagonal, pentagonal, octagonal, square) by across flats and length",
    "hexagonal prism 20 mm across flats 40 mm long",
);
pub(crate) const PROFILE: CatalogueEntry = entry(
    "u_channel",
    "triangular, trapezoidal, L, T or U (channel) profile: width × height × length, thickness",
    "u channel 40 x 30 x 200 mm 3 mm thick",
);

/// Every part [`generate`](super::generate) knows by name.
pub const CATALOGUE: &[CatalogueEntry] = &[
    BOX,
    PLATE_WITH_HOLES,
    CYLINDER,
    TUBE,
    RECT_TUBE,
    SPHERE,
    CONE,
    WASHER,
    FLANGE,
    L_BRACKET,
    SPUR_GEAR,
    HEX_NUT,
    STANDOFF,
    ENCLOSURE,
    TORUS,
    PRISM,
    PROFILE,
];

/// The example prompt of a part, for "needs its …" messages.
pub(crate) fn example_for(part: &str) -> &'static str {
    CATALOGUE
        .iter()
        .find(|e| e.name == part)
        .map_or(BOX.example, |e| e.example)
}

/// The catalogue as a short list for error messages.
pub(crate) fn help() -> String {
    let mut text = String::from("I can make these parts (lengths in mm, cm, m or inches):");
    for e in CATALOGUE {
        text.push_str(&format!("\n  - {}: {} — e.g. \"{}\"", e.name, e.description, e.example));
    }
    text.push_str(
        "\nwith features: holes (through, blind \"8 mm deep\", counterbored) in a row, at the corners, \
         at the centre, on a bolt circle or at (x, y) points; fillets and chamfers on the vertical, top, \
         bottom or all edges; hollow with a wall — e.g. \"a 40 x 20 x 10 mm block with a 6 mm hole \
         through its centre and its vertical edges rounded 2 mm\". Sketch-and-extrude steps work too: \
         \"sketch a rectangle 75 by 50 mm, extrude it 20 mm, cut a circle of diameter 12 mm at the centre \
         through the block\".",
    );
    text
}
