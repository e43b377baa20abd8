//! The words the prompt reader knows: units, part nouns, dimension keywords,
//! count nouns, number words and flags, as one longest-match phrase table.
//!
//! Keeping every word in one table (instead of string tests scattered over
//! the part generators) is what lets all parts share the same reader.

/// A length unit; bare numbers default to millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Unit {
    Mm,
    Cm,
    M,
    In,
    Ft,
}

impl Unit {
    pub fn to_mm(self, value: f64) -> f64 {
        let factor = match self {
            Unit::Mm => 1.0,
            Unit::Cm => 10.0,
            Unit::M => 1000.0,
            Unit::In => 25.4,
            Unit::Ft => 304.8,
        };
        value * factor
    }

    pub fn from_word(word: &str) -> Option<Unit> {
        Some(match word {
            "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => Unit::Mm,
            "cm" | "centimeter" | "centimeters" | "centimetre" | "centimetres" => Unit::Cm,
            "m" | "meter" | "meters" | "metre" | "metres" => Unit::M,
            "in" | "inch" | "inches" => Unit::In,
            "ft" | "foot" | "feet" => Unit::Ft,
            _ => return None,
        })
    }
}

/// Units people use that the generator does not: a number followed by one
/// of these is refused rather than silently read as millimetres.
pub(crate) fn is_unsupported_unit(word: &str) -> bool {
    matches!(
        word,
        "km" | "kilometer"
            | "kilometers"
            | "kilometre"
            | "kilometres"
            | "dm"
            | "um"
            | "µm"
            | "μm"
            | "micron"
            | "microns"
            | "micrometer"
            | "micrometers"
            | "micrometre"
            | "micrometres"
            | "nm"
            | "yd"
            | "yard"
            | "yards"
            | "mil"
            | "mils"
            | "thou"
    )
}

/// What a length means in the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Diameter,
    Radius,
    OuterDiameter,
    OuterRadius,
    InnerDiameter,
    InnerRadius,
    TopDiameter,
    TopRadius,
    BottomDiameter,
    BottomRadius,
    Length,
    Width,
    Height,
    Depth,
    Thickness,
    Wall,
    Floor,
    /// Edge of a cube.
    Size,
    /// Diameter of the (patterned) holes.
    Hole,
    /// Centre hole of a flange or gear.
    Bore,
    BoltCircle,
    AcrossFlats,
    Module,
    PitchDiameter,
    /// Distance of corner holes from the plate edges.
    Inset,
    /// Radius of rounded edges.
    Fillet,
    /// Size of chamfered edges.
    Chamfer,
    /// Diameter of hole counterbores.
    Counterbore,
    /// Distance between neighbouring holes ("spaced 50 mm apart").
    Pitch,
    /// "3 x 3 grid": rows × columns of holes (a keyword without a length).
    Grid,
    /// "1 inch square": both sides of a square section.
    Square,
    /// Diameter of a torus's tube.
    TubeDiameter,
    /// Radius of a torus's tube ("minor radius").
    TubeRadius,
    /// Diameter of the circle through a torus's tube centre ("major
    /// diameter").
    RingDiameter,
    /// Radius of that circle ("major radius").
    RingRadius,
}

impl Role {
    /// Words used when a value is reported back in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            Role::Diameter => "diameter",
            Role::Radius => "radius",
            Role::OuterDiameter => "outer diameter",
            Role::OuterRadius => "outer radius",
            Role::InnerDiameter => "inner diameter",
            Role::InnerRadius => "inner radius",
            Role::TopDiameter => "top diameter",
            Role::TopRadius => "top radius",
            Role::BottomDiameter => "bottom diameter",
            Role::BottomRadius => "bottom radius",
            Role::Length => "length",
            Role::Width => "width",
            Role::Height => "height",
            Role::Depth => "depth",
            Role::Thickness => "thickness",
            Role::Wall => "wall",
            Role::Floor => "floor",
            Role::Size => "side",
            Role::Hole => "hole diameter",
            Role::Bore => "bore",
            Role::BoltCircle => "bolt circle",
            Role::AcrossFlats => "across flats",
            Role::Module => "module",
            Role::PitchDiameter => "pitch diameter",
            Role::Inset => "hole inset",
            Role::Fillet => "fillet radius",
            Role::Chamfer => "chamfer",
            Role::Counterbore => "counterbore diameter",
            Role::Pitch => "hole spacing",
            Role::Grid => "grid",
            Role::Square => "square side",
            Role::TubeDiameter => "tube diameter",
            Role::TubeRadius => "tube radius",
            Role::RingDiameter => "ring diameter",
            Role::RingRadius => "ring radius",
        }
    }
}

/// On which side of its number a keyword may stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// "diameter 20" or "20 diameter".
    Either,
    /// Adjectives: "10 mm thick", "80 mm across".
    After,
    /// Comparatives, after their number: "20 mm wider" adds 20 mm.
    More,
    /// "5 mm thinner" takes 5 mm off.
    Less,
}

/// Things that are counted rather than measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    Holes,
    Teeth,
}

/// Which catalogue family a part noun belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Box,
    Plate,
    Cube,
    Cylinder,
    Tube,
    Sphere,
    Cone,
    Washer,
    Flange,
    Bracket,
    Gear,
    Nut,
    Standoff,
    Enclosure,
    Torus,
    /// Regular polygon prism; the sides come from the noun.
    Prism,
    Triangle,
    Trapezoid,
    LProfile,
    TProfile,
    Channel,
    /// Rectangular or square hollow section.
    RectTube,
}

