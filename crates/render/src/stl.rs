//! Reading an STL mesh, binary or ASCII, within bounds: the file was written
//! by a run of an untrusted script, so its size, its triangle count and its
//! numbers are all checked before anything is allocated or drawn.

use crate::RenderError;

/// A point in model units (millimetres here).
pub type Point = [f32; 3];
/// Three corners, in the file's order.
pub type Triangle = [Point; 3];

/// The most triangles a picture is drawn from. The worker's exports are
/// meshed with a deflection that keeps ordinary parts far below this (tens
/// of thousands); a binary STL this large is already 200 MB.
pub const MAX_TRIANGLES: usize = 4_000_000;

const HEADER: usize = 80;
const RECORD: usize = 50;

/// The triangles of an STL file. Triangles with a coordinate that is not a
/// finite number are left out; a file with none left is an error.
pub fn read(bytes: &[u8]) -> Result<Vec<Triangle>, RenderError> {
    let triangles = match binary_count(bytes) {
        Some(count) => binary(bytes, count)?,
        None => ascii(bytes)?,
    };
    if triangles.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(triangles)
}

/// The triangle count of a binary STL, when the file's length is exactly
/// what that count needs (an ASCII file may also begin with "solid", and a
/// binary header may too, so the length decides).
fn binary_count(bytes: &[u8]) -> Option<usize> {
    let count = u32::from_le_bytes(bytes.get(HEADER..HEADER + 4)?.try_into().ok()?) as u64;
    (bytes.len() as u64 == (HEADER + 4) as u64 + RECORD as u64 * count).then_some(count as usize)
}

fn binary(bytes: &[u8], count: usize) -> Result<Vec<Triangle>, RenderError> {
    if count > MAX_TRIANGLES {
        return Err(RenderError::TooManyTriangles { count });
    }
    let f = |r: &[u8], o: usize| f32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
    let point = |r: &[u8], o: usize| [f(r, o), f(r, o + 4), f(r, o + 8)];
    Ok(bytes[HEADER + 4..]
        .chunks_exact(RECORD)
        // 12 bytes of facet normal (recomputed from the corners), then the corners.
        .map(|r| [point(r, 12), point(r, 24), point(r, 36)])
        .filter(finite)
        .collect())
}

fn ascii(bytes: &[u8]) -> Result<Vec<Triangle>, RenderError> {
    let text = std::str::from_utf8(bytes).map_err(|_| RenderError::NotStl)?;
    if !text.trim_start().starts_with("solid") {
        return Err(RenderError::NotStl);
    }
    let mut corners: Vec<Point> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("vertex") else {
            continue;
        };
        if corners.len() >= MAX_TRIANGLES * 3 {
            return Err(RenderError::TooManyTriangles {
                count: corners.len() / 3 + 1,
            });
        }
        let mut numbers = rest.split_whitespace().map(str::parse::<f32>);
        let mut next = || match numbers.next() {
            Some(Ok(x)) => Ok(x),
            _ => Err(RenderError::Malformed(format!(
                "a vertex line without three numbers: {:.80}",
                line.trim()
            ))),
        };
        corners.push([next()?, next()?, next()?]);
    }
    if !corners.len().is_multiple_of(3) {
        return Err(RenderError::Malformed(format!(
            "{} vertices do not make whole triangles",
            corners.len()
        )));
    }
    Ok(corners
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .filter(finite)
        .collect())
}

fn finite(t: &Triangle) -> bool {
    t.iter().flatten().all(|x| x.is_finite())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A binary STL of the given triangles.
    pub fn binary_stl(triangles: &[Triangle]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER];
        out.extend((triangles.len() as u32).to_le_bytes());
        for t in triangles {
            out.extend([0u8; 12]);
            for x in t.iter().flatten() {
                out.extend(x.to_le_bytes());
            }
            out.extend([0u8; 2]);
        }
        out
    }

    const ONE: Triangle = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];

    #[test]
    fn binary_and_ascii_files_are_read() {
        assert_eq!(read(&binary_stl(&[ONE, ONE])).unwrap(), vec![ONE, ONE]);
        let ascii = "solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n   vertex 0 1 0\n  endloop\n endfacet\nendsolid x\n";
        assert_eq!(read(ascii.as_bytes()).unwrap(), vec![ONE]);
    }

    #[test]
    fn a_binary_header_that_says_solid_is_still_binary() {
        let mut bytes = binary_stl(&[ONE]);
        bytes[..5].copy_from_slice(b"solid");
        assert_eq!(read(&bytes).unwrap(), vec![ONE]);
    }

    #[test]
    fn hostile_files_are_refused_without_allocating_their_claims() {
        // A count of four billion triangles in a file of 84 bytes.
        let mut lying = vec![0u8; 84];
        lying[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read(&lying), Err(RenderError::NotStl)));
        assert!(matches!(read(b""), Err(RenderError::NotStl)));
        assert!(matches!(read(&[0xff; 200]), Err(RenderError::NotStl)));
        assert!(matches!(
            read(b"solid x\n vertex 0 0 zero\n"),
            Err(RenderError::Malformed(_))
        ));
        assert!(matches!(
            read(b"solid x\n vertex 0 0 0\n"),
            Err(RenderError::Malformed(_))
        ));
        assert!(matches!(read(b"solid x\nendsolid x\n"), Err(RenderError::Empty)));
        let nan = [[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        assert_eq!(read(&binary_stl(&[nan, ONE])).unwrap(), vec![ONE]);
        assert!(matches!(read(&binary_stl(&[nan])), Err(RenderError::Empty)));
    }
}
