//! Pictures of a model, drawn without a GPU or a display: the worker turns
//! the STL a run exported into a PNG — isometric, shaded, edges drawn, over a
//! transparent background, the part framed to fill it.
//!
//! ```
//! # fn demo(stl: &[u8]) -> Result<(), render::RenderError> {
//! let png = render::picture(stl, render::Options::default())?;
//! # let _ = png; Ok(()) }
//! ```
//!
//! The STL comes from an untrusted script's run, so reading it is bounded
//! ([`stl::MAX_TRIANGLES`], non-finite numbers dropped, a file's claims
//! checked against its length) and the picture's size is the caller's, not
//! the file's. The crate does no I/O.

mod raster;
pub mod stl;

pub use raster::CREASE_DEGREES;

/// Why no picture could be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the mesh is not an STL file")]
    NotStl,
    #[error("the STL file is malformed: {0}")]
    Malformed(String),
    #[error("the mesh has no triangles to draw")]
    Empty,
    #[error(
        "the mesh has {count} triangles, more than the {} a picture is drawn from",
        stl::MAX_TRIANGLES
    )]
    TooManyTriangles { count: usize },
    #[error("a picture of {width} × {height} pixels is outside 16 to {max} on each side", max = Options::MAX_SIDE)]
    BadSize { width: u32, height: u32 },
    #[error("encoding the PNG failed: {0}")]
    Encode(String),
}

/// The picture's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub width: u32,
    pub height: u32,
}

impl Options {
    /// The size of the picture of every version.
    pub const DEFAULT_SIDE: u32 = 512;
    pub const MIN_SIDE: u32 = 16;
    pub const MAX_SIDE: u32 = 2048;

    fn check(self) -> Result<Self, RenderError> {
        let ok = |side| (Self::MIN_SIDE..=Self::MAX_SIDE).contains(&side);
        if ok(self.width) && ok(self.height) {
            Ok(self)
        } else {
            Err(RenderError::BadSize {
                width: self.width,
                height: self.height,
            })
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: Self::DEFAULT_SIDE,
            height: Self::DEFAULT_SIDE,
        }
    }
}

/// An RGBA picture, 8 bits a channel, rows top to bottom, straight alpha.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let o = (y as usize * self.width as usize + x as usize) * 4;
        [self.rgba[o], self.rgba[o + 1], self.rgba[o + 2], self.rgba[o + 3]]
    }

    pub fn to_png(&self) -> Result<Vec<u8>, RenderError> {
        let encode = |e: png::EncodingError| RenderError::Encode(e.to_string());
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        // A part's picture is large flat areas: the fast encoder keeps it
        // small at a fraction of the default's time.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(encode)?;
        writer.write_image_data(&self.rgba).map_err(encode)?;
        writer.finish().map_err(encode)?;
        Ok(out)
    }
}

/// Draws triangles (model units, any winding).
pub fn render(triangles: &[stl::Triangle], options: Options) -> Result<Image, RenderError> {
    let options = options.check()?;
    if triangles.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(raster::render(triangles, options))
}