/// A part noun as written ("rod", "disc"), kept for the summary sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartNoun {
    pub family: Family,
    pub word: &'static str,
}

/// Words that change a part without a number ("at the corners", "hex").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Corners,
    Hex,
    Round,
    Open,
    Through,
    Centre,
    VerticalEdges,
    TopEdges,
    BottomEdges,
    AllEdges,
    /// "edges" without saying which.
    Edges,
    Counterbored,
    /// "M6 tapped holes": the tap-drill hole, thread not modelled.
    Tapped,
    /// "move …": a follow-up that must name a direction.
    Move,
    /// A hole across the part without saying which way ("cross hole",
    /// "on the side", "horizontal").
    Across,
    /// Across a block along its length ("through the ends").
    Lengthwise,
    /// Across a block through its width ("front to back").
    FrontToBack,
    /// "two holes in each leg": a count per leg of a bracket.
    EachLeg,
    /// "a 40 x 20 mm rectangular hole (pocket, cutout)" at the centre of
    /// the top face, through unless it has a depth.
    RectCut,
    /// "a 10 mm square hole (pocket, cutout)".
    SquareCut,
    /// A feature the reader does not make ("a slot", "a keyway"): named in
    /// the refusal instead of being left out.
    Unsupported(&'static str),
    /// Follow-ups: "two more holes", "remove the fillet", "undo", moves.
    More,
    Remove,
    Undo,
    Left,
    Right,
    Up,
    Down,
    Add,
}

/// The meaning of a phrase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Meaning {
    Key(Role, Side),
    Count {
        what: Counted,
        plural: bool,
    },
    NumberWord(u32),
    /// "half", "twice": a factor relating two dimensions.
    Factor(f64),
    Part(PartNoun),
    Flag(Flag),
    /// "x" / "by": a dimension separator, only between numbers.
    Times,
    /// "with", "and", "on": a dimension never pairs across these.
    Block,
}

/// The word of the "circle" noun: a sketched cylinder, or after holes
/// ("four holes on a 60 mm circle") their bolt circle.
pub(crate) const CIRCLE: &str = "Circle";

const fn part(family: Family, word: &'static str) -> Meaning {
    Meaning::Part(PartNoun { family, word })
}

const fn key(role: Role) -> Meaning {
    Meaning::Key(role, Side::Either)
}

const fn after(role: Role) -> Meaning {
    Meaning::Key(role, Side::After)
}

const fn count(what: Counted, plural: bool) -> Meaning {
    Meaning::Count { what, plural }
}

