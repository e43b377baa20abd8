fn main() {
    for p in std::env::args().skip(1) {
        match cadgen::generate(&p) {
            Ok(g) => println!("{p}\n  part={} vol={:.3} params={:?}\n  {}\n", g.part, g.expected_volume_mm3, g.parameters, g.summary),
            Err(e) => println!("{p}\n  ERR {} (part {:?})\n", e.reason, e.part),
        }
    }
}
