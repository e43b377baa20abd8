//! Standard metric fastener sizes used when a prompt names a thread ("M8").
//!
//! Nuts follow DIN 934 (across flats, height), washers ISO 7089, clearance
//! holes ISO 273 "medium", tap drills the usual coarse-thread sizes.

/// Dimensions derived from a metric thread size, all in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Metric {
    pub size: f64,
    pub nut_across_flats: f64,
    pub nut_height: f64,
    pub tap_drill: f64,
    pub clearance: f64,
    pub washer_inner: f64,
    pub washer_outer: f64,
    pub washer_thickness: f64,
    /// Counterbore for a socket head cap screw (ISO 4762).
    pub counterbore_diameter: f64,
    pub counterbore_depth: f64,
}

const fn m(size: f64, af: f64, height: f64, tap: f64, clear: f64, w: [f64; 3], cb: [f64; 2]) -> Metric {
    Metric {
        size,
        nut_across_flats: af,
        nut_height: height,
        tap_drill: tap,
        clearance: clear,
        washer_inner: w[0],
        washer_outer: w[1],
        washer_thickness: w[2],
        counterbore_diameter: cb[0],
        counterbore_depth: cb[1],
    }
}

const TABLE: &[Metric] = &[
    m(2.0, 4.0, 1.6, 1.6, 2.4, [2.2, 5.0, 0.3], [4.4, 2.3]),
    m(2.5, 5.0, 2.0, 2.05, 2.9, [2.7, 6.0, 0.5], [5.5, 2.8]),
    m(3.0, 5.5, 2.4, 2.5, 3.4, [3.2, 7.0, 0.5], [6.5, 3.4]),
    m(4.0, 7.0, 3.2, 3.3, 4.5, [4.3, 9.0, 0.8], [8.0, 4.4]),
    m(5.0, 8.0, 4.0, 4.2, 5.5, [5.3, 10.0, 1.0], [10.0, 5.4]),
    m(6.0, 10.0, 5.0, 5.0, 6.6, [6.4, 12.0, 1.6], [11.0, 6.4]),
    m(8.0, 13.0, 6.5, 6.8, 9.0, [8.4, 16.0, 1.6], [15.0, 8.6]),
    m(10.0, 17.0, 8.0, 8.5, 11.0, [10.5, 20.0, 2.0], [18.0, 10.6]),
    m(12.0, 19.0, 10.0, 10.2, 13.5, [13.0, 24.0, 2.5], [20.0, 12.6]),
    m(16.0, 24.0, 13.0, 14.0, 17.5, [17.0, 30.0, 3.0], [26.0, 16.6]),
    m(20.0, 30.0, 16.0, 17.5, 22.0, [21.0, 37.0, 3.0], [33.0, 20.6]),
    m(24.0, 36.0, 19.0, 21.0, 26.0, [25.0, 44.0, 4.0], [40.0, 24.8]),
];

/// The standard sizes for `M<size>`, if it is a size in the table.
pub(crate) fn lookup(size: f64) -> Option<Metric> {
    TABLE.iter().find(|m| (m.size - size).abs() < 1e-9).copied()
}

/// "M2, M2.5, …" for error messages.
pub(crate) fn known_sizes() -> String {
    let names: Vec<String> = TABLE
        .iter()
        .map(|m| format!("M{}", crate::compile::human(m.size)))
        .collect();
    names.join(", ")
}
