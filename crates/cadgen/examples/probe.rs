use std::io::BufRead;
fn main() {
    let mut ok = 0; let mut total = 0;
    for line in std::io::stdin().lock().lines() {
        let p = line.unwrap(); total += 1;
        if let Ok(g) = cadgen::generate(&p) { ok += 1; println!("{p}\n    => {} | {}", g.part, g.summary); }
    }
    eprintln!("accepted {ok}/{total}");
}