/// Phrases, matched longest first. Hyphens split words, so "L-bracket" is
/// "l bracket".
const PHRASES: &[(&str, Meaning)] = &[
    // Parts.
    ("spur gear", part(Family::Gear, "Spur gear")),
    ("gear wheel", part(Family::Gear, "Spur gear")),
    ("gear", part(Family::Gear, "Spur gear")),
    ("cog", part(Family::Gear, "Spur gear")),
    ("cogwheel", part(Family::Gear, "Spur gear")),
    ("pinion", part(Family::Gear, "Spur gear")),
    ("hex nut", part(Family::Nut, "Hex nut")),
    ("hexagon nut", part(Family::Nut, "Hex nut")),
    ("hexagonal nut", part(Family::Nut, "Hex nut")),
    ("nut", part(Family::Nut, "Hex nut")),
    ("standoff", part(Family::Standoff, "Standoff")),
    ("standoffs", part(Family::Standoff, "Standoff")),
    ("stand off", part(Family::Standoff, "Standoff")),
    ("spacer", part(Family::Standoff, "Spacer")),
    ("spacer plate", part(Family::Plate, "Spacer plate")),
    ("spacer block", part(Family::Box, "Spacer block")),
    ("flange", part(Family::Flange, "Flange")),
    ("l bracket", part(Family::Bracket, "L-bracket")),
    ("angle bracket", part(Family::Bracket, "L-bracket")),
    ("bracket", part(Family::Bracket, "L-bracket")),
    ("enclosure", part(Family::Enclosure, "Enclosure")),
    ("open box", part(Family::Enclosure, "Open box")),
    ("project box", part(Family::Enclosure, "Enclosure")),
    ("housing", part(Family::Enclosure, "Enclosure")),
    ("tray", part(Family::Enclosure, "Tray")),
    ("washer", part(Family::Washer, "Washer")),
    ("ring", part(Family::Washer, "Ring")),
    ("tube", part(Family::Tube, "Tube")),
    ("pipe", part(Family::Tube, "Pipe")),
    ("hollow cylinder", part(Family::Tube, "Tube")),
    ("rectangular tube", part(Family::RectTube, "Rectangular tube")),
    ("rectangular tubing", part(Family::RectTube, "Rectangular tube")),
    ("rectangular pipe", part(Family::RectTube, "Rectangular tube")),
    ("rectangular hollow section", part(Family::RectTube, "Rectangular tube")),
    ("box section", part(Family::RectTube, "Rectangular tube")),
    ("rhs", part(Family::RectTube, "Rectangular tube")),
    ("square tube", part(Family::RectTube, "Square tube")),
    ("square tubing", part(Family::RectTube, "Square tube")),
    ("square hollow section", part(Family::RectTube, "Square tube")),
    ("shs", part(Family::RectTube, "Square tube")),
    ("bushing", part(Family::Tube, "Bushing")),
    ("sleeve", part(Family::Tube, "Sleeve")),
    ("cone", part(Family::Cone, "Cone")),
    ("truncated cone", part(Family::Cone, "Frustum")),
    ("frustum", part(Family::Cone, "Frustum")),
    ("sphere", part(Family::Sphere, "Sphere")),
    ("ball", part(Family::Sphere, "Ball")),
    ("cylinder", part(Family::Cylinder, "Cylinder")),
    ("rod", part(Family::Cylinder, "Rod")),
    ("round bar", part(Family::Cylinder, "Rod")),
    ("shaft", part(Family::Cylinder, "Shaft")),
    ("dowel", part(Family::Cylinder, "Dowel")),
    ("pin", part(Family::Cylinder, "Pin")),
    ("disc", part(Family::Cylinder, "Disc")),
    ("disk", part(Family::Cylinder, "Disc")),
    ("puck", part(Family::Cylinder, "Disc")),
    ("coin", part(Family::Cylinder, "Coin")),
    ("knob", part(Family::Cylinder, "Knob")),
    ("plate", part(Family::Plate, "Plate")),
    ("slab", part(Family::Plate, "Plate")),
    ("nameplate", part(Family::Plate, "Nameplate")),
    ("name plate", part(Family::Plate, "Nameplate")),
    ("flat bar", part(Family::Box, "Flat bar")),
    ("sheet", part(Family::Plate, "Plate")),
    ("box", part(Family::Box, "Box")),
    ("block", part(Family::Box, "Block")),
    ("cuboid", part(Family::Box, "Block")),
    ("brick", part(Family::Box, "Block")),
    ("bar", part(Family::Box, "Bar")),
    ("rectangular prism", part(Family::Box, "Block")),
    ("cube", part(Family::Cube, "Cube")),
    ("rectangle", part(Family::Box, "Block")),
    ("rectangular block", part(Family::Box, "Block")),
    ("rectangular plate", part(Family::Plate, "Plate")),
    ("square plate", part(Family::Plate, "Square plate")),
    ("square washer", part(Family::Plate, "Square washer")),
    ("square block", part(Family::Box, "Square block")),
    ("circle", part(Family::Cylinder, CIRCLE)),
    ("torus", part(Family::Torus, "Torus")),
    ("donut", part(Family::Torus, "Torus")),
    ("doughnut", part(Family::Torus, "Torus")),
    ("hexagonal prism", part(Family::Prism, "Hexagonal prism")),
    ("hex prism", part(Family::Prism, "Hexagonal prism")),
    ("hex bar", part(Family::Prism, "Hexagonal prism")),
    ("hexagonal bar", part(Family::Prism, "Hexagonal prism")),
    ("pentagonal prism", part(Family::Prism, "Pentagonal prism")),
    ("pentagon prism", part(Family::Prism, "Pentagonal prism")),
    ("hexagon prism", part(Family::Prism, "Hexagonal prism")),
    ("hexagon bar", part(Family::Prism, "Hexagonal prism")),
    ("octagon prism", part(Family::Prism, "Octagonal prism")),
    ("octagonal bar", part(Family::Prism, "Octagonal prism")),
    ("octagonal prism", part(Family::Prism, "Octagonal prism")),
    ("octagon", part(Family::Prism, "Octagonal prism")),
    ("square prism", part(Family::Prism, "Square prism")),
    ("triangular prism", part(Family::Triangle, "Triangular prism")),
    ("wedge", part(Family::Triangle, "Wedge")),
    ("trapezoid", part(Family::Trapezoid, "Trapezoidal prism")),
    ("trapezoidal prism", part(Family::Trapezoid, "Trapezoidal prism")),
    ("l profile", part(Family::LProfile, "L profile")),
    ("angle iron", part(Family::LProfile, "L profile")),
    ("angle bar", part(Family::LProfile, "Angle")),
    ("angle profile", part(Family::LProfile, "Angle")),
    ("angle section", part(Family::LProfile, "Angle")),
    ("equal angle", part(Family::LProfile, "Angle")),
    ("aluminium angle", part(Family::LProfile, "Angle")),
    ("aluminum angle", part(Family::LProfile, "Angle")),
    ("steel angle", part(Family::LProfile, "Angle")),
    ("l section", part(Family::LProfile, "L profile")),
    ("t section", part(Family::TProfile, "T profile")),
    ("u section", part(Family::Channel, "U channel")),
    ("c channel", part(Family::Channel, "U channel")),
    ("t profile", part(Family::TProfile, "T profile")),
    ("t beam", part(Family::TProfile, "T profile")),
    ("tee profile", part(Family::TProfile, "T profile")),
    ("u channel", part(Family::Channel, "U channel")),
    ("u profile", part(Family::Channel, "U channel")),
    ("channel", part(Family::Channel, "U channel")),
    // Diameters and radii.
    ("diameter", key(Role::Diameter)),
    ("dia", key(Role::Diameter)),
    ("diam", key(Role::Diameter)),
    ("in diameter", after(Role::Diameter)),
    // "80 mm across" is the overall size: the outer diameter of a ring.
    ("across", after(Role::OuterDiameter)),
    ("radius", key(Role::Radius)),
    ("in radius", after(Role::Radius)),
    ("outer diameter", key(Role::OuterDiameter)),
    ("outside diameter", key(Role::OuterDiameter)),
    ("external diameter", key(Role::OuterDiameter)),
    ("outer dia", key(Role::OuterDiameter)),
    ("outer", key(Role::OuterDiameter)),
    ("outside", key(Role::OuterDiameter)),
    ("od", key(Role::OuterDiameter)),
    ("o d", key(Role::OuterDiameter)),
    ("outer radius", key(Role::OuterRadius)),
    ("inner diameter", key(Role::InnerDiameter)),
    ("inside diameter", key(Role::InnerDiameter)),
    ("internal diameter", key(Role::InnerDiameter)),
    ("inner dia", key(Role::InnerDiameter)),
    ("inner", key(Role::InnerDiameter)),
    ("inside", key(Role::InnerDiameter)),
    ("id", key(Role::InnerDiameter)),
    ("i d", key(Role::InnerDiameter)),
    ("inner radius", key(Role::InnerRadius)),
    ("top diameter", key(Role::TopDiameter)),
    ("top dia", key(Role::TopDiameter)),
    ("upper diameter", key(Role::TopDiameter)),
    ("small diameter", key(Role::TopDiameter)),
    ("top", key(Role::TopDiameter)),
    ("top radius", key(Role::TopRadius)),
    ("bottom diameter", key(Role::BottomDiameter)),
    ("bottom dia", key(Role::BottomDiameter)),
    ("base diameter", key(Role::BottomDiameter)),
    ("lower diameter", key(Role::BottomDiameter)),
    ("large diameter", key(Role::BottomDiameter)),
    ("bottom", key(Role::BottomDiameter)),
    ("base", key(Role::BottomDiameter)),
    ("bottom radius", key(Role::BottomRadius)),
    ("base radius", key(Role::BottomRadius)),
    // Straight lengths.
    ("length", key(Role::Length)),
    ("long", after(Role::Length)),
    ("in length", after(Role::Length)),
    ("width", key(Role::Width)),
    ("wide", after(Role::Width)),
    ("in width", after(Role::Width)),
    ("height", key(Role::Height)),
    ("high", after(Role::Height)),
    ("tall", after(Role::Height)),
    ("in height", after(Role::Height)),
    ("depth", key(Role::Depth)),
    ("deep", after(Role::Depth)),
    ("thickness", key(Role::Thickness)),
    ("thk", key(Role::Thickness)),
    ("thick", after(Role::Thickness)),
    ("wall", key(Role::Wall)),
    ("walls", key(Role::Wall)),
    ("wall thickness", key(Role::Wall)),
    ("thick walls", after(Role::Wall)),
    ("thick wall", after(Role::Wall)),
    ("floor", key(Role::Floor)),
    ("floor thickness", key(Role::Floor)),
    ("thick floor", after(Role::Floor)),
    ("side", key(Role::Size)),
    ("each leg", Meaning::Flag(Flag::EachLeg)),
    ("per leg", Meaning::Flag(Flag::EachLeg)),
    ("both legs", Meaning::Flag(Flag::EachLeg)),
    ("either leg", Meaning::Flag(Flag::EachLeg)),
    ("legs", key(Role::Size)),
    ("leg", key(Role::Size)),
    ("leg length", key(Role::Size)),
    ("sides", key(Role::Size)),
    ("side length", key(Role::Size)),
    ("edge", key(Role::Size)),
    ("edge length", key(Role::Size)),
    // Holes, bores and patterns.
    ("hole diameter", key(Role::Hole)),
    ("hole size", key(Role::Hole)),
    ("bore", key(Role::Bore)),
    ("bore diameter", key(Role::Bore)),
    ("center bore", key(Role::Bore)),
    ("centre bore", key(Role::Bore)),
    ("central bore", key(Role::Bore)),
    ("center hole", key(Role::Bore)),
    ("centre hole", key(Role::Bore)),
    ("central hole", key(Role::Bore)),
    ("shaft hole", key(Role::Bore)),
    ("axle hole", key(Role::Bore)),
    ("bolt circle", key(Role::BoltCircle)),
    ("bolt circle diameter", key(Role::BoltCircle)),
    ("bolt hole circle", key(Role::BoltCircle)),
    ("bolt pattern", key(Role::BoltCircle)),
    ("pitch circle", key(Role::BoltCircle)),
    ("pitch circle diameter", key(Role::BoltCircle)),
    ("pcd", key(Role::BoltCircle)),
    ("bcd", key(Role::BoltCircle)),
    ("across flats", key(Role::AcrossFlats)),
    ("across the flats", key(Role::AcrossFlats)),
    ("across flat", key(Role::AcrossFlats)),
    ("af", key(Role::AcrossFlats)),
    ("a f", key(Role::AcrossFlats)),
    ("flats", key(Role::AcrossFlats)),
    ("wrench size", key(Role::AcrossFlats)),
    ("module", key(Role::Module)),
    ("pitch diameter", key(Role::PitchDiameter)),
    ("spaced", key(Role::Pitch)),
    ("spaced at", key(Role::Pitch)),
    ("apart", after(Role::Pitch)),
    ("pitch", key(Role::Pitch)),
    ("hole pitch", key(Role::Pitch)),
    ("spacing", key(Role::Pitch)),
    ("hole spacing", key(Role::Pitch)),
    ("on centres", after(Role::Pitch)),
    ("on centers", after(Role::Pitch)),
    ("grid", after(Role::Grid)),
    ("square", after(Role::Square)),
    ("hole circle", key(Role::BoltCircle)),
    ("hole circle diameter", key(Role::BoltCircle)),
    ("grid of", after(Role::Grid)),
    ("inset", key(Role::Inset)),
    ("edge distance", key(Role::Inset)),
    ("margin", key(Role::Inset)),
    ("from the edge", after(Role::Inset)),
    ("from the edges", after(Role::Inset)),
    ("from edges", after(Role::Inset)),
    ("from each edge", after(Role::Inset)),
    ("from the corners", after(Role::Inset)),
    ("from each corner", after(Role::Inset)),
    ("in from each corner", after(Role::Inset)),
    ("in from the corners", after(Role::Inset)),
    ("in from the edges", after(Role::Inset)),
    ("in from each edge", after(Role::Inset)),
    ("from the sides", after(Role::Inset)),
    // Edges and edge treatments.
    ("fillet", key(Role::Fillet)),
    ("fillets", key(Role::Fillet)),
    ("filleted", key(Role::Fillet)),
    ("fillet radius", key(Role::Fillet)),
    ("rounded", key(Role::Fillet)),
    ("rounded off", key(Role::Fillet)),
    ("radiused", key(Role::Fillet)),
    ("round the", key(Role::Fillet)),
    ("round off the", key(Role::Fillet)),
    ("fillet the", key(Role::Fillet)),
    ("chamfer the", key(Role::Chamfer)),
    ("bevel the", key(Role::Chamfer)),
    ("chamfer", key(Role::Chamfer)),
    ("chamfers", key(Role::Chamfer)),
    ("chamfered", key(Role::Chamfer)),
    ("bevel", key(Role::Chamfer)),
    ("bevelled", key(Role::Chamfer)),
    ("beveled", key(Role::Chamfer)),
    ("counterbore", key(Role::Counterbore)),
    ("counterbore diameter", key(Role::Counterbore)),
    ("counterbored", Meaning::Flag(Flag::Counterbored)),
    ("tapped", Meaning::Flag(Flag::Tapped)),
    ("cross", Meaning::Flag(Flag::Across)),
    ("cross drilled", Meaning::Flag(Flag::Across)),
    ("crosswise", Meaning::Flag(Flag::Across)),
    ("transverse", Meaning::Flag(Flag::Across)),
    ("horizontal", Meaning::Flag(Flag::Across)),
    ("horizontally", Meaning::Flag(Flag::Across)),
    ("sideways", Meaning::Flag(Flag::Across)),
    ("on the side", Meaning::Flag(Flag::Across)),
    ("in the side", Meaning::Flag(Flag::Across)),
    ("through the side", Meaning::Flag(Flag::Across)),
    ("from the side", Meaning::Flag(Flag::Across)),
    ("into the side", Meaning::Flag(Flag::Across)),
    ("through the ends", Meaning::Flag(Flag::Lengthwise)),
    ("end to end", Meaning::Flag(Flag::Lengthwise)),
    ("lengthwise", Meaning::Flag(Flag::Lengthwise)),
    ("along the length", Meaning::Flag(Flag::Lengthwise)),
    ("along its length", Meaning::Flag(Flag::Lengthwise)),
    ("through the length", Meaning::Flag(Flag::Lengthwise)),
    ("through its length", Meaning::Flag(Flag::Lengthwise)),
    ("through the width", Meaning::Flag(Flag::FrontToBack)),
    ("through its width", Meaning::Flag(Flag::FrontToBack)),
    ("front to back", Meaning::Flag(Flag::FrontToBack)),
    ("through the front", Meaning::Flag(Flag::FrontToBack)),
    ("from the front", Meaning::Flag(Flag::FrontToBack)),
    ("across the width", Meaning::Flag(Flag::FrontToBack)),
    ("threaded", Meaning::Flag(Flag::Tapped)),
    ("move", Meaning::Flag(Flag::Move)),
    ("shift", Meaning::Flag(Flag::Move)),
    ("counter bored", Meaning::Flag(Flag::Counterbored)),
    ("vertical edges", Meaning::Flag(Flag::VerticalEdges)),
    ("vertical edge", Meaning::Flag(Flag::VerticalEdges)),
    ("side edges", Meaning::Flag(Flag::VerticalEdges)),
    ("upright edges", Meaning::Flag(Flag::VerticalEdges)),
    ("top edges", Meaning::Flag(Flag::TopEdges)),
    // "a 5 mm chamfer on one end" of a shaft: its top.
    ("one end", Meaning::Flag(Flag::TopEdges)),
    ("top end", Meaning::Flag(Flag::TopEdges)),
    ("top edge", Meaning::Flag(Flag::TopEdges)),
    ("upper edges", Meaning::Flag(Flag::TopEdges)),
    ("upper edge", Meaning::Flag(Flag::TopEdges)),
    ("bottom edges", Meaning::Flag(Flag::BottomEdges)),
    ("bottom edge", Meaning::Flag(Flag::BottomEdges)),
    ("lower edges", Meaning::Flag(Flag::BottomEdges)),
    ("all edges", Meaning::Flag(Flag::AllEdges)),
    ("all the edges", Meaning::Flag(Flag::AllEdges)),
    ("all its edges", Meaning::Flag(Flag::AllEdges)),
    ("every edge", Meaning::Flag(Flag::AllEdges)),
    ("all round", Meaning::Flag(Flag::AllEdges)),
    ("edges", Meaning::Flag(Flag::Edges)),
    // Features the reader does not make: named in the refusal.
    ("each face", Meaning::Flag(Flag::Unsupported("holes through each face"))),
    (
        "every face",
        Meaning::Flag(Flag::Unsupported("holes through each face")),
    ),
    ("all faces", Meaning::Flag(Flag::Unsupported("holes through each face"))),
    (
        "off centre",
        Meaning::Flag(Flag::Unsupported("off centre without its position")),
    ),
    (
        "off center",
        Meaning::Flag(Flag::Unsupported("off centre without its position")),
    ),
    ("slot", Meaning::Flag(Flag::Unsupported("a slot"))),
    ("slots", Meaning::Flag(Flag::Unsupported("slots"))),
    ("slotted", Meaning::Flag(Flag::Unsupported("a slot"))),
    ("groove", Meaning::Flag(Flag::Unsupported("a groove"))),
    ("grooves", Meaning::Flag(Flag::Unsupported("grooves"))),
    ("pocket", Meaning::Flag(Flag::Unsupported("a pocket"))),
    ("pockets", Meaning::Flag(Flag::Unsupported("pockets"))),
    ("cutout", Meaning::Flag(Flag::Unsupported("a cutout"))),
    ("cutouts", Meaning::Flag(Flag::Unsupported("cutouts"))),
    ("cut out", Meaning::Flag(Flag::Unsupported("a cutout"))),
    ("notch", Meaning::Flag(Flag::Unsupported("a notch"))),
    ("notches", Meaning::Flag(Flag::Unsupported("notches"))),
    ("keyway", Meaning::Flag(Flag::Unsupported("a keyway"))),
    ("key way", Meaning::Flag(Flag::Unsupported("a keyway"))),
    ("thread", Meaning::Flag(Flag::Unsupported("a thread"))),
    ("threads", Meaning::Flag(Flag::Unsupported("a thread"))),
    ("knurl", Meaning::Flag(Flag::Unsupported("knurling"))),
    ("knurled", Meaning::Flag(Flag::Unsupported("knurling"))),
    ("rib", Meaning::Flag(Flag::Unsupported("a rib"))),
    ("ribs", Meaning::Flag(Flag::Unsupported("ribs"))),
    ("boss", Meaning::Flag(Flag::Unsupported("a boss"))),
    ("bosses", Meaning::Flag(Flag::Unsupported("bosses"))),
    ("countersunk", Meaning::Flag(Flag::Unsupported("a countersink"))),
    ("countersink", Meaning::Flag(Flag::Unsupported("a countersink"))),
    ("countersinks", Meaning::Flag(Flag::Unsupported("a countersink"))),
    ("spline", Meaning::Flag(Flag::Unsupported("a spline"))),
    ("splined", Meaning::Flag(Flag::Unsupported("a spline"))),
    ("engraved", Meaning::Flag(Flag::Unsupported("engraving"))),
    ("engrave", Meaning::Flag(Flag::Unsupported("engraving"))),
    ("embossed", Meaning::Flag(Flag::Unsupported("embossing"))),
    ("text", Meaning::Flag(Flag::Unsupported("text"))),
    ("logo", Meaning::Flag(Flag::Unsupported("a logo"))),
    ("square hole", Meaning::Flag(Flag::SquareCut)),
    ("square cutout", Meaning::Flag(Flag::SquareCut)),
    ("square cut out", Meaning::Flag(Flag::SquareCut)),
    ("square opening", Meaning::Flag(Flag::SquareCut)),
    ("square pocket", Meaning::Flag(Flag::SquareCut)),
    ("square recess", Meaning::Flag(Flag::SquareCut)),
    ("rectangular hole", Meaning::Flag(Flag::RectCut)),
    ("rectangular cutout", Meaning::Flag(Flag::RectCut)),
    ("rectangular cut out", Meaning::Flag(Flag::RectCut)),
    ("rectangular opening", Meaning::Flag(Flag::RectCut)),
    ("rectangular pocket", Meaning::Flag(Flag::RectCut)),
    ("rectangular recess", Meaning::Flag(Flag::RectCut)),
    ("square holes", Meaning::Flag(Flag::Unsupported("square holes"))),
    (
        "rectangular holes",
        Meaning::Flag(Flag::Unsupported("rectangular holes")),
    ),
    ("hexagonal hole", Meaning::Flag(Flag::Unsupported("a hexagonal hole"))),
    ("hex hole", Meaning::Flag(Flag::Unsupported("a hexagonal hole"))),
    ("taper", Meaning::Flag(Flag::Unsupported("a taper"))),
    ("tapered", Meaning::Flag(Flag::Unsupported("a taper"))),
    ("stepped", Meaning::Flag(Flag::Unsupported("a step"))),
    ("lip", Meaning::Flag(Flag::Unsupported("a lip"))),
    ("lid", Meaning::Flag(Flag::Unsupported("a lid"))),
    ("hinge", Meaning::Flag(Flag::Unsupported("a hinge"))),
    ("handle", Meaning::Flag(Flag::Unsupported("a handle"))),
    ("window", Meaning::Flag(Flag::Unsupported("a window"))),
    ("recess", Meaning::Flag(Flag::Unsupported("a recess"))),
    ("recessed", Meaning::Flag(Flag::Unsupported("a recess"))),
    // Sketch-and-extrude wording.
    ("extrude", key(Role::Height)),
    ("extruded", key(Role::Height)),
    ("extrusion", key(Role::Height)),
    ("extrude it", key(Role::Height)),
    ("extrude the sketch", key(Role::Height)),
    ("extrude the rectangle", key(Role::Height)),
    ("extrude the circle", key(Role::Height)),
    ("extrude it by", key(Role::Height)),
    ("extruded by", key(Role::Height)),
    ("extrude by", key(Role::Height)),
    ("top face", Meaning::Block),
    ("top surface", Meaning::Block),
    ("the top face", Meaning::Block),
    ("centre", Meaning::Flag(Flag::Centre)),
    ("center", Meaning::Flag(Flag::Centre)),
    ("middle", Meaning::Flag(Flag::Centre)),
    ("centred", Meaning::Flag(Flag::Centre)),
    ("down the middle", Meaning::Flag(Flag::Centre)),
    ("down the centre", Meaning::Flag(Flag::Centre)),
    ("down the center", Meaning::Flag(Flag::Centre)),
    ("centered", Meaning::Flag(Flag::Centre)),
    ("concentric", Meaning::Flag(Flag::Centre)),
    ("cut a circle", count(Counted::Holes, false)),
    ("cut out a circle", count(Counted::Holes, false)),
    ("cut a circular hole", count(Counted::Holes, false)),
    ("cut a concentric circle", count(Counted::Holes, false)),
    // Torus.
    ("tube diameter", key(Role::TubeDiameter)),
    ("cross section", key(Role::TubeDiameter)),
    ("section diameter", key(Role::TubeDiameter)),
    ("minor diameter", key(Role::TubeDiameter)),
    ("tube thickness", key(Role::TubeDiameter)),
    ("thick tube", after(Role::TubeDiameter)),
    ("minor radius", key(Role::TubeRadius)),
    ("tube radius", key(Role::TubeRadius)),
    ("section radius", key(Role::TubeRadius)),
    ("major diameter", key(Role::RingDiameter)),
    ("ring diameter", key(Role::RingDiameter)),
    ("mean diameter", key(Role::RingDiameter)),
    ("centreline diameter", key(Role::RingDiameter)),
    ("centerline diameter", key(Role::RingDiameter)),
    ("major radius", key(Role::RingRadius)),
    ("ring radius", key(Role::RingRadius)),
    ("mean radius", key(Role::RingRadius)),
    // Relations between dimensions.
    ("equal to", Meaning::Factor(1.0)),
    ("equal to its", Meaning::Factor(1.0)),
    ("the same as", Meaning::Factor(1.0)),
    ("same as", Meaning::Factor(1.0)),
    ("half", Meaning::Factor(0.5)),
    ("half of", Meaning::Factor(0.5)),
    ("one half", Meaning::Factor(0.5)),
    ("twice", Meaning::Factor(2.0)),
    ("halve", Meaning::Factor(0.5)),
    ("halve the", Meaning::Factor(0.5)),
    ("double the", Meaning::Factor(2.0)),
    ("double", Meaning::Factor(2.0)),
    ("three times", Meaning::Factor(3.0)),
    ("triple", Meaning::Factor(3.0)),
    ("four times", Meaning::Factor(4.0)),
    ("a third of", Meaning::Factor(1.0 / 3.0)),
    ("one third of", Meaning::Factor(1.0 / 3.0)),
    ("a third", Meaning::Factor(1.0 / 3.0)),
    ("a quarter of", Meaning::Factor(0.25)),
    ("a quarter", Meaning::Factor(0.25)),
    ("one quarter of", Meaning::Factor(0.25)),
    ("quarter", Meaning::Factor(0.25)),
    // Follow-ups.
    ("more", Meaning::Flag(Flag::More)),
    ("additional", Meaning::Flag(Flag::More)),
    ("extra", Meaning::Flag(Flag::More)),
    ("another", Meaning::Flag(Flag::More)),
    ("add", Meaning::Flag(Flag::Add)),
    ("remove", Meaning::Flag(Flag::Remove)),
    ("delete", Meaning::Flag(Flag::Remove)),
    ("without", Meaning::Flag(Flag::Remove)),
    ("drop", Meaning::Flag(Flag::Remove)),
    ("get rid of", Meaning::Flag(Flag::Remove)),
    ("undo", Meaning::Flag(Flag::Undo)),
    ("go back", Meaning::Flag(Flag::Undo)),
    ("revert", Meaning::Flag(Flag::Undo)),
    ("left", Meaning::Flag(Flag::Left)),
    ("to the left", Meaning::Flag(Flag::Left)),
    ("right", Meaning::Flag(Flag::Right)),
    ("to the right", Meaning::Flag(Flag::Right)),
    ("up", Meaning::Flag(Flag::Up)),
    ("upwards", Meaning::Flag(Flag::Up)),
    ("back", Meaning::Flag(Flag::Up)),
    ("backwards", Meaning::Flag(Flag::Up)),
    ("down", Meaning::Flag(Flag::Down)),
    ("downwards", Meaning::Flag(Flag::Down)),
    ("forward", Meaning::Flag(Flag::Down)),
    ("forwards", Meaning::Flag(Flag::Down)),
    ("longer", Meaning::Key(Role::Length, Side::More)),
    ("wider", Meaning::Key(Role::Width, Side::More)),
    ("taller", Meaning::Key(Role::Height, Side::More)),
    ("higher", Meaning::Key(Role::Height, Side::More)),
    ("thicker", Meaning::Key(Role::Thickness, Side::More)),
    ("deeper", Meaning::Key(Role::Depth, Side::More)),
    ("thinner", Meaning::Key(Role::Thickness, Side::Less)),
    ("shorter", Meaning::Key(Role::Length, Side::Less)),
    ("narrower", Meaning::Key(Role::Width, Side::Less)),
    // Counted things.
    ("hole", count(Counted::Holes, false)),
    ("holes", count(Counted::Holes, true)),
    ("bolt hole", count(Counted::Holes, false)),
    ("bolt holes", count(Counted::Holes, true)),
    ("mounting hole", count(Counted::Holes, false)),
    ("mounting holes", count(Counted::Holes, true)),
    ("screw hole", count(Counted::Holes, false)),
    ("screw holes", count(Counted::Holes, true)),
    ("bolts", count(Counted::Holes, true)),
    ("teeth", count(Counted::Teeth, true)),
    ("tooth", count(Counted::Teeth, false)),
    // Number words (only read as counts next to a counted noun).
    ("a", Meaning::NumberWord(1)),
    ("an", Meaning::NumberWord(1)),
    ("one", Meaning::NumberWord(1)),
    ("single", Meaning::NumberWord(1)),
    ("two", Meaning::NumberWord(2)),
    ("pair of", Meaning::NumberWord(2)),
    ("three", Meaning::NumberWord(3)),
    ("four", Meaning::NumberWord(4)),
    ("five", Meaning::NumberWord(5)),
    ("six", Meaning::NumberWord(6)),
    ("seven", Meaning::NumberWord(7)),
    ("eight", Meaning::NumberWord(8)),
    ("nine", Meaning::NumberWord(9)),
    ("ten", Meaning::NumberWord(10)),
    ("eleven", Meaning::NumberWord(11)),
    ("twelve", Meaning::NumberWord(12)),
    ("thirteen", Meaning::NumberWord(13)),
    ("fourteen", Meaning::NumberWord(14)),
    ("seventeen", Meaning::NumberWord(17)),
    ("nineteen", Meaning::NumberWord(19)),
    ("seventy", Meaning::NumberWord(70)),
    ("ninety", Meaning::NumberWord(90)),
    ("sixteen", Meaning::NumberWord(16)),
    ("twenty", Meaning::NumberWord(20)),
    ("thirty", Meaning::NumberWord(30)),
    ("forty", Meaning::NumberWord(40)),
    ("fifty", Meaning::NumberWord(50)),
    ("sixty", Meaning::NumberWord(60)),
    ("eighty", Meaning::NumberWord(80)),
    ("hundred", Meaning::NumberWord(100)),
    ("a hundred", Meaning::NumberWord(100)),
    ("one hundred", Meaning::NumberWord(100)),
    ("fifteen", Meaning::NumberWord(15)),
    ("eighteen", Meaning::NumberWord(18)),
    ("twenty four", Meaning::NumberWord(24)),
    ("thirty two", Meaning::NumberWord(32)),
    // Flags.
    ("corners", Meaning::Flag(Flag::Corners)),
    ("corner", Meaning::Flag(Flag::Corners)),
    ("four corners", Meaning::Flag(Flag::Corners)),
    ("hex", Meaning::Flag(Flag::Hex)),
    ("hexagon", Meaning::Flag(Flag::Hex)),
    ("hexagonal", Meaning::Flag(Flag::Hex)),
    ("round", Meaning::Flag(Flag::Round)),
    ("circular", Meaning::Flag(Flag::Round)),
    ("cylindrical", Meaning::Flag(Flag::Round)),
    ("open", Meaning::Flag(Flag::Open)),
    ("open top", Meaning::Flag(Flag::Open)),
    ("open topped", Meaning::Flag(Flag::Open)),
    ("hollow", Meaning::Flag(Flag::Open)),
    ("through", Meaning::Flag(Flag::Through)),
    ("thru", Meaning::Flag(Flag::Through)),
    // Separators.
    ("x", Meaning::Times),
    ("by", Meaning::Times),
    ("with", Meaning::Block),
    ("and", Meaning::Block),
    ("on", Meaning::Block),
    ("at", Meaning::Block),
    ("plus", Meaning::Block),
    ("having", Meaning::Block),
    ("has", Meaning::Block),
];

/// The longest phrase (up to four words) starting at `words[0]`, and how many
/// words it used. Unknown words have no meaning and are skipped by the caller.
pub(crate) fn lookup(words: &[&str]) -> Option<(Meaning, usize)> {
    let mut best: Option<(Meaning, usize)> = None;
    for &(phrase, meaning) in PHRASES {
        let parts = phrase.split(' ');
        let len = parts.clone().count();
        let fits = len <= words.len() && parts.zip(words).all(|(p, w)| p == *w);
        if fits && best.is_none_or(|(_, l)| len > l) {
            best = Some((meaning, len));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_longest_phrase() {
        assert_eq!(lookup(&["center", "hole", "8"]), Some((key(Role::Bore), 2)));
        assert_eq!(lookup(&["bolt", "circle"]), Some((key(Role::BoltCircle), 2)));
        assert_eq!(lookup(&["hole"]), Some((count(Counted::Holes, false), 1)));
        assert_eq!(lookup(&["dragon"]), None);
    }

    #[test]
    fn converts_units() {
        assert_eq!(Unit::In.to_mm(1.0), 25.4);
        assert_eq!(Unit::Cm.to_mm(2.0), 20.0);
        assert_eq!(Unit::from_word("inches"), Some(Unit::In));
    }
}
