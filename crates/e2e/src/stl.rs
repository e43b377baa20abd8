//! The volume of an exported mesh — STL (ASCII or binary), binary glTF
//! (GLB) or 3MF — read here without FreeCAD: the sum of the signed volumes
//! of the tetrahedra each triangle forms with the origin.

type V = [f64; 3];

fn signed(a: V, b: V, c: V) -> f64 {
    (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0
}

fn triangles(bytes: &[u8]) -> Option<Vec<[V; 3]>> {
    let is_ascii = bytes.starts_with(b"solid") && std::str::from_utf8(bytes).is_ok_and(|t| t.contains("facet"));
    if is_ascii {
        let text = std::str::from_utf8(bytes).ok()?;
        let vertices: Vec<V> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("vertex "))
            .map(|rest| {
                let n: Vec<f64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                [n[0], n[1], n[2]]
            })
            .collect();
        return Some(vertices.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect());
    }
    let count = u32::from_le_bytes(bytes.get(80..84)?.try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let rec = bytes.get(84 + i * 50..84 + (i + 1) * 50)?;
        let f = |o: usize| f32::from_le_bytes(rec[o..o + 4].try_into().unwrap()) as f64;
        let v = |o: usize| [f(o), f(o + 4), f(o + 8)];
        out.push([v(12), v(24), v(36)]);
    }
    Some(out)
}

/// Volume in the mesh's units (mm³ here); `None` for a file that is not STL.
pub fn volume(bytes: &[u8]) -> Option<f64> {
    let tris = triangles(bytes)?;
    if tris.is_empty() {
        return None;
    }
    Some(tris.iter().map(|[a, b, c]| signed(*a, *b, *c)).sum::<f64>().abs())
}

fn closed_volume(tris: impl Iterator<Item = [V; 3]>) -> Option<f64> {
    let mut n = 0;
    let v: f64 = tris.inspect(|_| n += 1).map(|[a, b, c]| signed(a, b, c)).sum();
    (n > 0).then_some(v.abs())
}

/// Volume of a GLB's first mesh primitive (float positions, u16/u32
/// indices), converted from glTF's metres to mm³.
pub fn glb_volume(bytes: &[u8]) -> Option<f64> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?) as usize);
    if bytes.get(0..4)? != b"glTF" || u32_at(4)? != 2 {
        return None;
    }
    let json_len = u32_at(12)?;
    let gltf: serde_json::Value = serde_json::from_slice(bytes.get(20..20 + json_len)?).ok()?;
    let bin_at = 20 + json_len;
    let bin_len = u32_at(bin_at)?;
    let bin = bytes.get(bin_at + 8..bin_at + 8 + bin_len)?;
    let primitive = &gltf["meshes"][0]["primitives"][0];
    let view = |accessor: &serde_json::Value| -> Option<(&[u8], u64, usize)> {
        let v = &gltf["bufferViews"][accessor["bufferView"].as_u64()? as usize];
        let start = (v["byteOffset"].as_u64().unwrap_or(0) + accessor["byteOffset"].as_u64().unwrap_or(0)) as usize;
        let len = v["byteLength"].as_u64()? as usize;
        Some((
            bin.get(start..start + len.min(bin.len() - start))?,
            accessor["componentType"].as_u64()?,
            accessor["count"].as_u64()? as usize,
        ))
    };
    let (pos, kind, count) = view(&gltf["accessors"][primitive["attributes"]["POSITION"].as_u64()? as usize])?;
    if kind != 5126 {
        return None;
    }
    let f = |i: usize| f32::from_le_bytes(pos[i * 4..i * 4 + 4].try_into().unwrap()) as f64 * 1000.0;
    let points: Vec<V> = (0..count).map(|i| [f(3 * i), f(3 * i + 1), f(3 * i + 2)]).collect();
    let (idx, kind, count) = view(&gltf["accessors"][primitive["indices"].as_u64()? as usize])?;
    let index = |i: usize| -> Option<usize> {
        Some(match kind {
            5125 => u32::from_le_bytes(idx.get(i * 4..i * 4 + 4)?.try_into().ok()?) as usize,
            5123 => u16::from_le_bytes(idx.get(i * 2..i * 2 + 2)?.try_into().ok()?) as usize,
            _ => return None,
        })
    };
    let tris: Option<Vec<[V; 3]>> = (0..count / 3)
        .map(|t| {
            Some([
                *points.get(index(3 * t)?)?,
                *points.get(index(3 * t + 1)?)?,
                *points.get(index(3 * t + 2)?)?,
            ])
        })
        .collect();
    closed_volume(tris?.into_iter())
}

