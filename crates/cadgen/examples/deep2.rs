use rustpython_parser::{ast, Parse};
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let stage = std::env::args().nth(2).unwrap();
    let src = (0..n).map(|i| format!("{}if 1:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(n) + "pass\n";
    let h = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        if stage == "parse" {
            let s = ast::Suite::parse(&src, "x").unwrap();
            std::mem::forget(s);
            "parsed".to_string()
        } else if stage == "drop" {
            let s = ast::Suite::parse(&src, "x").unwrap();
            drop(s);
            "dropped".to_string()
        } else {
            format!("{:?}", cadgen::check_script(&src).err().map(|v| v[0].to_string()))
        }
    }).unwrap();
    println!("{n} {}", h.join().unwrap());
}