/// The PNG picture of an STL file.
pub fn picture(stl: &[u8], options: Options) -> Result<Vec<u8>, RenderError> {
    let options = options.check()?;
    render(&stl::read(stl)?, options)?.to_png()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use stl::Triangle;

    /// The twelve triangles of an axis-aligned box.
    fn cuboid(low: [f32; 3], high: [f32; 3]) -> Vec<Triangle> {
        let corner = |i: usize| -> [f32; 3] { std::array::from_fn(|k| if i >> k & 1 == 1 { high[k] } else { low[k] }) };
        // Each face as four corner indices (bits: x, y, z) around it.
        let faces = [
            [0, 2, 6, 4],
            [1, 5, 7, 3],
            [0, 4, 5, 1],
            [2, 3, 7, 6],
            [0, 1, 3, 2],
            [4, 6, 7, 5],
        ];
        faces
            .iter()
            .flat_map(|f| {
                [
                    [corner(f[0]), corner(f[1]), corner(f[2])],
                    [corner(f[0]), corner(f[2]), corner(f[3])],
                ]
            })
            .collect()
    }

    /// Opaque colours and how many pixels have each.
    fn shades(image: &Image) -> HashMap<[u8; 3], usize> {
        let mut counts = HashMap::new();
        for px in image.rgba.chunks_exact(4).filter(|p| p[3] == 255) {
            *counts.entry([px[0], px[1], px[2]]).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn a_cube_in_isometric_view_shows_three_faces_in_three_shades() {
        let image = render(&cuboid([0.0; 3], [10.0; 3]), Options::default()).unwrap();
        let counts = shades(&image);
        let mut big: Vec<(&[u8; 3], &usize)> = counts.iter().filter(|(_, n)| **n > 10_000).collect();
        big.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        assert_eq!(big.len(), 3, "three large flat faces: {big:?}");
        // Isometric: the three visible faces are the same size on screen.
        let (most, least) = (*big[0].1 as f64, *big[2].1 as f64);
        assert!(least / most > 0.9, "{big:?}");
        // Top brightest, then the right side, then the front.
        let brightness = |c: &[u8; 3]| c.iter().map(|&x| x as u32).sum::<u32>();
        let mut levels: Vec<u32> = big.iter().map(|(c, _)| brightness(c)).collect();
        levels.dedup();
        assert_eq!(levels.len(), 3, "{big:?}");
        // The cube's centre is the picture's centre; its corners are background.
        assert_eq!(image.pixel(256, 256)[3], 255);
        assert_eq!(image.pixel(0, 0)[3], 0);
        assert_eq!(image.pixel(511, 511)[3], 0);
    }

    #[test]
    fn edges_and_outline_are_drawn_darker_than_any_face() {
        let image = render(&cuboid([0.0; 3], [10.0; 3]), Options::default()).unwrap();
        let counts = shades(&image);
        let darkest_face = counts
            .iter()
            .filter(|(_, n)| **n > 10_000)
            .map(|(c, _)| c.iter().map(|&x| x as u32).sum::<u32>())
            .min()
            .unwrap();
        let dark = image
            .rgba
            .chunks_exact(4)
            .filter(|p| p[3] > 0 && p[..3].iter().map(|&x| x as u32).sum::<u32>() < darkest_face * 3 / 4)
            .count();
        // The outline (a hexagon) and the three inner edges: a pixel wide,
        // some 1600 pixels long in all.
        assert!(dark > 1000, "{dark} dark pixels");
        // A vertical column through the centre meets the outline at the top,
        // the top face, the inner edge where top meets front and right, the
        // vertical inner edge, and the outline at the bottom.
        let column: Vec<u8> = (0..512).map(|y| image.pixel(256, y)[0]).collect();
        let first = column.iter().position(|&r| r > 0).unwrap();
        assert!(column[first] < 80, "outline at the top: {}", column[first]);
    }

    #[test]
    fn the_part_fills_the_picture_whatever_its_size_or_place() {
        let small = render(&cuboid([1000.0; 3], [1000.5; 3]), Options::default()).unwrap();
        let big = render(&cuboid([0.0; 3], [5000.0; 3]), Options::default()).unwrap();
        let covered = |i: &Image| i.rgba.chunks_exact(4).filter(|p| p[3] > 0).count();
        let (a, b) = (covered(&small) as f64, covered(&big) as f64);
        assert!((a - b).abs() / b < 0.01, "{a} vs {b}");
        assert!(b > 0.5 * 512.0 * 512.0, "{b}");
    }

    #[test]
    fn a_flat_plate_and_a_degenerate_mesh_still_draw() {
        let plate = render(&cuboid([0.0; 3], [100.0, 60.0, 0.0]), Options::default()).unwrap();
        assert!(plate.rgba.chunks_exact(4).any(|p| p[3] == 255));
        let line: Vec<Triangle> = vec![[[0.0; 3], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]];
        let nothing = render(&line, Options::default()).unwrap();
        assert!(nothing.rgba.iter().all(|&x| x == 0));
    }

    #[test]
    fn the_png_has_the_asked_size_and_sizes_are_bounded() {
        let stl = stl::tests::binary_stl(&cuboid([0.0; 3], [10.0, 20.0, 5.0]));
        let png = picture(
            &stl,
            Options {
                width: 800,
                height: 600,
            },
        )
        .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (800, 600));
        assert_eq!(info.color_type, png::ColorType::Rgba);
        for (width, height) in [(0, 512), (512, 100_000), (8, 8)] {
            assert!(matches!(
                picture(&stl, Options { width, height }),
                Err(RenderError::BadSize { .. })
            ));
        }
    }
}
