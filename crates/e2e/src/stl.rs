//! The volume of an STL mesh, ASCII or binary: the sum of the signed
//! volumes of the tetrahedra each triangle forms with the origin.

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
