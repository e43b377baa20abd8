fn main() {
    let p = std::env::args().nth(1).unwrap();
    print!("{}", cadgen::generate(&p).unwrap().script);
}
