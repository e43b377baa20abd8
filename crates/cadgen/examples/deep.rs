fn main() {
    let kind = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let src = match kind.as_str() {
        "add" => format!("x = 1{}", "+1".repeat(n)),
        "attr" => format!("x = a{}", ".b".repeat(n)),
        "neg" => format!("x = {}1", "-".repeat(n)),
        "not" => format!("x = {}1", "not ".repeat(n)),
        "paren" => format!("x = {}1{}", "(".repeat(n), ")".repeat(n)),
        "list" => format!("x = {}1{}", "[".repeat(n), "]".repeat(n)),
        "call" => format!("x = f{}", "()".repeat(n)),
        "pow" => format!("x = 2{}", "**2".repeat(n)),
        "ifelse" => format!("x = {}1", "1 if 1 else ".repeat(n)),
        "lambda" => format!("x = {}1", "lambda: ".repeat(n)),
        "indent" => (0..n).map(|i| format!("{}if 1:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(n) + "pass\n",
        _ => panic!(),
    };
    let src = src.chars().take(256 * 1024).collect::<String>();
    let h = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        let r = cadgen::check_script(&src);
        match r { Ok(()) => "ok".to_string(), Err(v) => format!("{} violations, first: {}", v.len(), v[0]) }
    }).unwrap();
    println!("{kind} {n}: {}", h.join().unwrap());
}