/// Volume of a 3MF's mesh in its declared unit, and that unit
/// (`millimeter` by default).
pub fn threemf_volume(bytes: &[u8]) -> Option<(f64, String)> {
    let model = zip_entry(bytes, "3D/3dmodel.model")?;
    let text = String::from_utf8(model).ok()?;
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[start..].split('"').next()?.parse().ok()
    };
    let unit = text
        .split("<model")
        .nth(1)
        .and_then(|m| m.split(" unit=\"").nth(1))
        .and_then(|u| u.split('"').next())
        .unwrap_or("millimeter")
        .to_owned();
    let tags = |name: &str| {
        text.split(&format!("<{name} "))
            .skip(1)
            .map(|t| format!(" {}", t.split('>').next().unwrap_or("")))
            .collect::<Vec<_>>()
    };
    let points: Option<Vec<V>> = tags("vertex")
        .iter()
        .map(|t| Some([attr(t, "x")?, attr(t, "y")?, attr(t, "z")?]))
        .collect();
    let points = points?;
    let tris: Option<Vec<[V; 3]>> = tags("triangle")
        .iter()
        .map(|t| {
            let p = |n: &str| points.get(attr(t, n)? as usize).copied();
            Some([p("v1")?, p("v2")?, p("v3")?])
        })
        .collect();
    Some((closed_volume(tris?.into_iter())?, unit))
}

/// One file of a zip archive, found through its central directory.
fn zip_entry(zip: &[u8], wanted: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let u16_at = |o: usize| Some(u16::from_le_bytes(zip.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(zip.get(o..o + 4)?.try_into().ok()?) as usize);
    let end = (0..zip.len().saturating_sub(21))
        .rev()
        .find(|&o| zip[o..].starts_with(b"PK\x05\x06"))?;
    let (entries, mut at) = (u16_at(end + 10)?, u32_at(end + 16)?);
    for _ in 0..entries {
        if !zip.get(at..)?.starts_with(b"PK\x01\x02") {
            return None;
        }
        let (method, size, name_len) = (u16_at(at + 10)?, u32_at(at + 20)?, u16_at(at + 28)?);
        let (extra_len, comment_len, local) = (u16_at(at + 30)?, u16_at(at + 32)?, u32_at(at + 42)?);
        let name = zip.get(at + 46..at + 46 + name_len)?;
        if name == wanted.as_bytes() {
            let data_at = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
            let data = zip.get(data_at..data_at + size)?;
            let mut out = Vec::new();
            match method {
                0 => out.extend_from_slice(data),
                8 => {
                    flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).ok()?;
                }
                _ => return None,
            }
            return Some(out);
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_cube() {
        let quad = |a: [f64; 3], b: [f64; 3], c: [f64; 3], d: [f64; 3]| {
            format!(
                "facet normal 0 0 0\nouter loop\nvertex {} {} {}\nvertex {} {} {}\nvertex {} {} {}\nendloop\nendfacet\nfacet normal 0 0 0\nouter loop\nvertex {} {} {}\nvertex {} {} {}\nvertex {} {} {}\nendloop\nendfacet\n",
                a[0], a[1], a[2], b[0], b[1], b[2], c[0], c[1], c[2], a[0], a[1], a[2], c[0], c[1], c[2], d[0], d[1], d[2]
            )
        };
        let p = |x: f64, y: f64, z: f64| [x, y, z];
        let mut s = String::from("solid cube\n");
        s += &quad(p(0., 0., 0.), p(0., 1., 0.), p(1., 1., 0.), p(1., 0., 0.));
        s += &quad(p(0., 0., 1.), p(1., 0., 1.), p(1., 1., 1.), p(0., 1., 1.));
        s += &quad(p(0., 0., 0.), p(1., 0., 0.), p(1., 0., 1.), p(0., 0., 1.));
        s += &quad(p(0., 1., 0.), p(0., 1., 1.), p(1., 1., 1.), p(1., 1., 0.));
        s += &quad(p(0., 0., 0.), p(0., 0., 1.), p(0., 1., 1.), p(0., 1., 0.));
        s += &quad(p(1., 0., 0.), p(1., 1., 0.), p(1., 1., 1.), p(1., 0., 1.));
        s += "endsolid cube\n";
        let v = super::volume(s.as_bytes()).unwrap();
        assert!((v - 1.0).abs() < 1e-9, "{v}");
    }
}
